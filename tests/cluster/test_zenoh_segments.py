"""A node killed with its Zenoh session open leaves no shared memory once its run ended.

Each Zenoh session makes `<n>.zenoh` files in /dev/shm (a 12 KiB one per session, a ~1.3 MiB
one once it carries payloads over Zenoh's shared memory) and removes them when it closes; a node
SIGKILLed never closes its session. Two bare zenoh-python processes show the files of the killed
one staying while its peer lives, until some process opens its first session on the host. In a
cluster they are gone by the time the run has ended. The check runs in a /dev/shm of its own (a
tmpfs in a mount namespace, `unshare -m`): on the host's, any Zenoh process of another test
starting meanwhile removes dead sessions' files too, and the check could not fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

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
            mine = {n: (Path("/dev/shm") / n).stat().st_size for n in (now - before) & mapped()}
            Path("talker.json").write_text(json.dumps({"segments": mine}))
            os.kill(os.getpid(), signal.SIGKILL)
"""

LISTENER = """
from dora import Node
for event in Node():
    pass
"""


# Run inside the private /dev/shm: the cluster, the dataflow, the check; prints the outcome.
SCENARIO = """
import json, subprocess, sys, time
from pathlib import Path

sys.path.insert(0, sys.argv[2])
from cluster_env import DORA_ROS, Cluster, write

folder = Path(sys.argv[1])
write(folder, GRAPH, talker=TALKER, listener=LISTENER)
cluster = Cluster(folder)
outcome = {}
try:
    cluster.up("robot", "gpu")
    run = subprocess.run([*DORA_ROS, "start", "graph.yml", "--name", "killed", "--attach"],
                         capture_output=True, text=True, cwd=folder, env=cluster.env(),
                         timeout=120, check=False)
    outcome.update(code=run.returncode, stderr=run.stderr)
    own = json.loads((folder / "talker.json").read_text())["segments"] if (
        folder / "talker.json").exists() else {}
    outcome["own"] = own
    deadline = time.monotonic() + 10  # gone already when `start --attach` returns, unloaded
    while time.monotonic() < deadline and any((Path("/dev/shm") / n).exists() for n in own):
        time.sleep(0.1)
    outcome["left"] = [n for n in own if (Path("/dev/shm") / n).exists()]
finally:
    outcome["processes_left"] = cluster.close()
    print(json.dumps(outcome))
"""


def test_killed_nodes_zenoh_segments_are_removed_when_the_run_ends(tmp_path: Path) -> None:
    scenario = "\n".join(
        [f"GRAPH = {GRAPH!r}", f"TALKER = {TALKER!r}", f"LISTENER = {LISTENER!r}",
         textwrap.dedent(SCENARIO)]
    )  # fmt: skip
    (tmp_path / "scenario.py").write_text(scenario)
    here = str(Path(__file__).parent)
    private = 'mount -t tmpfs -o size=256m tmpfs /dev/shm && exec "$0" "$@"'
    run = subprocess.run(
        ["unshare", "--mount", "sh", "-c", private, sys.executable,
         str(tmp_path / "scenario.py"), str(tmp_path), here],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert run.returncode == 0 and run.stdout.strip(), run.stdout + run.stderr
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    assert not outcome["processes_left"], outcome
    assert outcome["code"] != 0 and "node 'talker' failed" in outcome["stderr"], outcome
    # The talker's own segments were there while it ran: its session's, and the ~1.3 MiB one of
    # its shared-memory payloads (the 64 KiB messages) at least.
    assert len(outcome["own"]) >= 2 and max(outcome["own"].values()) > 1 << 20, outcome
    assert outcome["left"] == [], outcome
