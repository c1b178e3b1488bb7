"""Each front end starts a real rclpy node with the name, namespace, remaps and parameters asked.

The same launch is written in XML, YAML and Python; the node reports what rclpy resolved.
One test also checks the ROS graph from a separate rclpy observer process.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from ament_workspace import Workspace, stop, wait_for

XML = """<launch>
  <arg name="robot" default="r1" description="robot namespace"/>
  <let name="label" value="$(var robot)-label"/>
  <set_env name="DEMO_ENV" value="$(var label)"/>
  <group>
    <push-ros-namespace namespace="$(var robot)"/>
    <set_parameter name="global_gain" value="7"/>
    <set_remap from="input" to="cmd_in"/>
    <node pkg="demo_pkg" exec="reporter" name="talker" namespace="arm" output="screen">
      <param name="speed" value="1.5"/>
      <param name="count" value="3"/>
      <param name="enabled" value="true"/>
      <param name="label" value="$(var label)"/>
      <param name="nested"><param name="depth" value="2"/></param>
      <param name="gains" value="[0.5, 1.5]"/>
      <remap from="chatter" to="talk"/>
    </node>
  </group>
  <node pkg="demo_pkg" exec="reporter" name="plain" unless="$(var skip_plain false)"/>
</launch>
"""

YAML = """launch:
- arg: {name: robot, default: r1, description: robot namespace}
- let: {name: label, value: "$(var robot)-label"}
- set_env: {name: DEMO_ENV, value: "$(var label)"}
- group:
    children:
    - push-ros-namespace: {namespace: "$(var robot)"}
    - set_parameter: {name: global_gain, value: 7}
    - set_remap: {from: input, to: cmd_in}
    - node:
        pkg: demo_pkg
        exec: reporter
        name: talker
        namespace: arm
        output: screen
        param:
        - {name: speed, value: 1.5}
        - {name: count, value: 3}
        - {name: enabled, value: true}
        - {name: label, value: "$(var label)"}
        - {name: nested, param: [{name: depth, value: 2}]}
        - {name: gains, value: [0.5, 1.5]}
        remap:
        - {from: chatter, to: talk}
- node: {pkg: demo_pkg, exec: reporter, name: plain, unless: "$(var skip_plain false)"}
"""

PYTHON = """
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, SetEnvironmentVariable
from launch.actions import SetLaunchConfiguration
from launch.conditions import UnlessCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, PushRosNamespace, SetParameter, SetRemap


def generate_launch_description():
    robot = LaunchConfiguration("robot")
    return LaunchDescription([
        DeclareLaunchArgument("robot", default_value="r1", description="robot namespace"),
        SetLaunchConfiguration("label", [robot, "-label"]),
        SetEnvironmentVariable("DEMO_ENV", LaunchConfiguration("label")),
        GroupAction([
            PushRosNamespace(robot),
            SetParameter(name="global_gain", value="7"),
            SetRemap(src="input", dst="cmd_in"),
            Node(package="demo_pkg", executable="reporter", name="talker", namespace="arm",
                 output="screen",
                 parameters=[{"speed": 1.5, "count": 3, "enabled": True,
                              "label": LaunchConfiguration("label"), "nested": {"depth": 2},
                              "gains": [0.5, 1.5]}],
                 remappings=[("chatter", "talk")]),
        ]),
        Node(package="demo_pkg", executable="reporter", name="plain",
             condition=UnlessCondition(LaunchConfiguration("skip_plain", default="false"))),
    ])
