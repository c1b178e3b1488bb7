"""Every user mistake is one line `error: file:line: ...`, no traceback, and nothing starts.

Each bad launch file first asks for a process that would create a marker file; the marker must
not exist afterwards, because everything is resolved before the first process starts.
"""

from __future__ import annotations

import sys

import pytest
from ament_workspace import Workspace

TOUCH_XML = '<executable cmd="touch {marker}"/>'

CASES = {
    "unknown-package": (
        "bad.launch.xml",
        '<launch>\n{touch}\n<node pkg="no_such_pkg" exec="x"/>\n</launch>',
        r"bad.launch.xml:3: package 'no_such_pkg' not found",
    ),
    "missing-executable": (
        "bad.launch.xml",
        '<launch>\n{touch}\n\n<node pkg="demo_pkg" exec="nope"/>\n</launch>',
        r"bad.launch.xml:4: executable 'nope' not found in package 'demo_pkg'",
    ),
    "missing-program": (
        "bad.launch.xml",
        '<launch>\n{touch}\n<executable cmd="no-such-program-xyz --flag"/>\n</launch>',
        r"bad.launch.xml:3: executable 'no-such-program-xyz' not found on the PATH",
    ),
    "missing-cwd": (
        "bad.launch.xml",
        '<launch>\n{touch}\n<executable cmd="true" cwd="/no/such/dir"/>\n</launch>',
        r"bad.launch.xml:3: working directory '/no/such/dir' does not exist",
    ),
    "missing-include": (
        "bad.launch.xml",
        '<launch>\n{touch}\n<include file="$(dirname)/gone.launch.py"/>\n</launch>',
        r"bad.launch.xml:3: launch file '.*/gone.launch.py' not found",
    ),
    "unknown-tag": (
        "bad.launch.xml",
        "<launch>\n{touch}\n<group>\n  <nod pkg='demo_pkg' exec='reporter'/>\n</group>\n</launch>",
        r"bad.launch.xml:4: unknown tag <nod> \(did you mean 'node'\?\) \(supported: .*node.*\)",
    ),
    "unknown-attribute": (
        "bad.launch.xml",
        "<launch>\n{touch}\n<node pkg='demo_pkg' exec='reporter' nmae='x'/>\n</launch>",
        r"bad.launch.xml:3: <node> has unknown attribute 'nmae' \(did you mean 'name'\?\)",
    ),
    "unknown-child": (
        "bad.launch.xml",
        "<launch>\n{touch}\n<node pkg='demo_pkg' exec='reporter'>\n<parm name='a' value='1'/>\n</node>\n</launch>",
        r"bad.launch.xml:4: <node> cannot contain <parm>",
    ),
    "missing-required-argument": (
        "bad.launch.xml",
        "<launch>\n{touch}\n<arg name='robot' description='which robot'/>\n</launch>",
        r"bad.launch.xml:3: launch argument 'robot' is required but was not given "
        r"\(pass robot:=<value>; which robot\)",
    ),
    "bad-choice": (
        "bad.launch.xml",
        "<launch>\n{touch}\n<arg name='mode' default='fast'><choice value='slow'/><choice value='safe'/></arg>\n</launch>",
        r"bad.launch.xml:3: launch argument 'mode': 'fast' is not one of \['slow', 'safe'\]",
    ),
    "unknown-substitution": (
        "bad.launch.xml",
        "<launch>\n{touch}\n<let name='a' value='$(varr b)'/>\n</launch>",
        r"bad.launch.xml:3: unknown substitution '\$\(varr\)'",
    ),
    "substitution-arity": (
        "bad.launch.xml",
        "<launch>\n{touch}\n<let name='a' value='$(env A B C)'/>\n</launch>",
        r"bad.launch.xml:3: \$\(env\) expects 1 or 2 arguments, got 3",
    ),
    "undefined-variable": (
        "bad.launch.xml",
        "<launch>\n{touch}\n<log message='$(var nobody)'/>\n</launch>",
        r"bad.launch.xml:3: launch configuration 'nobody' does not exist",
    ),
    "bad-condition": (
        "bad.launch.xml",
        "<launch>\n{touch}\n<log message='x' if='maybe'/>\n</launch>",
        r"bad.launch.xml:3: condition 'maybe' is not valid: expected true, 1, false or 0",
    ),
    "xml-syntax": (
        "bad.launch.xml",
        "<launch>\n{touch}\n<node pkg='demo_pkg'\n</launch>",
        r"bad.launch.xml:4: not well-formed XML",
    ),
    "yaml-unknown-key": (
        "bad.launch.yaml",
        "launch:\n- executable: {{cmd: 'touch {marker}'}}\n- node:\n    pkg: demo_pkg\n    exec: reporter\n    nmae: x\n",
        r"bad.launch.yaml:4: <node> has unknown attribute 'nmae'",
    ),
    "yaml-unknown-action": (
        "bad.launch.yaml",
        "launch:\n- executable: {{cmd: 'touch {marker}'}}\n- nodes: {{pkg: demo_pkg}}\n",
        r"bad.launch.yaml:3: unknown tag <nodes>",
    ),
    "python-composable": (
        "bad.launch.py",
        "from launch import LaunchDescription\nfrom launch.actions import ExecuteProcess\n"
        "from launch_ros.actions import ComposableNodeContainer\n\n"
        "def generate_launch_description():\n"
        "    return LaunchDescription([ExecuteProcess(cmd=['touch', '{marker}']),\n"
        "        ComposableNodeContainer(name='c', namespace='', package='p', executable='e')])\n",
        r"bad.launch.py:7: package 'p' not found",
    ),
    "python-unsupported-class": (
        "bad.launch.py",
        "from launch import LaunchDescription\n"
        "from launch.actions import OpaqueCoroutine\n\n"
        "def generate_launch_description():\n"
        "    return LaunchDescription([OpaqueCoroutine(coroutine=None)])\n",
        r"bad.launch.py:5: launch.actions.OpaqueCoroutine is not supported by dora-ros launch",
    ),
    "python-lifecycle": (
        "bad.launch.py",
        "import launch\nimport launch_ros.actions\n\ndef generate_launch_description():\n"
        "    return launch.LaunchDescription([launch_ros.actions.LifecycleNode(package='p', executable='e', name='n', namespace='')])\n",
        r"bad.launch.py:5: package 'p' not found",
    ),
    "python-unknown-keyword": (
        "bad.launch.py",
        "from launch import LaunchDescription\nfrom launch.actions import ExecuteProcess\n"
        "from launch_ros.actions import Node\n\n"
        "def generate_launch_description():\n"
        "    return LaunchDescription([ExecuteProcess(cmd=['touch', '{marker}']),\n"
        "        Node(package='demo_pkg', executable='reporter', bogus=1)])\n",
        r"bad.launch.py:7: Node: unsupported argument 'bogus' in dora-ros launch",
    ),
    "python-unknown-module": (
        "bad.launch.py",
        "import launch\nimport launch.frontend.parser\n",
        r"bad.launch.py:2: ModuleNotFoundError: module 'launch.frontend.parser' is not supported by dora-ros launch",
    ),
    "python-user-error": (
        "bad.launch.py",
        "from launch import LaunchDescription\n\ndef generate_launch_description():\n"
        "    return LaunchDescription([undefined_name])\n",
        r"bad.launch.py:4: NameError: name 'undefined_name' is not defined",
    ),
    "missing-global-parameter-file": (
        "bad.launch.xml",
        "<launch>\n{touch}\n<set_parameters_from_file filename='/no/such/globals.yaml'/>\n"
        "<node pkg='demo_pkg' exec='reporter'/>\n</launch>",
        r"bad.launch.xml:3: parameter file '/no/such/globals.yaml' not found",
    ),
    "python-shutdown-process-event": (
        "bad.launch.py",
        "from launch import LaunchDescription\nfrom launch.actions import EmitEvent\n"
        "from launch.events.process import ShutdownProcess\n\n"
        "def generate_launch_description():\n"
        "    return LaunchDescription([EmitEvent(event=ShutdownProcess())])\n",
        r"bad.launch.py:6: launch.events.process.ShutdownProcess is not supported by dora-ros",
    ),
    "python-set-parameter-not-a-ros-value": (
        "bad.launch.py",
        "from launch import LaunchDescription\nfrom launch.actions import ExecuteProcess\n"
        "from launch_ros.actions import Node, SetParameter\n\n"
        "def generate_launch_description():\n"
        "    return LaunchDescription([ExecuteProcess(cmd=['touch', '{marker}']),\n"
        "        SetParameter('y', [1, 'a']), Node(package='demo_pkg', executable='reporter')])\n",
        r"bad.launch.py:7: parameter 'y': \[1, 'a'\] is not a ROS 2 parameter value",
    ),
    "python-missing-required-in-include": (
        "bad.launch.xml",
        "<launch>\n{touch}\n<include file='$(dirname)/inner.launch.py'/>\n</launch>",
        r"inner.launch.py:6: launch argument 'needed' is required but was not given",
    ),
}

