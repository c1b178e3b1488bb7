"""Constructs of real launch files that `benchmarks/launch_corpus.py` found resolved differently
from ROS 2; each fixture is our own, with the same construct, resolved against stub packages.

- An empty list as a parameter (autoware's component_state_monitor builds a component's
  `topic_monitor_names` in an OpaqueFunction; with no matching rows it is `[]`): ROS 2 takes it
  (rclpy types an empty sequence as a byte array), dora-ros refused the launch.
- Global parameters read back from the launch configuration 'global_params' (autoware's ground
  segmentation computes the vehicle's size in an OpaqueFunction from the `SetParameter`s of its
  vehicle description): ROS 2 keeps them there, dora-ros did not (a KeyError in the file).
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


GLOBAL_PARAMS_LAUNCH = """\
from launch import LaunchDescription
from launch.actions import GroupAction, OpaqueFunction
from launch_ros.actions import Node, SetParameter, SetUseSimTime


def setup(context):
    gp = dict(context.launch_configurations.get("global_params", {}))
    length = gp["front_overhang"] + gp["wheel_base"]
    return [Node(package="demo_pkg", executable="reporter", name="seg", namespace="ns",
                 parameters=[{"vehicle_length": length, "seen": sorted(gp)}])]


def after_group(context):
    gp = dict(context.launch_configurations.get("global_params", {}))
    return [Node(package="demo_pkg", executable="reporter", name="after", namespace="ns",
                 parameters=[{"seen": sorted(gp)}])]


def generate_launch_description():
    return LaunchDescription([
        SetParameter(name="front_overhang", value=1.0),
        SetParameter(name="wheel_base", value=2.5),
        GroupAction([SetUseSimTime(True), OpaqueFunction(function=setup)], scoped=True),
        OpaqueFunction(function=after_group),
    ])
"""


def test_global_params_are_a_launch_configuration_as_in_ros2(ws: Workspace) -> None:
    path = ws.add_launch("global.launch.py", GLOBAL_PARAMS_LAUNCH)
    printed = ws.launch(str(path), "--print")
    assert printed.returncode == 0, printed.stderr
    assert "Traceback" not in printed.stderr
    _, files = resolve_in_process(ws, path)
    params = [next(iter(f.values()))["ros__parameters"] for f in files.values()]
    # the values as set, in scope: use_sim_time only inside the group
    assert {
        "vehicle_length": 3.5,
        "seen": ["front_overhang", "use_sim_time", "wheel_base"],
    } in params
    assert {"seen": ["front_overhang", "wheel_base"]} in params