"""

FILES = {
    "xml": ("demo.launch.xml", XML),
    "yaml": ("demo.launch.yaml", YAML),
    "py": ("demo.launch.py", PYTHON),
}


@pytest.mark.parametrize("front_end", sorted(FILES))
def test_node_sees_name_namespace_remaps_parameters(ws: Workspace, front_end: str) -> None:
    name, text = FILES[front_end]
    ws.add_launch(name, text)
    result = ws.launch("demo_pkg", name, "robot:=r7", "skip_plain:=True")
    assert result.returncode == 0, result.stderr
    report = ws.report("/r7/arm/talker")
    assert report["name"] == "talker"
    assert report["namespace"] == "/r7/arm"
    assert report["chatter"] == "/r7/arm/talk"
    assert report["input"] == "/r7/arm/cmd_in"
    assert report["params"] == {
        "speed": 1.5,
        "count": 3,
        "enabled": True,
        "label": "r7-label",
        "nested.depth": 2,
        "gains": [0.5, 1.5],
        "global_gain": 7,
    }
    assert report["env"] == "r7-label"
    assert "reporter-1: reported /r7/arm/talker" in result.stdout  # output="screen" prefix
    assert not (ws.reports / "plain.json").exists()  # unless="True" skipped it


@pytest.mark.parametrize("front_end", sorted(FILES))
def test_defaults_and_print(ws: Workspace, front_end: str) -> None:
    name, text = FILES[front_end]
    path = ws.add_launch(name, text)
    result = ws.launch(str(path), "--print")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "process reporter-1  (ROS node talker, namespace /r1/arm)" in lines
    assert "process reporter-2  (ROS node plain, namespace /)" in lines
    cmd = next(line for line in lines if line.startswith("  cmd: ") and "__node:=talker" in line)
    assert "--ros-args -r __node:=talker -r __ns:=/r1/arm -p global_gain:=7 --params-file" in cmd
    assert cmd.endswith("-r input:=cmd_in -r chatter:=talk")
    assert not any(ws.reports.iterdir())  # --print started nothing


def test_show_args(ws: Workspace) -> None:
    ws.add_launch("demo.launch.xml", XML)
    result = ws.launch("demo_pkg", "demo.launch.xml", "--show-args")
    assert result.returncode == 0, result.stderr
    assert "'robot':\n        robot namespace\n        (default: 'r1')" in result.stdout


OBSERVER = """
import json, sys, time
import rclpy
rclpy.init()
node = rclpy.create_node("observer")
want_node, want_topic = sys.argv[1], sys.argv[2]
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    rclpy.spin_once(node, timeout_sec=0.1)
    nodes = ["/".join(p).replace("//", "/") for p in
             [(ns, n) for n, ns in node.get_node_names_and_namespaces()]]
    topics = [t for t, _ in node.get_topic_names_and_types()]
    if want_node in nodes and want_topic in topics:
        print(json.dumps({"nodes": nodes, "topics": topics}), flush=True)
        break
else:
    print(json.dumps({"timeout": True}), flush=True)
node.destroy_node()
rclpy.shutdown()
"""


def test_observer_sees_launched_node_in_ros_graph(ws: Workspace) -> None:
    ws.env["ROS_DOMAIN_ID"] = "150"  # its own domain: it looks at the whole graph
    ws.add_launch(
        "stay.launch.xml",
        """<launch>
  <node pkg="demo_pkg" exec="reporter" name="seen" namespace="/watch" args="--stay">
    <remap from="chatter" to="observed_topic"/>
  </node>
</launch>""",
    )
    launcher = ws.start("demo_pkg", "stay.launch.xml")
    try:
        observer = subprocess.run(
            [sys.executable, "-c", OBSERVER, "/watch/seen", "/watch/observed_topic"],
            env=ws.env,
            capture_output=True,
            text=True,
            timeout=40,
        )
        graph = json.loads(observer.stdout.strip().splitlines()[-1])
        assert "timeout" not in graph, observer.stderr
        assert "/watch/seen" in graph["nodes"]
        assert "/watch/observed_topic" in graph["topics"]
    finally:
        out, err = stop(launcher)
    assert launcher.returncode == 0, err
    wait_for(lambda: "process has finished cleanly" in out or "exit code" in out, timeout=1)


def test_undeclared_argument_warns_once(ws: Workspace) -> None:
    # ROS 2 takes `robto:=r2` silently; before, so did we. `skip_plain` is not declared but the
    # file reads it with $(var skip_plain false), so it is no mistake; `robot` is declared.
    path = ws.add_launch("demo.launch.xml", XML)
    result = ws.launch(str(path), "--print", "robto:=r2", "skip_plain:=true", "robot:=r3")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "[WARNING] [launch]: launch argument 'robto:=r2' is not declared by the launch file or "
        "the files it includes (did you mean 'robot'?); it is passed on as given"
    ]
    assert "process reporter-1  (ROS node talker, namespace /r3/arm)" in result.stdout
    assert "reporter-2" not in result.stdout  # skip_plain:=true was read
