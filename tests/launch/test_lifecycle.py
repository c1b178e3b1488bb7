"""Lifecycle nodes: a real rclpy lifecycle node driven by the launch through lifecycle_msgs.

The node records each transition callback in `$REPORT_DIR/<name>.lc`; with `--exit-when-active`
it ends itself once active, so the launch ends too.
"""

from __future__ import annotations

from ament_workspace import PYTHON, Workspace, lines_of

LC_NODE = f"""#!{PYTHON}
import os, sys, threading
import rclpy
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn

done = threading.Event()


class Recorder(LifecycleNode):
    def note(self, what):
        record = os.path.join(os.environ["REPORT_DIR"], self.get_name() + ".lc")
        with open(record, "a") as f:
            f.write(what + "\\n")

    def on_configure(self, state):
        self.note("configure")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state):
        self.note("activate")
        if "--exit-when-active" in sys.argv:
            done.set()
        return super().on_activate(state)


rclpy.init(args=sys.argv)
node = Recorder("lc")
try:
    while rclpy.ok() and not done.is_set():
        rclpy.spin_once(node, timeout_sec=0.05)
    # let the transition's answer and event go out before leaving
    for _ in range(10):
        rclpy.spin_once(node, timeout_sec=0.02)
except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
    pass
node.destroy_node()
rclpy.try_shutdown()
"""

DEMO = """
import launch
import lifecycle_msgs.msg
from launch.actions import EmitEvent, LogInfo, RegisterEventHandler, Shutdown
from launch_ros.actions import LifecycleNode
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState


def generate_launch_description():
    node = LifecycleNode(package="demo_pkg", executable="lc_node", name="managed",
                         namespace="", output="screen")
    return launch.LaunchDescription([
        RegisterEventHandler(OnStateTransition(
            target_lifecycle_node=node, start_state="configuring", goal_state="inactive",
            entities=[
                LogInfo(msg="managed reached inactive"),
                EmitEvent(event=ChangeState(
                    lifecycle_node_matcher=launch.events.matches_action(node),
                    transition_id=lifecycle_msgs.msg.Transition.TRANSITION_ACTIVATE)),
            ])),
        RegisterEventHandler(OnStateTransition(
            target_lifecycle_node=node, goal_state="active",
            entities=[LogInfo(msg="managed reached active"), Shutdown(reason="done")])),
        node,
        EmitEvent(event=ChangeState(
            lifecycle_node_matcher=launch.events.matches_action(node),
            transition_id=lifecycle_msgs.msg.Transition.TRANSITION_CONFIGURE)),
    ])
"""


def test_change_state_events_and_state_transition_handlers(ws: Workspace) -> None:
    ws.add_executable("lc_node", LC_NODE)
    ws.add_launch("lc.launch.py", DEMO)
    result = ws.launch("demo_pkg", "lc.launch.py", timeout=90)
    assert "managed reached inactive" in result.stdout, result.stdout + result.stderr
    assert "managed reached active" in result.stdout
    assert lines_of(ws.reports / "managed.lc") == ["configure", "activate"]
    assert result.returncode == 0, result.stderr


def test_autostart_configures_then_activates(ws: Workspace) -> None:
    ws.add_executable("lc_node", LC_NODE)
    ws.add_launch(
        "auto.launch.xml",
        """<launch>
  <lifecycle_node pkg="demo_pkg" exec="lc_node" name="auto" namespace="robot" autostart="true"
                  args="--exit-when-active"/>
</launch>""",
    )
    printed = ws.launch("demo_pkg", "auto.launch.xml", "--print")
    assert "lifecycle /robot/auto: configure, then activate" in printed.stdout, printed.stderr
    result = ws.launch("demo_pkg", "auto.launch.xml", timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    assert lines_of(ws.reports / "auto.lc") == ["configure", "activate"]


def test_lifecycle_node_needs_name_and_namespace(ws: Workspace) -> None:
    ws.add_launch(
        "bad.launch.py",
        "from launch import LaunchDescription\nfrom launch_ros.actions import LifecycleNode\n\n"
        "def generate_launch_description():\n"
        "    return LaunchDescription([LifecycleNode(package='demo_pkg', executable='x', name='n')])\n",
    )
    result = ws.launch("demo_pkg", "bad.launch.py", "--print")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "bad.launch.py:5: LifecycleNode needs 'name' and 'namespace'" in result.stderr
