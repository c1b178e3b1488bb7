"""Parameter files with substitutions (`allow_substs`), read back by a real rclpy node."""

from __future__ import annotations

import pytest
from ament_workspace import Workspace, resolve_in_process

PARAMS = """/**:
  ros__parameters:
    speed: $(var speed)
    share: "$(find-pkg-share demo_pkg)/maps"
    label: $(var label 'fallback')
"""

XML = """<launch>
  <arg name="speed" default="1.5"/>
  <node pkg="demo_pkg" exec="reporter" name="subst" namespace="pf">
    <param from="$(dirname)/subst.yaml" allow_substs="true"/>
  </node>
</launch>
"""

PYTHON = """
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterFile
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("speed", default_value="1.5"),
        Node(package="demo_pkg", executable="reporter", name="subst", namespace="pf",
             parameters=[ParameterFile(
                 PathJoinSubstitution([FindPackageShare("demo_pkg"), "launch", "subst.yaml"]),
                 allow_substs=True)]),
    ])
"""


@pytest.mark.parametrize(("name", "text"), [("pf.launch.xml", XML), ("pf.launch.py", PYTHON)])
def test_allow_substs_reaches_the_node(ws: Workspace, name: str, text: str) -> None:
    (ws.launch_dir / "subst.yaml").write_text(PARAMS)
    ws.add_launch(name, text)
    result = ws.launch("demo_pkg", name, "speed:=2.25")
    assert result.returncode == 0, result.stderr
    params = ws.report("/pf/subst")["params"]
    assert params == {
        "speed": 2.25,
        "share": str(ws.prefix / "share" / "demo_pkg") + "/maps",
        "label": "fallback",
    }


def test_without_allow_substs_the_file_is_passed_as_it_is(ws: Workspace) -> None:
    (ws.launch_dir / "subst.yaml").write_text(PARAMS)
    path = ws.add_launch("plain.launch.xml", XML.replace(' allow_substs="true"', ""))
    steps, _ = resolve_in_process(ws, path)
    assert str(ws.launch_dir / "subst.yaml") in steps[0].spec.cmd


def test_bad_substitution_in_a_parameter_file_names_the_file(ws: Workspace) -> None:
    (ws.launch_dir / "subst.yaml").write_text("/**:\n  ros__parameters:\n    a: $(var nope)\n")
    ws.add_launch("bad.launch.xml", XML)
    result = ws.launch("demo_pkg", "bad.launch.xml", "--print")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        f"bad.launch.xml:3: parameter file '{ws.launch_dir / 'subst.yaml'}': "
        "launch configuration 'nope' does not exist"
    ) in result.stderr


PRINTED = """<launch>
  <arg name="speed" default="2.5"/>
  <node pkg="demo_pkg" exec="reporter" name="talker" namespace="r1">
    <param name="gain" value="7"/>
    <param name="names" value="['a', 'b']"/>
    <param name="nested">
      <param name="deep" value="x"/>
    </param>
    <param from="$(dirname)/subst.yaml" allow_substs="true"/>
    <param from="$(dirname)/plain.yaml"/>
  </node>
</launch>
"""


def test_print_lists_generated_parameters(ws: Workspace) -> None:
    # Before: `--params-file /tmp/dora_ros_launch_xxx/params_0.yaml`, a file deleted on exit.
    ws.add_launch("subst.yaml", PARAMS)
    plain = ws.add_launch("plain.yaml", "/**:\n  ros__parameters:\n    kept: 1\n")
    path = ws.add_launch("printed.launch.xml", PRINTED)
    result = ws.launch(str(path), "--print", timeout=30)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = lines.index("process reporter-1  (ROS node talker, namespace /r1)")
    cmd = lines[start + 1]
    assert cmd.startswith("  cmd: ")
    assert "dora_ros_launch_" not in result.stdout
    generated = " ".join(f"--params-file <params {n}>" for n in (1, 2, 3, 4))
    assert cmd.endswith(f" {generated} --params-file {plain}"), cmd
    share = ws.prefix / "share" / "demo_pkg"
    assert lines[start + 2 : start + 14] == [
        "  params 1 (for /r1/talker):",
        "    param: gain=7",
        "  params 2 (for /r1/talker):",
        "    param: names=['a', 'b']",
        "  params 3 (for /r1/talker):",
        "    param: nested.deep='x'",
        # the file read with its substitutions performed
        "  params 4 (for /**):",
        "    param: speed=2.5",
        f"    param: share='{share}/maps'",
        "    param: label='fallback'",
        "  output=log, sigterm_timeout=5.0, sigkill_timeout=5.0",
        f"  from: {path}:3",
    ], result.stdout
