"""Where dora-ros launch resolved differently from ROS 2's launch, or crashed, and now does not.

The fixtures use the constructs of ROS 2's own front-end tests (launch_ros's node front-end test:
`value-sep`, escaped and quoted list items, `type=`, parameter files between inline parameters)
with values of our own; the expected values are what ROS 2 gives for them. Resolution runs in
process (the parameter files are read before the launch's temporary folder goes); one test
starts the rclpy reporter to see the values as a node does.
"""

from __future__ import annotations

import re
import shlex
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from ament_workspace import Workspace

from dora_ros.launch.action import visit
from dora_ros.launch.context import LaunchContext
from dora_ros.launch.frontend_python import python_launch_api
from dora_ros.launch.launch_description_sources import load_launch_file
from dora_ros.launch.plan import StartProcess
from dora_ros.launch.substitutions import parse_substitution, perform


def resolve(ws: Workspace, path: Path, monkeypatch: pytest.MonkeyPatch, **args: str) -> Any:
    """Visit a launch file in process; return [(cmd, [param file contents...]), ...]."""
    monkeypatch.setenv("AMENT_PREFIX_PATH", ws.env["AMENT_PREFIX_PATH"])
    context = LaunchContext(launch_arguments=args)
    try:
        with python_launch_api():
            visit(load_launch_file(str(path)), context)
        out = []
        for step in context.steps:
            if isinstance(step, StartProcess):
                cmd = list(step.spec.cmd)
                files = [cmd[i + 1] for i, w in enumerate(cmd) if w == "--params-file"]
                out.append((cmd, [yaml.safe_load(Path(f).read_text()) for f in files]))
        return out
    finally:
        context.shared.remove_temp_dir()


PARAMS_XML = r"""<launch>
  <let name="quoted" value="\'[1, 3]\'"/>
  <let name="nums" value="[4, 6]"/>
  <let name="hundred" value="100"/>
  <node pkg="demo_pkg" exec="reporter" name="n" namespace="ns">
    <param name="first" value="7"/>
    <param from="$(dirname)/file.yaml"/>
    <param name="other" value="y"/>
    <param name="g">
      <param name="list_sep" value="3, 1, 4" value-sep=", "/>
      <param name="from_var" value="$(var nums)"/>
      <param name="quoted_var" value="$(var quoted)"/>
      <param name="quoted_items" value="'3', '1'" value-sep=", "/>
      <param name="escaped_items" value="\'3\', \'1\'" value-sep=", "/>
      <param name="backslash_items" value="'\xy', '\zw'" value-sep=", "/>
      <param name="typed_str" value="$(var hundred)" type="str"/>
      <param name="typed_str_text" value="100" type="str"/>
      <param name="typed_list" value="3, 1" value-sep=", " type="list_of_str"/>
      <param name="typed_float" value="2" type="float"/>
      <param name="empty" value="''"/>
      <param name="dq_quoted_nums" value="&quot;'3'&quot;, &quot;'1'&quot;" value-sep=", "/>
      <param name="dq_quoted_words" value="&quot;'xy'&quot;, &quot;'zw'&quot;" value-sep=", "/>
      <param name="typed_quoted_list" value="'3', '1'" value-sep=", " type="list_of_str"/>
    </param>
  </node>
</launch>
"""

PARAMS_YAML = r"""launch:
- let: {name: quoted, value: "\\'[1, 3]\\'"}
- let: {name: nums, value: "[4, 6]"}
- let: {name: hundred, value: "100"}
- node:
    pkg: demo_pkg
    exec: reporter
    name: n
    namespace: ns
    param:
    - {name: first, value: 7}
    - {from: "$(dirname)/file.yaml"}
    - {name: other, value: y}
    - name: g
      param:
      - {name: list_sep, value: [3, 1, 4]}
      - {name: from_var, value: "$(var nums)"}
      - {name: quoted_var, value: "$(var quoted)"}
      - {name: quoted_items, value: ["3", "1"]}
      - {name: escaped_items, value: ["\\'3\\'", "\\'1\\'"]}
      - {name: backslash_items, value: ['\xy', '\zw']}
      - {name: typed_str, value: "$(var hundred)", type: str}
      - {name: typed_str_text, value: "100", type: str}
      - {name: typed_list, value: ["3", "1"], type: list_of_str}
      - {name: typed_float, value: 2.0, type: float}
      - {name: empty, value: ""}
      - {name: dq_quoted_nums, value: ["'3'", "'1'"]}
      - {name: dq_quoted_words, value: ["'xy'", "'zw'"]}
      - {name: typed_quoted_list, value: ["'3'", "'1'"], type: list_of_str}
"""

