"""Actions, substitutions and event handlers of current launch / launch_ros releases.

Fixtures of our own with the constructs real launch files use (ros2_control's PathSubstitution,
nav2's AppendEnvironmentVariable and RewrittenYaml-style substitutions, Kilted's ForLoop and
ForEach), resolved in process against the test's ament workspace; the event handlers run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from ament_workspace import Workspace, resolve_in_process

from dora_ros.launch.plan import Log, StartProcess, StartTimer


def processes(steps: list[Any]) -> list[Any]:
    return [s.spec for s in steps if isinstance(s, StartProcess)]


XML = """<launch>
  <arg name="n" default="2"/>
  <set_env name="DEMO_PATH" value=""/>
  <append_env name="DEMO_PATH" value="/a"/>
  <append_env name="DEMO_PATH" value="/b"/>
  <append_env name="DEMO_PATH" value="/z" prepend="true"/>
  <append_env name="DEMO_LIST" value="x" separator=","/>
  <append_env name="DEMO_LIST" value="y" separator=","/>
  <let name="content" value="$(file-content $(dirname)/word.txt)"/>
  <for len="$(var n)" name="i">
    <executable cmd="echo idx$(index i) $(if $(equals $(index i) 0) zero other) $(var content)"/>
  </for>
  <for_each values="{id: 7, who: a};{id: 8, who: b}">
    <executable cmd="echo $(for-var who) $(for-var id) $(for-var missing dflt)"/>
  </for_each>
  <executable cmd="echo $(any false $(var t true)) $(all true false) $(log_dir)"/>
  <executable cmd="echo $(exec-in-pkg stub demo_pkg) $(string-join - a b c) $(path-join a b)"/>
  <log message="warned" level="warn"/>
  <set_use_sim_time value="true"/>
  <set_parameters_from_file filename="$(dirname)/globals.yaml"/>
  <ros_timer period="1.5"><executable cmd="echo later"/></ros_timer>
  <reset><keep name="kept" value="$(var n)"/></reset>
  <executable cmd="echo $(var kept) $(var n gone)"/>
  <set_ros_log_dir new_log_dir="nodes"/>
  <node pkg="demo_pkg" exec="reporter" name="r"/>
  <reset_env/>
  <executable cmd="echo $(env DEMO_PATH none)"/>
</launch>
"""


def test_newer_tags_and_substitutions_resolve(ws: Workspace) -> None:
    (ws.launch_dir / "word.txt").write_text("hello")
    (ws.launch_dir / "globals.yaml").write_text("/**:\n  ros__parameters:\n    g: 1\n")
    steps, _ = resolve_in_process(ws, ws.add_launch("new.launch.xml", XML))
    procs = processes(steps)
    cmds = [list(p.cmd[1:]) if p.cmd[0].endswith("echo") else list(p.cmd) for p in procs]
    assert cmds[0] == ["idx0", "zero", "hello"]
    assert cmds[1] == ["idx1", "other", "hello"]
    assert cmds[2] == ["a", "7", "dflt"]
    assert cmds[3] == ["b", "8", "dflt"]
    assert cmds[4] == ["true", "false", str(ws.log_dir)]
    assert cmds[5] == [str(ws.prefix / "lib/demo_pkg/stub"), "a-b-c", "a/b"]
    assert cmds[6] == ["2", "gone"]  # <reset> kept only `kept`
    assert procs[0].env["DEMO_PATH"] == "/z:/a:/b"
    assert procs[0].env["DEMO_LIST"] == "x,y"
    node = procs[7]
    words = list(node.cmd)
    assert words[words.index("-p") + 1] == "use_sim_time:=true"
    assert str(ws.launch_dir / "globals.yaml") in words
    assert node.env["ROS_LOG_DIR"] == str(ws.log_dir / "nodes")
    # global settings in the order they were made, before the node's own
    assert words.index("use_sim_time:=true") < words.index(str(ws.launch_dir / "globals.yaml"))
    assert procs[8].cmd[1:] == (ws.env.get("DEMO_PATH", "none"),)  # <reset_env/>
    assert Log("warned", "WARNING") in steps
    timers = [s for s in steps if isinstance(s, StartTimer)]
    assert timers[0].period == 1.5


PYTHON = """
import os
from launch import LaunchDescription
from launch.actions import (AppendEnvironmentVariable, ExecuteProcess, ForEach, ForLoop, Log,
    PopEnvironment, PopLaunchConfigurations, PushEnvironment, PushLaunchConfigurations,
    SetEnvironmentVariable, SetLaunchConfiguration, TimerAction, UnsetLaunchConfiguration)
