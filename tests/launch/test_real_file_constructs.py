"""Constructs of real launch files that `benchmarks/launch_corpus.py` found resolved differently
from ROS 2; each fixture is our own, with the same construct, resolved against stub packages.

- An empty list as a parameter (autoware's component_state_monitor builds a component's
  `topic_monitor_names` in an OpaqueFunction; with no matching rows it is `[]`): ROS 2 takes it
  (rclpy types an empty sequence as a byte array), dora-ros refused the launch.
"""

from __future__ import annotations

from ament_workspace import PYTHON, Workspace, resolve_in_process

CONTAINER = f"#!{PYTHON}\nimport time\ntime.sleep(60)\n"

EMPTY_LIST_LAUNCH = """\
from launch import LaunchDescription
from launch.actions import OpaqueFunction
from launch_ros.actions import ComposableNodeContainer, Node, SetParameter
from launch_ros.descriptions import ComposableNode


def setup(context):
    rows = [r for r in ("a", "b") if r == context.launch_configurations.get("mode", "none")]
    component = ComposableNode(
        package="demo_comp", plugin="demo::Monitor", name="monitor",
        parameters=[{"names": rows, "count": 2}],
    )
    return [
        ComposableNodeContainer(
            name="box", namespace="", package="demo_pkg", executable="container",
            composable_node_descriptions=[component],
        ),
        SetParameter(name="global_list", value=[]),
        Node(package="demo_pkg", executable="reporter", name="n", parameters=[{"mine": []}]),
    ]


def generate_launch_description():
    return LaunchDescription([OpaqueFunction(function=setup)])
"""


def test_an_empty_list_parameter_resolves_as_ros2(ws: Workspace) -> None:
    ws.add_executable("container", CONTAINER)
    path = ws.add_launch("empty.launch.py", EMPTY_LIST_LAUNCH)
    printed = ws.launch(str(path), "--print")
    assert printed.returncode == 0, printed.stderr
    assert "Traceback" not in printed.stderr
    assert "load component demo_comp::demo::Monitor as /monitor into /box" in printed.stdout
    assert "  param: names=[]" in printed.stdout
    assert "  param: count=2" in printed.stdout

    steps, files = resolve_in_process(ws, path)
    from dora_ros.launch.composition import LoadComponents, _parameter_message
    from dora_ros.launch.plan import StartProcess

    (load,) = [s for s in steps if isinstance(s, LoadComponents)]
    assert load.components[0].parameters == (("names", []), ("count", 2))
    node = next(s for s in steps if isinstance(s, StartProcess) and "reporter" in s.spec.cmd[0])
    assert "global_list:=[]" in node.spec.cmd  # `-p global_list:=[]`, as a global parameter
    assert {"/**": {"ros__parameters": {"mine": []}}} in files.values()

    # the LoadNode message carries what rclpy makes of an empty list: an empty byte array
    from rcl_interfaces import msg
    from rclpy.parameter import Parameter

    ours = _parameter_message(msg, "names", [])
    assert ours == Parameter("names", value=[]).to_parameter_msg()
    assert ours.value.type == 5