EXPECTED_GROUP = {
    "list_sep": [3, 1, 4],
    "from_var": [4, 6],
    "quoted_var": "[1, 3]",
    "quoted_items": ["3", "1"],
    "escaped_items": ["'3'", "'1'"],
    "backslash_items": ["xy", "zw"],
    "typed_str": "100",
    "typed_str_text": "100",
    "typed_list": ["3", "1"],
    "typed_float": 2.0,
    "empty": "",
    # launch_ros's param8/param10: items in double quotes keep their single quotes
    "dq_quoted_nums": ["'3'", "'1'"],
    "dq_quoted_words": ["'xy'", "'zw'"],
    # launch_ros's param14: quoted items typed list_of_str keep their quotes
    "typed_quoted_list": ["'3'", "'1'"],
}


def _merged(files: list[dict[str, Any]]) -> dict[str, Any]:
    """What a node ends up with: the files in order, a later value winning."""
    out: dict[str, Any] = {}
    for content in files:
        (section,) = content.values()
        out.update(section["ros__parameters"])
    return out


@pytest.mark.parametrize(
    ("name", "text"), [("p.launch.xml", PARAMS_XML), ("p.launch.yaml", PARAMS_YAML)]
)
def test_params_typed_escaped_and_in_document_order(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, name: str, text: str
) -> None:
    (ws.launch_dir / "file.yaml").write_text(
        "/**:\n  ros__parameters:\n    first: 8\n    other: x\n"
    )
    [(_cmd, files)] = resolve(ws, ws.add_launch(name, text), monkeypatch)
    # one --params-file per <param>, in document order: the file sits between the inline ones
    assert [next(iter(f.values()))["ros__parameters"] for f in files[:3]] == [
        {"first": 7},
        {"first": 8, "other": "x"},
        {"other": "y"},
    ]
    params = _merged(files)
    assert params["first"] == 8  # the file comes after first=7
    assert params["other"] == "y"  # and before other=y
    group = params["g"]
    for key, value in EXPECTED_GROUP.items():
        assert group[key] == value, key
        assert type(group[key]) is type(value), key


def test_param_order_and_type_reach_an_rclpy_node(ws: Workspace) -> None:
    # Keyed by the node's full name, as the inline params' generated files are: rcl merges the
    # sections of one key in command-line order. (A `/**` section is another key, applied in the
    # order the keys first appear: after `/t/order` here, so it would win, in ROS 2 as here.)
    (ws.launch_dir / "file.yaml").write_text(
        "/t/order:\n  ros__parameters:\n    first: 8\n    later: 1\n"
    )
    ws.add_launch(
        "order.launch.xml",
        """<launch>
  <node pkg="demo_pkg" exec="reporter" name="order" namespace="t">
    <param name="first" value="7"/>
    <param from="$(dirname)/file.yaml"/>
    <param name="later" value="2"/>
    <param name="label" value="100" type="str"/>
    <param name="items" value="\\'a\\', \\'b\\'" value-sep=", "/>
  </node>
</launch>""",
    )
    result = ws.launch("demo_pkg", "order.launch.xml")
    assert result.returncode == 0, result.stderr
    params = ws.report("/t/order")["params"]
    assert params["first"] == 8
    assert params["later"] == 2  # a file's key overridden by a later inline param
    assert params["label"] == "100"
    assert params["items"] == ["'a'", "'b'"]


