"""A coordinator killed between `start --detach`'s answer and the start barrier: the restarted
coordinator learns the dataflow back and releases the barrier once every part is ready."""

from __future__ import annotations

import signal
import textwrap
import time
from pathlib import Path

from cluster_env import Cluster, result, wait_for

GRAPH = """
nodes:
  - id: slow
    path: slow.py
    deploy: {machine: robot}
    inputs:
      tick: dora/timer/millis/50
    outputs: [n]
  - id: listener
    path: listener.py
    deploy: {machine: gpu}
    inputs:
      n: slow/n
"""

# Registers with its machine run only after `go` exists: the test decides when robot's part
# is ready, so the coordinator is surely down when it happens (its `ready` event is lost).
SLOW = """
import os, time
import pyarrow as pa

here = os.path.dirname(os.path.abspath(__file__))
while not os.path.exists(os.path.join(here, "go")):
    time.sleep(0.05)
from dora import Node

node = Node()
count = 0
for event in node:
    if event["type"] == "INPUT":
        count += 1
        node.send_output("n", pa.array([count]))
"""

LISTENER = """
from dora import Node
from _rec import record

node = Node()
seen = 0
for event in node:
    if event["type"] == "INPUT":
        seen += 1
        record("listener", seen)
"""

REC = """
import os, pickle, tempfile

def record(name, value):
    here = os.path.dirname(os.path.abspath(__file__))
    fd, tmp = tempfile.mkstemp(dir=here)
    with os.fdopen(fd, "wb") as f:
        pickle.dump(value, f)
    os.replace(tmp, os.path.join(here, name + ".pkl"))
"""


def _write(folder: Path) -> None:
    (folder / "graph.yml").write_text(textwrap.dedent(GRAPH))
    (folder / "slow.py").write_text(textwrap.dedent(SLOW))
    (folder / "listener.py").write_text(textwrap.dedent(LISTENER))
    (folder / "_rec.py").write_text(REC)


def test_coordinator_killed_before_the_start_barrier(cluster: Cluster) -> None:
    # Before: the restarted coordinator marked a learnt dataflow as started without sending
    # `start`, and its nodes waited at the barrier forever.
    _write(cluster.folder)
    cluster.up("robot", "gpu")
    run = cluster.cli("start", "graph.yml", "--name", "barrier", "--detach")
    assert run.returncode == 0, run.stderr + cluster.logs()
    cluster.kill("coordinator", signal.SIGKILL)
    (cluster.folder / "go").touch()  # robot's part becomes ready while no coordinator runs
    time.sleep(2.0)
    assert not (cluster.folder / "listener.pkl").exists()  # still held at the barrier
    cluster.start_coordinator()
    wait_for(lambda: (cluster.folder / "listener.pkl").exists(), 30,
             "messages to flow once the restarted coordinator released the barrier")  # fmt: skip
    wait_for(lambda: result(cluster.folder, "listener") >= 5, 15, "five messages")
    row = cluster.row("barrier")
    assert row is not None and row["status"] == "running", row
    cluster.cli("stop", "barrier", check=True)
    wait_for(lambda: (cluster.row("barrier") or {}).get("status") == "finished", 20,
             "the dataflow to finish")  # fmt: skip