INNER_PY = """from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument


def generate_launch_description():
    return LaunchDescription([DeclareLaunchArgument('needed')])
"""


@pytest.mark.parametrize("case", sorted(CASES))
def test_error_is_one_line_with_file_and_line(ws: Workspace, case: str) -> None:
    name, text, pattern = CASES[case]
    marker = ws.root / "started"
    ws.add_launch("inner.launch.py", INNER_PY)
    path = ws.add_launch(name, text.format(touch=TOUCH_XML.format(marker=marker), marker=marker))
    result = ws.launch(str(path), timeout=30)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    import re

    assert re.search(pattern, lines[0]), lines[0]
    assert not marker.exists(), "a process started although the launch file is bad"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("no_such_pkg", "x.launch.xml"), "error: package 'no_such_pkg' not found"),
        (
            ("demo_pkg", "gone.launch.xml"),
            "error: launch file 'gone.launch.xml' not found in package 'demo_pkg'",
        ),
        (("/nowhere/x.launch.xml",), "error: launch file '/nowhere/x.launch.xml' not found"),
    ],
)
def test_command_line_errors(ws: Workspace, args: tuple[str, ...], message: str) -> None:
    result = ws.launch(*args, timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip().startswith(message), result.stderr
    assert "Traceback" not in result.stderr


def test_debug_adds_the_traceback(ws: Workspace) -> None:
    path = ws.add_launch(
        "bad.launch.xml", "<launch>\n<let name='a' value='$(var nobody)'/>\n</launch>"
    )
    result = ws.launch(str(path), "--debug", timeout=30)
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {path}:2: launch configuration 'nobody' does not exist"
    )