def _print(ws: Workspace, name: str, text: str, *extra: str) -> Any:
    ws.add_launch(name, text)
    return ws.launch("demo_pkg", name, "--print", *extra)


def _cmds(stdout: str) -> list[list[str]]:
    return [
        shlex.split(line.split("cmd: ", 1)[1]) for line in stdout.splitlines() if "cmd: " in line
    ]


def test_a_substituted_argument_is_one_word_even_with_spaces_and_quotes(ws: Workspace) -> None:
    result = _print(
        ws,
        "args.launch.xml",
        """<launch>
  <arg name="msg" default="don't split me"/>
  <executable cmd="echo $(var msg) two 'three four'" args="$(var msg) x$(var msg)y"/>
  <node pkg="demo_pkg" exec="reporter" args="--flag $(var msg)"/>
</launch>""",
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    echo, node = _cmds(result.stdout)
    assert echo[:4] == ["echo", "don't split me", "two", "three four"]
    assert echo[4:] == ["don't split me", "xdon't split mey"]
    assert node[1:3] == ["--flag", "don't split me"]


def test_a_substituted_argument_with_only_spaces_is_one_word(ws: Workspace) -> None:
    result = _print(
        ws,
        "spaces.launch.xml",
        """<launch>
  <arg name="x" default="a b c"/>
  <executable cmd="echo" args="$(var x)"/>
</launch>""",
    )
    assert result.returncode == 0, result.stderr
    assert _cmds(result.stdout) == [["echo", "a b c"]]


def test_unbalanced_quote_in_the_file_is_one_line(ws: Workspace) -> None:
    result = _print(ws, "q.launch.xml", '<launch>\n<executable cmd="echo \'open"/>\n</launch>')
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert re.search(r"q.launch.xml:2: command line text .*No closing quotation", result.stderr)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(equals 1 true)", "true"),
        ("$(equals 0 FALSE)", "true"),
        ("$(equals 1 false)", "false"),
        ("$(equals 1.0 1)", "true"),
        ("$(equals abc abc)", "true"),
        ("$(not-equals true 1)", "false"),
    ],
)
def test_equals_as_ros2(text: str, expected: str) -> None:
    assert perform(LaunchContext(), parse_substitution(text)) == expected


def test_anon_is_a_valid_node_name() -> None:
    name = perform(LaunchContext(), parse_substitution("$(anon my-node.v2)"))
    assert re.fullmatch(r"[A-Za-z0-9_]+", name), name
    assert name.startswith("my_node_v2_" + socket.gethostname().replace("-", "_").replace(".", "_"))


COMMAND_XML = """<launch>
  <let name="out" value="$(command 'touch {marker}')"/>
  <executable cmd="echo $(var out)"/>
</launch>"""


def test_print_does_not_run_commands_unless_asked(ws: Workspace) -> None:
    marker = ws.root / "ran"
    result = _print(ws, "cmd.launch.xml", COMMAND_XML.format(marker=marker))
    assert result.returncode == 0, result.stderr
    assert not marker.exists()
    assert f"note: not run (pass --eval to run it): $(command 'touch {marker}')" in result.stdout
    result = ws.launch("demo_pkg", "cmd.launch.xml", "--print", "--eval")
    assert result.returncode == 0, result.stderr
    assert marker.exists()
    assert "note: not run" not in result.stdout


def test_print_says_it_ran_an_opaque_function(ws: Workspace) -> None:
    result = _print(
        ws,
        "of.launch.py",
        """from launch import LaunchDescription
from launch.actions import ExecuteProcess, OpaqueFunction


def make(context):
    return [ExecuteProcess(cmd=["true"])]


def generate_launch_description():
    return LaunchDescription([OpaqueFunction(function=make)])
""",
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"note: ran OpaqueFunction make \(.*of.launch.py:10\)", result.stdout)
    assert "cmd: true" in result.stdout