from launch.substitutions import (AllSubstitution, AnySubstitution, FileContent,
    IfElseSubstitution, LaunchConfiguration, PathSubstitution, StringJoinSubstitution)
from launch_ros.actions import Node, PushROSNamespace, SetROSLogDir, SetUseSimTime
from launch_ros.substitutions import ExecutableInPackage, FindPackageShare

SHARE = FindPackageShare("demo_pkg").find("demo_pkg")


def generate_launch_description():
    return LaunchDescription([
        SetLaunchConfiguration("a", "1"),
        PushLaunchConfigurations(),
        SetLaunchConfiguration("a", "2"),
        UnsetLaunchConfiguration("a"),
        ExecuteProcess(cmd=["echo", LaunchConfiguration("a", default="unset")]),
        PopLaunchConfigurations(),
        PushEnvironment(),
        SetEnvironmentVariable("DEMO_E", "inner"),
        AppendEnvironmentVariable("DEMO_E", "more", separator="+"),
        ExecuteProcess(cmd=["echo", LaunchConfiguration("a")]),
        PopEnvironment(),
        ExecuteProcess(cmd=[
            "echo",
            PathSubstitution(FindPackageShare("demo_pkg")) / "launch" / "word.txt",
            StringJoinSubstitution([["x", LaunchConfiguration("a")], "y"], delimiter="."),
            IfElseSubstitution(AnySubstitution("false", "1"), "yes", "no"),
            AllSubstitution("true", "false"),
            FileContent(os.path.join(SHARE, "launch", "word.txt")),
            ExecutableInPackage("stub", "demo_pkg"),
        ]),
        ForLoop(2, function=lambda i: [ExecuteProcess(cmd=["echo", f"loop{i}"])]),
        ForEach("{x: 1};{x: 2, y: b}", function=lambda x, y="a": [
            ExecuteProcess(cmd=["echo", f"each{x}{y}"])]),
        TimerAction(period=0.5, actions=[Log(msg="later", level="ERROR")],
                    cancel_on_shutdown=False),
        SetROSLogDir("sub"),
        SetUseSimTime(True),
        PushROSNamespace("robot"),
        Node(package="demo_pkg", executable="reporter", name="r"),
    ])


if __name__ == "__main__":
    from launch import LaunchService  # imported, never used under dora-ros launch

    service = LaunchService()
    service.include_launch_description(generate_launch_description())
    service.run()
"""


def test_newer_python_api_resolves(ws: Workspace) -> None:
    (ws.launch_dir / "word.txt").write_text("hello")
    steps, _ = resolve_in_process(ws, ws.add_launch("new.launch.py", PYTHON))
    procs = processes(steps)
    assert procs[0].cmd[1:] == ("unset",)
    assert procs[1].cmd[1:] == ("1",)  # popped back to a=1
    assert procs[1].env["DEMO_E"] == "inner+more"
    assert "DEMO_E" not in procs[2].env  # PopEnvironment
    assert list(procs[2].cmd[1:]) == [
        str(ws.launch_dir / "word.txt"),
        "x1.y",
        "yes",
        "false",
        "hello",
        str(ws.prefix / "lib/demo_pkg/stub"),
    ]
    assert [p.cmd[1] for p in procs[3:7]] == ["loop0", "loop1", "each1a", "each2b"]
    node = procs[7]
    assert node.ros_node == ("r", "/robot")
    assert "use_sim_time:=true" in node.cmd
    assert node.env["ROS_LOG_DIR"] == os.path.join(ws.env["ROS_LOG_DIR"], "sub")
    timer = next(s for s in steps if isinstance(s, StartTimer))
    assert timer.steps == (Log("later", "ERROR"),)


HANDLERS = """
import sys
from launch import LaunchDescription
from launch.actions import (EmitEvent, ExecuteProcess, LogInfo, RegisterEventHandler,
    UnregisterEventHandler)
from launch.event_handlers import (OnExecutionComplete, OnIncludeLaunchDescription, OnProcessExit,
    OnProcessIO)
from launch.events import IncludeLaunchDescription
from launch.substitutions import LocalSubstitution

talker = ExecuteProcess(cmd=[sys.executable, "-c", "print('hello from talker')"], output="log")
quiet = ExecuteProcess(cmd=[sys.executable, "-c", "import sys; sys.exit(3)"])
dropped = OnProcessExit(target_action=quiet, on_exit=[LogInfo(msg="must not appear")])


