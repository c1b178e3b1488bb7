"""Node paths are checked on the machine that runs the node, in its deploy.working_dir (issue 14:
"paths resolved on that machine"), never on the CLI's or the coordinator's host."""

from __future__ import annotations

import textwrap
from pathlib import Path

from cluster_env import Cluster, result, wait_for

GRAPH = """
nodes:
  - id: ticker
    path: ticker.py
    deploy: {{machine: robot}}
    inputs:
      tick: dora/timer/millis/50
    outputs: [n]
  - id: listener
    path: {listener}
    deploy: {{machine: gpu, working_dir: {gpu_dir}}}
    inputs:
      n: ticker/n
"""

TICKER = """
import pyarrow as pa
from dora import Node

node = Node()
count = 0
for event in node:
    if event["type"] == "INPUT":
        count += 1
        node.send_output("n", pa.array([count]))
"""

LISTENER = """
import os
from dora import Node
from _rec import record

node = Node()
seen = 0
for event in node:
    if event["type"] == "INPUT":
        seen += 1
        record("listener", {"seen": seen, "cwd": os.getcwd()})
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


def _write(cluster: Cluster, listener: str, gpu_dir: Path) -> None:
    (cluster.folder / "ticker.py").write_text(textwrap.dedent(TICKER))
    (cluster.folder / "graph.yml").write_text(
        textwrap.dedent(GRAPH.format(listener=listener, gpu_dir=gpu_dir))
    )


def test_node_file_only_in_the_daemons_working_dir_runs(cluster: Cluster) -> None:
    # The listener's file is only in the gpu machine's working_dir, not in the CLI's folder
    # (before: `start` on the CLI's host failed "path 'listener.py' does not exist").
    gpu_dir = cluster.folder / "gpu_box"
    gpu_dir.mkdir()
    (gpu_dir / "listener.py").write_text(textwrap.dedent(LISTENER))
    (gpu_dir / "_rec.py").write_text(REC)
    _write(cluster, "listener.py", gpu_dir)
    assert not (cluster.folder / "listener.py").exists()
    cluster.up("robot", "gpu")
    run = cluster.cli("start", "graph.yml", "--name", "paths", "--detach")
    assert run.returncode == 0, run.stderr + cluster.logs()
    wait_for(lambda: (gpu_dir / "listener.pkl").exists(), 30, "the listener's first message")
    seen = result(gpu_dir, "listener")
    assert seen["cwd"] == str(gpu_dir)  # deploy.working_dir under `start`
    cluster.cli("stop", "paths", check=True)


def test_missing_node_path_is_one_line_naming_node_and_machine(cluster: Cluster) -> None:
    gpu_dir = cluster.folder / "gpu_box"
    gpu_dir.mkdir()
    _write(cluster, "absent.py", gpu_dir)
    cluster.up("robot", "gpu")
    run = cluster.cli("start", "graph.yml", "--detach")
    assert run.returncode == 1, run.stdout
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "node 'listener': path 'absent.py' does not exist on machine 'gpu'" in lines[0]
    assert str(gpu_dir) in lines[0]
    assert [r for r in cluster.rows() if r["status"] == "running"] == []
