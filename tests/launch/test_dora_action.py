"""A dora-ros dataflow started from a launch file: `<dora>`, `dora:`, `DoraDataflow`.

`--print` lists the graph's node ids (needs only the descriptor); running it needs the runtime's
`dora-ros run` and is skipped, saying so, while that is missing.
"""

from __future__ import annotations

import re
import signal
import sys
from pathlib import Path

import pytest
from ament_workspace import Workspace, lines_of, pid_alive, stop, wait_for

SENDER = """
import pyarrow as pa
from dora import Node

node = Node()
for event in node:
    if event["type"] == "INPUT":
        node.send_output("count", pa.array([1]))
"""

RECEIVER = """
import os
from dora import Node

node = Node()
with open(os.environ["RECORD"], "a") as f:
    f.write("greeting " + os.environ.get("GREETING", "?") + "\\n")
    f.write(f"pid {os.getpid()}\\n")
    f.flush()
    for event in node:
        if event["type"] == "INPUT":
            f.write("input\\n")
            f.flush()
        elif event["type"] == "STOP":
            f.write("stop\\n")
            f.flush()
            break
"""

GRAPH = """nodes:
  - id: sender
    path: sender.py
    inputs:
      tick: dora/timer/millis/50
    outputs:
      - count
  - id: receiver
    path: receiver.py
    inputs:
      count: sender/count
"""

FILES = {
    "xml": (
        "dora.launch.xml",
        """<launch>
  <arg name="greeting" default="hello"/>
  <dora graph="$(dirname)/graph.yml">
    <env name="GREETING" value="$(var greeting)"/>
    <env name="RECORD" value="$(env RECORD_FILE)"/>
  </dora>
</launch>""",
    ),
    "yaml": (
        "dora.launch.yaml",
        """launch:
- arg: {name: greeting, default: hello}
- dora:
    graph: "$(dirname)/graph.yml"
    env:
    - {name: GREETING, value: "$(var greeting)"}
    - {name: RECORD, value: "$(env RECORD_FILE)"}
""",
    ),
    "py": (
        "dora.launch.py",
        """from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import EnvironmentVariable, LaunchConfiguration, ThisLaunchFileDir

from dora_ros.launch import DoraDataflow


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("greeting", default_value="hello"),
        DoraDataflow(graph=[ThisLaunchFileDir(), "/graph.yml"],
                     additional_env={"GREETING": LaunchConfiguration("greeting"),
                                     "RECORD": EnvironmentVariable("RECORD_FILE")}),
    ])
""",
    ),
}


def _setup(ws: Workspace, front_end: str) -> Path:
    for name, text in (("sender.py", SENDER), ("receiver.py", RECEIVER), ("graph.yml", GRAPH)):
        (ws.launch_dir / name).write_text(text)
    ws.env["RECORD_FILE"] = str(ws.root / "record")
    name, text = FILES[front_end]
    return ws.add_launch(name, text)


@pytest.mark.parametrize("front_end", sorted(FILES))
def test_print_lists_graph_nodes(ws: Workspace, front_end: str) -> None:
    path = _setup(ws, front_end)
    result = ws.launch(str(path), "--print", "greeting:=hi")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "process dora-1  (dora graph, nodes: sender, receiver)" in lines
    cmd = next(line for line in lines if line.startswith("  cmd: "))
    assert cmd.startswith(f"  cmd: {sys.executable} -m dora_ros.cli run {ws.launch_dir}/graph.yml")
    assert "  env: GREETING=hi" in lines


def test_bad_graph_is_a_launch_error(ws: Workspace) -> None:
    path = _setup(ws, "xml")
    (ws.launch_dir / "graph.yml").write_text(
        "nodes:\n  - id: a\n    inputs:\n      x: nowhere/out\n"
    )
    result = ws.launch(str(path))
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {path}:3: dora graph: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_graph_runs_and_stops_with_the_launch(ws: Workspace) -> None:
    path = _setup(ws, "xml")
    launcher = ws.start(str(path), "greeting:=bonjour")
    record = ws.root / "record"
    wait_for(lambda: "input" in lines_of(record), timeout=30)
    out, err = stop(launcher, signal.SIGINT)
    assert launcher.returncode == 0, out + err
    lines = lines_of(record)
    assert lines[0] == "greeting bonjour"
    assert lines[-1] == "stop"  # the runtime stopped its nodes in order
    assert not pid_alive(int(lines[1].split()[1]))


def test_graph_dies_with_a_killed_launcher(ws: Workspace) -> None:
    path = _setup(ws, "yaml")
    launcher = ws.start(str(path))
    record = ws.root / "record"
    wait_for(lambda: "input" in lines_of(record), timeout=30)
    launcher.kill()
    out, _ = launcher.communicate(timeout=10)
    (runtime,) = [
        int(p) for p in re.findall(r"\[dora-1\]: process started with pid \[(\d+)\]", out)
    ]
    receiver = int(lines_of(record)[1].split()[1])
    wait_for(lambda: not pid_alive(runtime) and not pid_alive(receiver), timeout=5)