def generate_launch_description():
    return LaunchDescription([
        RegisterEventHandler(OnProcessIO(
            target_action=talker,
            on_stdout=lambda event: LogInfo(msg="io: " + event.text.decode().strip()))),
        RegisterEventHandler(OnExecutionComplete(
            target_action=talker, on_completion=[LogInfo(msg="talker complete")])),
        RegisterEventHandler(OnProcessExit(
            target_action=quiet,
            on_exit=[LogInfo(msg=["quiet exited with ", LocalSubstitution("event.returncode")])])),
        RegisterEventHandler(OnProcessExit(
            target_action=quiet,
            on_exit=lambda event, context: LogInfo(
                msg=f"locals say {context.locals.event.returncode}"))),
        RegisterEventHandler(dropped),
        UnregisterEventHandler(dropped),
        RegisterEventHandler(OnIncludeLaunchDescription()),
        EmitEvent(event=IncludeLaunchDescription(LaunchDescription([LogInfo(msg="included")]))),
        talker,
        quiet,
    ])
"""


def test_newer_event_handlers_fire(ws: Workspace) -> None:
    ws.add_launch("handlers.launch.py", HANDLERS)
    result = ws.launch("demo_pkg", "handlers.launch.py", timeout=60)
    out = result.stdout
    assert "io: hello from talker" in out, out + result.stderr
    assert "talker complete" in out
    assert "quiet exited with 3" in out
    assert "locals say 3" in out
    assert "included" in out
    assert "must not appear" not in out


HELPER = '''
"""A launch helper written against ROS 2's launch API, as nav2_common's RewrittenYaml is."""
import tempfile
from typing import Optional

import launch
import yaml
from launch.launch_context import LaunchContext
from launch.some_substitutions_type import SomeSubstitutionsType
from launch.utilities import normalize_to_list_of_substitutions, perform_substitutions


class Rewritten(launch.Substitution):
    def __init__(self, source_file: SomeSubstitutionsType, rewrites: dict,
                 root_key: Optional[SomeSubstitutionsType] = None) -> None:
        super().__init__()
        self.source = normalize_to_list_of_substitutions(source_file)
        self.rewrites = {k: normalize_to_list_of_substitutions(v) for k, v in rewrites.items()}
        self.root_key = None if root_key is None else normalize_to_list_of_substitutions(root_key)

    def describe(self) -> str:
        return "Rewritten"

    def perform(self, context: LaunchContext) -> str:
        path = perform_substitutions(context, self.source)
        data = yaml.safe_load(open(path))
        params = data["/**"]["ros__parameters"]
        for key, value in self.rewrites.items():
            params[key] = yaml.safe_load(perform_substitutions(context, value))
        if self.root_key is not None:
            data = {perform_substitutions(context, self.root_key): data}
        out = tempfile.NamedTemporaryFile(mode="w", delete=False, suffix=".yaml")
        yaml.safe_dump(data, out)
        out.close()
        return out.name
'''

HELPER_LAUNCH = """
from launch import LaunchDescription, LaunchService
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare
from rewritten_helper import Rewritten


def generate_launch_description():
    params = Rewritten(
        PathJoinSubstitution([FindPackageShare("demo_pkg"), "launch", "base.yaml"]),
        {"speed": LaunchConfiguration("speed")},
    )
    return LaunchDescription([
        DeclareLaunchArgument("speed", default_value="2.5"),
        Node(package="demo_pkg", executable="reporter", name="helped", namespace="h",
             parameters=[params]),
    ])


if __name__ == "__main__":
    LaunchService().run()
