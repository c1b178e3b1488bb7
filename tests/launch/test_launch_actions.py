"""Actions beyond the basics: includes across front ends, scopes, executables, env, timers,
parameter files. Most checks read `--print` (fast, nothing started); some run real processes."""

from __future__ import annotations

import shlex

from ament_workspace import Workspace


def plan(ws: Workspace, *args: str) -> list[str]:
    result = ws.launch(*args, "--print")
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def commands(lines: list[str]) -> list[list[str]]:
    return [shlex.split(line[len("  cmd: ") :]) for line in lines if line.startswith("  cmd: ")]


def test_includes_cross_front_ends_with_arguments(ws: Workspace) -> None:
    ws.add_launch(
        "top.launch.xml",
        """<launch>
  <include file="$(find-pkg-share demo_pkg)/launch/middle.launch.py">
    <arg name="who" value="from-xml"/>
  </include>
  <log message="after include who=$(var who)"/>
</launch>""",
    )
    ws.add_launch(
        "middle.launch.py",
        """from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, LogInfo
from launch.launch_description_sources import AnyLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("who"),
        LogInfo(msg=["python got ", LaunchConfiguration("who")]),
        IncludeLaunchDescription(
            AnyLaunchDescriptionSource(
                PathJoinSubstitution([FindPackageShare("demo_pkg"), "launch", "leaf.launch.yaml"])),
            launch_arguments={"depth": "3", "who": [LaunchConfiguration("who"), "+py"]}.items()),
    ])
""",
    )
    ws.add_launch(
        "leaf.launch.yaml",
        """launch:
- arg: {name: depth}
- log: {message: "yaml got $(var who) at depth $(var depth) in $(filename)"}
""",
    )
    lines = plan(ws, "demo_pkg", "top.launch.xml")
    leaf = ws.launch_dir / "leaf.launch.yaml"
    assert lines == [
        "log: python got from-xml",
        f"log: yaml got from-xml+py at depth 3 in {leaf}",
        # As in ROS 2, include arguments land in the including scope.
        "log: after include who=from-xml+py",
    ]


def test_group_scopes(ws: Workspace) -> None:
    ws.add_launch(
        "scopes.launch.xml",
        """<launch>
  <let name="a" value="outer"/>
  <group>
    <let name="a" value="scoped"/>
    <push-ros-namespace namespace="inner"/>
    <log message="in group a=$(var a)"/>
  </group>
  <log message="after scoped a=$(var a)"/>
  <group scoped="false">
    <let name="a" value="leaked"/>
  </group>
  <log message="after unscoped a=$(var a)"/>
  <group ns="ns1">
    <node pkg="demo_pkg" exec="reporter" name="n1"/>
    <group><push_ros_namespace namespace="/abs"/><node pkg="demo_pkg" exec="reporter" name="n2"/></group>
  </group>
  <node pkg="demo_pkg" exec="reporter" name="n3" namespace="rel"/>
</launch>""",
    )
    lines = plan(ws, "demo_pkg", "scopes.launch.xml")
    logs = [line for line in lines if line.startswith("log: ")]
    assert logs == [
        "log: in group a=scoped",
        "log: after scoped a=outer",
        "log: after unscoped a=leaked",
    ]
    titles = [line for line in lines if line.startswith("process ")]
    assert titles == [
        "process reporter-1  (ROS node n1, namespace /ns1)",
        "process reporter-2  (ROS node n2, namespace /abs)",
        "process reporter-3  (ROS node n3, namespace /rel)",
    ]


def test_executable_cmd_cwd_args_env_shell(ws: Workspace) -> None:
    ws.env["DEMO_GONE"] = "still-here"
    ws.add_launch(
        "exec.launch.xml",
        f"""<launch>
  <set_env name="DEMO_SET" value="set-value"/>
  <unset_env name="DEMO_GONE"/>
  <executable cmd="sh -c" args="'echo cwd=$PWD env=$DEMO_ENV set=$DEMO_SET gone=$DEMO_GONE'"
              cwd="{ws.root}" name="plain" output="screen">
    <env name="DEMO_ENV" value="$(var v)"/>
  </executable>
  <executable cmd="echo shell-$DEMO_SET | tr a-z A-Z" shell="true" name="piped" output="screen"/>
  <timer period="$(var delay)">
    <executable cmd="echo late" name="late" output="screen" if="$(not $(var skip))"/>
  </timer>
</launch>""",
    )
    result = ws.launch("demo_pkg", "exec.launch.xml", "v:=from-arg", "delay:=0.2", "skip:=false")
    assert result.returncode == 0, result.stderr
    assert f"plain-1: cwd={ws.root} env=from-arg set=set-value gone=" in result.stdout
    assert "piped-2: SHELL-SET-VALUE" in result.stdout
    assert "late-3: late" in result.stdout
    lines = plan(ws, "demo_pkg", "exec.launch.xml", "v:=x", "delay:=1", "skip:=true")
    assert "after 1.0 s:" in lines and not any("late" in line for line in lines)


