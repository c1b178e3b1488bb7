"""A node killed with its Zenoh session open leaves no shared memory once its run ended.

Each Zenoh session makes `<n>.zenoh` files in /dev/shm (a 12 KiB one per session, a ~1.3 MiB
one once it carries payloads over Zenoh's shared memory) and removes them when it
closes; a node SIGKILLed never closes its session. Two bare zenoh-python processes show the
files of the killed one staying while its peer lives (until a process opens its first session on
the host). In a cluster they are gone by the time the run has ended (checked in a private
/dev/shm, `unshare -m`, 2026-12-07): this guards that, as the project promises no shared memory
left behind after any process dies.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from cluster_env import DORA_ROS, Cluster, wait_for, write

GRAPH = """
nodes:
  - id: talker
    path: talker.py
    deploy: {machine: robot}
    inputs:
      tick: dora/timer/millis/20
    outputs: [value]
  - id: listener
    path: listener.py
    deploy: {machine: gpu}
    inputs:
      value: talker/value
"""

# Notes the Zenoh segments made since it started that it maps (its own, and its peer's), sends
# ten 64 KiB messages across machines (Zenoh's shared memory on one host), then dies by SIGKILL.
TALKER = """
import json, os, signal
from pathlib import Path
import pyarrow as pa

def mapped():
    with open("/proc/self/maps") as f:
        return {line.split("/dev/shm/")[1].strip() for line in f if ".zenoh" in line}

before = {p.name for p in Path("/dev/shm").glob("*.zenoh")}
from dora import Node
node = Node()
sent = 0
for event in node:
    if event["type"] == "INPUT":
        sent += 1
        node.send_output("value", pa.array(bytes(65536)))
        if sent == 10:
            now = {p.name for p in Path("/dev/shm").glob("*.zenoh")}
            mine = sorted((now - before) & mapped())
            Path("talker.json").write_text(json.dumps({"pid": os.getpid(), "segments": mine}))
            os.kill(os.getpid(), signal.SIGKILL)
"""

LISTENER = """
from dora import Node
for event in Node():
    pass
"""


def test_killed_nodes_zenoh_segments_are_removed_when_the_run_ends(
    cluster: Cluster, tmp_path: Path
) -> None:
    write(tmp_path, GRAPH, talker=TALKER, listener=LISTENER)
    cluster.up("robot", "gpu")
    run = subprocess.run(
        [*DORA_ROS, "start", "graph.yml", "--name", "killed", "--attach"], capture_output=True,
        text=True, cwd=tmp_path, env=cluster.env(), timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode != 0, run.stdout + run.stderr  # the talker failed
    assert "node 'talker' failed" in run.stderr, run.stderr
    talker = json.loads((tmp_path / "talker.json").read_text())
    own = talker["segments"]
    # Its session's own segment at least, and the ~1.3 MiB one of its shared-memory payloads.
    assert len(own) >= 2, talker

    def gone() -> bool:
        return not any((Path("/dev/shm") / name).exists() for name in own)

    # (Gone already when `start --attach` returns; the wait is for a loaded machine.)
    wait_for(gone, 10, f"the killed talker's Zenoh segments {own} to be removed")