"""


def test_third_party_substitution_written_against_ros2_api(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    helpers = ws.root / "helpers"
    helpers.mkdir()
    (helpers / "rewritten_helper.py").write_text(HELPER)
    (ws.launch_dir / "base.yaml").write_text("/**:\n  ros__parameters:\n    speed: 1.0\n    k: 3\n")
    monkeypatch.syspath_prepend(str(helpers))
    try:
        _, files = resolve_in_process(ws, ws.add_launch("helped.launch.py", HELPER_LAUNCH))
    finally:
        sys.modules.pop("rewritten_helper", None)
    (content,) = files.values()
    assert content == {"/**": {"ros__parameters": {"speed": 2.5, "k": 3}}}
    # and a real rclpy node gets the rewritten value
    ws.env["PYTHONPATH"] = os.pathsep.join([str(helpers), ws.env.get("PYTHONPATH", "")])
    result = ws.launch("demo_pkg", "helped.launch.py", "speed:=4.0")
    assert result.returncode == 0, result.stderr
    assert ws.report("/h/helped")["params"] == {"speed": 4.0, "k": 3}


def test_unsupported_name_is_refused_where_used_not_where_imported(ws: Workspace) -> None:
    ws.add_launch(
        "refused.launch.py",
        "from launch import LaunchDescription, LaunchService\n"
        "from launch.actions import OpaqueCoroutine\n\n\n"
        "def generate_launch_description():\n"
        "    return LaunchDescription([OpaqueCoroutine(coroutine=None)])\n",
    )
    result = ws.launch("demo_pkg", "refused.launch.py", "--print")
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "refused.launch.py:6: launch.actions.OpaqueCoroutine is not supported by dora-ros launch"
    ), result.stderr


def test_find_package_share_find_without_context(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dora_ros.launch.substitutions import FindPackagePrefix, FindPackageShare

    monkeypatch.setenv("AMENT_PREFIX_PATH", ws.env["AMENT_PREFIX_PATH"])
    assert FindPackageShare("demo_pkg").find("demo_pkg") == str(ws.prefix / "share/demo_pkg")
    assert FindPackagePrefix("demo_pkg").find("demo_pkg") == str(ws.prefix)
    assert Path(FindPackageShare("demo_pkg").find("demo_pkg")).is_dir()


def test_output_per_stream_mapping(ws: Workspace) -> None:
    path = ws.add_launch(
        "out.launch.py",
        "from launch import LaunchDescription\nfrom launch.actions import ExecuteProcess\n\n"
        "def generate_launch_description():\n"
        "    return LaunchDescription([\n"
        "        ExecuteProcess(cmd=['true'], output={'stdout': 'screen', 'stderr': 'log'}),\n"
        "        ExecuteProcess(cmd=['true'], output={'stdout': 'log', 'stderr': 'screen'}),\n"
        "        ExecuteProcess(cmd=['true'], output='own_log'),\n"
        "    ])\n",
    )
    steps, _ = resolve_in_process(ws, path)
    assert [p.output for p in processes(steps)] == ["screen", "log", "log"]


def test_pre_foxy_node_spellings(ws: Workspace) -> None:
    path = ws.add_launch(
        "old.launch.py",
        "from launch import LaunchDescription\nfrom launch_ros.actions import Node\n\n"
        "def generate_launch_description():\n"
        "    return LaunchDescription([Node(package='demo_pkg', node_executable='reporter',\n"
        "                                   node_name='old')])\n",
    )
    steps, _ = resolve_in_process(ws, path)
    assert processes(steps)[0].ros_node == ("old", "/")


STACK_XML = """<launch>
  <let name="a" value="1"/>
  <push_vars/>
  <let name="a" value="2"/>
  <unset name="a"/>
  <executable cmd="echo $(var a unset)"/>
  <pop_vars/>
  <push_env/>
  <set_env name="DEMO_S" value="inner"/>
  <executable cmd="echo $(var a) $(env DEMO_S none)"/>
  <pop_env/>
  <executable cmd="echo $(env DEMO_S none)"/>
</launch>
"""

STACK_YAML = """launch:
- let: {name: a, value: "1"}
- push_vars:
- let: {name: a, value: "2"}
- unset: {name: a}
- executable: {cmd: "echo $(var a unset)"}
- pop_vars: {}
- push_env:
- set_env: {name: DEMO_S, value: inner}
- executable: {cmd: "echo $(var a) $(env DEMO_S none)"}
- pop_env:
- executable: {cmd: "echo $(env DEMO_S none)"}
"""


@pytest.mark.parametrize("name,text", [("s.launch.xml", STACK_XML), ("s.launch.yaml", STACK_YAML)])
def test_stack_tags_of_ros2_front_ends(ws: Workspace, name: str, text: str) -> None:
    """`unset`, `push_vars`/`pop_vars`, `push_env`/`pop_env`: the tags ROS 2 exposes."""
    steps, _ = resolve_in_process(ws, ws.add_launch(name, text))
    cmds = [list(p.cmd[1:]) for p in processes(steps)]
    assert cmds == [["unset"], ["1", "inner"], ["none"]]


def test_print_shows_the_environment_the_launch_file_set(ws: Workspace) -> None:
    ws.add_launch(
        "env.launch.xml",
        """<launch>
  <set_env name="DEMO_SET" value="one"/>
  <append_env name="DEMO_SET" value="two" separator=","/>
  <unset_env name="HOME"/>
  <executable cmd="true">
    <env name="OWN" value="x"/>
  </executable>
</launch>""",
    )
    printed = ws.launch("demo_pkg", "env.launch.xml", "--print")
    assert printed.returncode == 0, printed.stderr
    assert "  env: DEMO_SET=one,two\n" in printed.stdout
    assert "  env: OWN=x\n" in printed.stdout
    assert "  env: HOME unset\n" in printed.stdout
