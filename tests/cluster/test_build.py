"""`start` runs each node's `build` lines on the machine (daemon) that runs the node, first."""

from __future__ import annotations

from pathlib import Path

from cluster_env import Cluster, result, write
from graphs import FINITE_GRAPH, RECEIVER, SENDER

# Each build line writes a file naming its node and the daemon's machine run terminal gets its
# output; the sender refuses to start unless its build's file is there (built before spawning).
BUILD_GRAPH = FINITE_GRAPH.replace(
    "    path: sender.py\n",
    "    path: sender.py\n"
    "    env: {WHO: sender}\n"
    "    build: |\n"
    "      python -c \"import os, pathlib; pathlib.Path('built-' + os.environ['WHO']).touch()\"\n"
    "      python -c \"print('sender build done')\"\n",
).replace(
    "    path: receiver.py\n",
    "    path: receiver.py\n    build: python -c \"print('receiver build done')\"\n",
)

CHECKED_SENDER = "import pathlib\nassert pathlib.Path('built-sender').exists()\n" + SENDER

FAILING_GRAPH = FINITE_GRAPH.replace(
    "    path: receiver.py\n",
    '    path: receiver.py\n    build: python -c "raise SystemExit(3)"\n',
)


def _terminal(tmp_path: Path, machine: str) -> str:
    return (tmp_path / "out" / "latest" / f"machine_{machine}.txt").read_text()


def test_start_runs_build_lines_on_each_nodes_machine(cluster: Cluster, tmp_path: Path) -> None:
    write(tmp_path, BUILD_GRAPH, sender=CHECKED_SENDER, receiver=RECEIVER)
    cluster.up("robot", "gpu")
    run = cluster.cli("start", "graph.yml", "--attach")
    assert run.returncode == 0, run.stdout + run.stderr + cluster.logs()
    assert (tmp_path / "built-sender").exists()
    assert result(tmp_path, "receiver")[-1] == ("STOP", "ALL_INPUTS_CLOSED")
    robot, gpu = _terminal(tmp_path, "robot"), _terminal(tmp_path, "gpu")
    assert "sender build done" in robot and "receiver build done" not in robot
    assert "receiver build done" in gpu and "sender build done" not in gpu


def test_failing_build_line_refuses_the_start(cluster: Cluster, tmp_path: Path) -> None:
    write(tmp_path, FAILING_GRAPH, sender=SENDER, receiver=RECEIVER)
    cluster.up("robot", "gpu")
    run = cluster.cli("start", "graph.yml", "--detach")
    assert run.returncode != 0
    error = run.stdout + run.stderr
    assert "node 'receiver': build command failed with exit status 3" in error, error
    assert not (tmp_path / "receiver.pkl").exists()
