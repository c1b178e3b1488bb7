"""A receiver restarted on another machine does not count what it got before as lost.

Frames of an edge between machines carry the sender's sequence numbers; a receiving link counts
a gap as messages lost on the way (the run's drop report). A restarted receiver's new link
started from 0 and counted every message the sender had sent before the restart as lost (the
first number it saw, minus one): a wrong drop report after every restart. It now starts from
the first number it sees after a restart, and what the sender sent while the receiver was down
is counted by the sender, as on one machine.
"""

from __future__ import annotations

from pathlib import Path

from cluster_env import Cluster, result, write

GRAPH = """
nodes:
  - id: counter
    path: counter.py
    deploy: {machine: robot}
    inputs:
      tick: dora/timer/millis/20
    outputs: [n]
  - id: flaky
    path: flaky.py
    deploy: {machine: gpu}
    restart_policy: on-failure
    inputs:
      n: {source: counter/n, queue_size: 1000}
"""

COUNTER = """
import pyarrow as pa
from dora import Node

node = Node()
n = 0
for event in node:
    if event["type"] == "INPUT":
        n += 1
        node.send_output("n", pa.array([n]))
        if n == 150:
            break
"""

# The first run takes 10 numbers and fails; the second records what it gets until the end.
FLAKY = """
import os, sys
from dora import Node
from _rec import record

marker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "failed-once")
node = Node()
seen = []
for event in node:
    if event["type"] == "INPUT":
        seen.append(event["value"][0].as_py())
        if not os.path.exists(marker) and len(seen) == 10:
            open(marker, "w").close()
            sys.exit(1)
record("flaky", seen)
"""


def test_restarted_receiver_counts_only_what_it_missed(cluster: Cluster, tmp_path: Path) -> None:
    write(tmp_path, GRAPH, counter=COUNTER, flaky=FLAKY)
    cluster.up("robot", "gpu")
    run = cluster.cli("start", "graph.yml", "--name", "flaky", "--attach", timeout=120)
    assert (tmp_path / "failed-once").exists(), run.stdout + run.stderr + cluster.logs()
    seen = result(tmp_path, "flaky")
    assert seen and seen[-1] == 150, seen
    row = cluster.row("flaky")
    assert row is not None
    # What the second run missed between its first and its last number, and nothing more
    # (before: also every number before its first one, counted as lost on the way).
    missed = seen[-1] - seen[0] + 1 - len(seen)
    assert row["dropped"].get("flaky/n", 0) == missed, (seen[:5], row["dropped"])
    # What the counter sent while flaky was down (its subscription gone) is counted as the
    # sender's, as on one machine (before: put into the void, counted nowhere). Some of the
    # numbers before the second run's first may have died unread in the first run's queue.
    unsent = row["dropped"].get("counter->flaky", 0)
    assert 0 < unsent <= seen[0] - 1 - 10, (seen[:5], row["dropped"])