NO_INDEX = (
    "AMENT_PREFIX_PATH is not set; source a ROS 2 setup (/opt/ros/<distro>/setup.bash) or set "
    "AMENT_PREFIX_PATH (the ROS 2 packages pip installed with dora-ros are under "
)


def test_package_and_file_without_ament_index(ws: Workspace) -> None:
    # Before: a traceback ending in ament_index_python's OSError from find_launch_file.
    ws.env.pop("AMENT_PREFIX_PATH", None)
    result = ws.launch("demo_pkg", "x.launch.py", timeout=30)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [f"error: cannot look up package 'demo_pkg': {NO_INDEX}{sys.prefix})"]


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        (
            "share.launch.xml",
            "<launch>\n<arg name='a' default='1'/>\n"
            "<executable cmd='echo $(find-pkg-share demo_pkg)'/>\n</launch>",
            3,
        ),
        (
            "share.launch.py",
            "from launch import LaunchDescription\n"
            "from launch.actions import ExecuteProcess\n"
            "from launch_ros.substitutions import FindPackageShare\n\n\n"
            "def generate_launch_description():\n"
            "    return LaunchDescription([ExecuteProcess(cmd=['echo', FindPackageShare('demo_pkg')])])\n",
            7,
        ),
        (
            "find.launch.py",
            "from launch import LaunchDescription\n"
            "from launch.actions import ExecuteProcess\n"
            "from launch_ros.substitutions import FindPackageShare\n\n\n"
            "def generate_launch_description():\n"
            "    share = FindPackageShare('demo_pkg').find('demo_pkg')\n"
            "    return LaunchDescription([ExecuteProcess(cmd=['echo', share])])\n",
            7,
        ),
    ],
)
def test_find_pkg_share_without_ament_index(ws: Workspace, name: str, text: str, line: int) -> None:
    # Before: "substitution FindPackageShare failed (at .../search_paths.py:30): OSError: ...".
    path = ws.add_launch(name, text)
    ws.env.pop("AMENT_PREFIX_PATH", None)
    result = ws.launch(str(path), "--print", timeout=30)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"error: {path}:{line}: cannot look up package 'demo_pkg': {NO_INDEX}{sys.prefix})"
    ]
