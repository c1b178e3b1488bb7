"""Process exit under load: many short dataflows over two machines (loopback), then `down`.

A Python callback that one of Zenoh's threads runs (or drops) while the interpreter finalizes
aborts the process at exit ("FATAL: exception not rethrown", status -6, sometimes a SIGSEGV):
seen in `dora-ros run` through the dataflow API (commit 6e7bef0). The coordinator, the daemons
and the machine runs read their Zenoh entities on threads of their own now
(cluster/channel_reader.py); a receiving node's data-path callback is undeclared, with its session
closed, before the interpreter finalizes (cluster/remote_link.py). This runs short dataflows whose
receiver leaves while its sender still floods it, four at a time, and asserts that no process of
the cluster ended by a signal or printed "FATAL".
"""

from __future__ import annotations

import subprocess
import time

from cluster_env import DORA_ROS, Cluster, write

FLOOD_GRAPH = """
nodes:
  - id: flood
    path: flood.py
    deploy: {machine: robot}
    inputs:
      tick: dora/timer/millis/1
    outputs: [data]
  - id: drain
    path: drain.py
    deploy: {machine: gpu}
    inputs:
      data: flood/data
"""

FLOOD = """
import pyarrow as pa
from dora import Node

node = Node()
n = 0
for event in node:
    if event["type"] == "INPUT":
        n += 1
        node.send_output("data", pa.array([n]))
        if n == 300:
            break
"""

# Leaves after a few messages, while the sender goes on: samples keep arriving on its Zenoh
# session as it closes and exits.
DRAIN = """
from dora import Node

node = Node()
seen = 0
for event in node:
    if event["type"] == "INPUT":
        seen += 1
        if seen == 20:
            break
"""

ROUNDS = 4
AT_ONCE = 4


def test_short_dataflows_and_down_never_abort(cluster: Cluster) -> None:
    cluster.up("robot", "gpu")
    write(cluster.folder, FLOOD_GRAPH, flood=FLOOD, drain=DRAIN)
    failed = []
    for round_ in range(ROUNDS):
        starts = [_start(cluster, f"s{round_}-{i}") for i in range(AT_ONCE)]
        for start in starts:
            out, _ = start.communicate(timeout=120)
            if start.returncode != 0:
                failed.append(out)
    assert not failed, f"{len(failed)} of {ROUNDS * AT_ONCE} dataflows failed:\n" + "\n".join(
        failed[:3]
    )
    down = cluster.cli("down", timeout=60)
    assert down.returncode == 0, down.stderr
    deadline = time.monotonic() + 30
    for role, proc in cluster.procs.items():
        proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        assert proc.returncode == 0, f"{role} ended with status {proc.returncode}\n{cluster.logs()}"
    texts = [p.read_text(errors="replace") for p in cluster.folder.glob("*.log")]
    texts += [p.read_text(errors="replace") for p in cluster.folder.glob("out/*/*.txt")]
    assert len(texts) > ROUNDS * AT_ONCE * 2  # the machine runs' terminals and the node logs
    bad = [line for text in texts for line in text.splitlines()
           if "FATAL" in line or "ended by signal" in line or "SIGABRT" in line
           or "SIGSEGV" in line]  # fmt: skip
    assert not bad, bad


def _start(cluster: Cluster, name: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*DORA_ROS, "start", "graph.yml", "--attach", "--name", name], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, cwd=cluster.folder, env=cluster.env(),
    )  # fmt: skip