def test_parameter_files_both_formats_and_python_parameter_values(ws: Workspace) -> None:
    config = ws.prefix / "share" / "demo_pkg" / "config"
    config.mkdir()
    (config / "all.yaml").write_text("/**:\n  ros__parameters:\n    from_wildcard: 11\n")
    (config / "named.yaml").write_text(
        "/robot/talker:\n  ros__parameters:\n    from_named: named\n"
        "other:\n  ros__parameters:\n    not_mine: 1\n"
    )
    ws.add_launch(
        "files.launch.xml",
        """<launch>
  <node pkg="demo_pkg" exec="reporter" name="talker" namespace="robot">
    <param from="$(find-pkg-share demo_pkg)/config/all.yaml"/>
    <param from="$(find-pkg-share demo_pkg)/config/named.yaml"/>
    <param name="inline" value="[1, 2, 3]"/>
    <param name="names" value="left;right" value-sep=";"/>
  </node>
</launch>""",
    )
    ws.add_launch(
        "values.launch.py",
        """import os
from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def generate_launch_description():
    share = get_package_share_directory("demo_pkg")
    return LaunchDescription([
        Node(package="demo_pkg", executable="reporter", name="py", namespace="robot",
             parameters=[os.path.join(share, "config", "all.yaml"),
                         {"as_text": ParameterValue(LaunchConfiguration("n", default="42"), value_type=str),
                          "as_int": ParameterValue(LaunchConfiguration("n", default="42"))}],
             condition=IfCondition(PythonExpression(["1 + 1 == ", "2"]))),
    ])
""",
    )
    assert ws.launch("demo_pkg", "files.launch.xml").returncode == 0
    assert ws.launch("demo_pkg", "values.launch.py").returncode == 0
    assert ws.report("/robot/talker")["params"] == {
        "from_wildcard": 11,
        "from_named": "named",
        "inline": [1, 2, 3],
        "names": ["left", "right"],
    }
    assert ws.report("/robot/py")["params"] == {"from_wildcard": 11, "as_text": "42", "as_int": 42}


def test_show_args_for_python_and_yaml(ws: Workspace) -> None:
    ws.add_launch(
        "args.launch.yaml",
        """launch:
- arg: {name: speed, default: "1.0", description: how fast}
- arg: {name: mode, description: which mode, choices: [a, b]}
""",
    )
    result = ws.launch("demo_pkg", "args.launch.yaml", "--show-args")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "Arguments (pass arguments as '<name>:=<value>'):\n\n"
        "    'speed':\n        how fast\n        (default: '1.0')\n\n"
        "    'mode':\n        which mode\n        Valid choices are: ['a', 'b']\n        (required)\n\n"
    )


def test_python_shutdown_action_in_timer_and_python_source(ws: Workspace) -> None:
    ws.add_launch(
        "inner.launch.py",
        """from launch import LaunchDescription
from launch.actions import LogInfo


def generate_launch_description():
    return LaunchDescription([LogInfo(msg="inner loaded")])
""",
    )
    ws.add_launch(
        "stopper.launch.py",
        """from launch import LaunchDescription
from launch.actions import ExecuteProcess, IncludeLaunchDescription, LogInfo, Shutdown, TimerAction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import TextSubstitution, ThisLaunchFileDir


def generate_launch_description():
    return LaunchDescription([
        IncludeLaunchDescription(PythonLaunchDescriptionSource([ThisLaunchFileDir(), "/inner.launch.py"])),
        ExecuteProcess(cmd=["sleep", "30"], name="sleeper"),
        TimerAction(period=1.0, actions=[LogInfo(msg=TextSubstitution(text="stopping")),
                                         Shutdown(reason="timer said so")]),
    ])
""",
    )
    result = ws.launch("demo_pkg", "stopper.launch.py", timeout=20)
    assert result.returncode == 0, result.stderr
    user = [
        line.split("]: ", 1)[1] for line in result.stdout.splitlines() if "[launch.user]" in line
    ]
    assert user == ["inner loaded", "stopping"]
    assert "shutting down: timer said so" in result.stdout
    assert "[INFO] [sleeper-1]: process has died" in result.stdout  # stopped by SIGINT