# -- errors: one line naming the user's file and line -------------------------------------------


def _error(result: Any) -> str:
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_quote_in_a_substituted_command_value_is_not_a_crash(ws: Workspace) -> None:
    result = _print(
        ws,
        "quote.launch.xml",
        '<launch>\n<arg name="msg" default="don\'t"/>\n<executable cmd="echo $(var msg)"/>\n</launch>',
    )
    assert result.returncode == 0, result.stderr
    assert _cmds(result.stdout)[0] == ["echo", "don't"]


def test_quote_in_a_command_substitution_is_one_line(ws: Workspace) -> None:
    text = '<launch>\n<arg name="msg" default="don\'t"/>\n<let name="x" value="$(command \'echo $(var msg)\')"/>\n</launch>'
    line = _error(_print(ws, "quote2.launch.xml", text, "--eval"))
    assert re.search(r"quote2.launch.xml:3: command 'echo don't' cannot be split into words", line)


def test_user_substitution_exception_is_one_line(ws: Workspace) -> None:
    line = _error(
        _print(
            ws,
            "usersub.launch.py",
            """from launch import LaunchDescription, Substitution
from launch.actions import ExecuteProcess


class Broken(Substitution):
    def describe(self):
        return "Broken()"

    def perform(self, context):
        return {}["missing"]


def generate_launch_description():
    return LaunchDescription([
        ExecuteProcess(cmd=["echo", Broken()]),
    ])
""",
        )
    )
    assert re.search(
        r"usersub.launch.py:15: substitution Broken\(\) failed \(at .*usersub.launch.py:10\): "
        r"KeyError: 'missing'",
        line,
    ), line


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        (
            "inc.launch.xml",
            '<launch>\n\n<include file="$(dirname)/empty.launch.xml">\n'
            '  <arg name="a" value="$(var nope)"/>\n</include>\n</launch>',
            "inc.launch.xml:3",
        ),
        (
            "ns.launch.xml",
            '<launch>\n\n\n<group ns="$(var nope)">\n<executable cmd="true"/>\n</group>\n</launch>',
            "ns.launch.xml:4",
        ),
        (
            "grp.launch.py",
            """from launch import LaunchDescription
from launch.actions import GroupAction
from launch.substitutions import LaunchConfiguration


def generate_launch_description():
    return LaunchDescription([
        GroupAction([], launch_configurations={"a": LaunchConfiguration("nope")}),
    ])
""",
            "grp.launch.py:8",
        ),
        (
            "incpy.launch.py",
            """from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription
from launch.substitutions import LaunchConfiguration


def generate_launch_description():
    return LaunchDescription([
        IncludeLaunchDescription(
            "empty.launch.xml", launch_arguments={"a": LaunchConfiguration("nope")}.items()
        ),
    ])
""",
            "incpy.launch.py:8",
        ),
    ],
)
def test_errors_of_internal_actions_name_the_users_line(
    ws: Workspace, name: str, text: str, where: str
) -> None:
    ws.add_launch("empty.launch.xml", "<launch/>")
    line = _error(_print(ws, name, text))
    assert f"{where}: launch configuration 'nope' does not exist" in line, line
    assert "click" not in line


def test_unknown_tag_lists_only_working_tags(ws: Workspace, tmp_path: Path) -> None:
    from dora_ros.launch.errors import LaunchError
    from dora_ros.launch.frontend_xml import load_xml_launch_file

    line = _error(_print(ws, "tag.launch.xml", "<launch>\n<nodee pkg='x' exec='y'/>\n</launch>"))
    supported = line.split("(supported: ", 1)[1].rstrip(")").split(", ")
    assert "node" in supported and "executable" in supported
    # each listed tag parses (a missing attribute is fine): none is refused when used
    for tag in supported:
        path = tmp_path / f"{tag}.launch.xml"
        path.write_text(f"<launch><{tag}/></launch>")
        try:
            load_xml_launch_file(str(path))
        except LaunchError as err:
            assert "not supported" not in str(err), str(err)
