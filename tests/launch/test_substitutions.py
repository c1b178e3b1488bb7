"""Substitutions and conditions, in process: ROS 2's syntax, arities, values and errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dora_ros.launch.conditions import IfCondition, UnlessCondition
from dora_ros.launch.context import LaunchContext
from dora_ros.launch.errors import NotFoundError, SubstitutionError
from dora_ros.launch.substitutions import parse_substitution, perform


def resolve(text: str, **configs: str) -> str:
    context = LaunchContext(
        launch_arguments=configs,
        environment={"HOME_DIR": "/home/me", "PATH": os.environ["PATH"], "EMPTY": ""},
    )
    context.current_file = "/pkg/launch/demo.launch.xml"
    return perform(context, parse_substitution(text))


@pytest.mark.parametrize(
    ("text", "configs", "expected"),
    [
        ("plain text", {}, "plain text"),
        ("", {}, ""),
        ("$(var a)", {"a": "1"}, "1"),
        ("x-$(var a)-y", {"a": "mid"}, "x-mid-y"),
        ("$(var missing fallback)", {}, "fallback"),
        ("$(var missing '')", {}, ""),
        ("$(env HOME_DIR)", {}, "/home/me"),
        ("$(env NOPE default)", {}, "default"),
        ("$(env EMPTY dflt)", {}, ""),
        ("$(var $(var which))", {"which": "b", "b": "nested"}, "nested"),
        ("$(dirname)", {}, "/pkg/launch"),
        ("$(filename)", {}, "/pkg/launch/demo.launch.xml"),
        ("$(not true)", {}, "false"),
        ("$(not 0)", {}, "true"),
        ("$(and true $(var a))", {"a": "FALSE"}, "false"),
        ("$(or false 1)", {}, "true"),
        ("$(equals $(var a) 5)", {"a": "5"}, "true"),
        ("$(equals 5.0 5)", {}, "true"),
        ("$(equals abc abd)", {}, "false"),
        ("$(not-equals $(var a) b)", {"a": "a"}, "true"),
        ("$(eval '1 + 2')", {}, "3"),
        ("$(eval 'pi > 3')", {}, "True"),
        ("$(eval '\"$(var a)\" * 2')", {"a": "ab"}, "abab"),
        ("$(command 'echo hi there')", {}, "hi there\n"),
        ("$(find-exec sh)", {}, "/bin/sh"),
        ("a\\$(var b)", {}, "a$(var b)"),
        ("'quoted'", {}, "'quoted'"),
    ],
)
def test_substitution_values(text: str, configs: dict[str, str], expected: str) -> None:
    result = resolve(text, **configs)
    if text == "$(find-exec sh)":
        assert os.path.realpath(result) == os.path.realpath(expected) or result.endswith("/sh")
    else:
        assert result == expected


def test_anon_is_stable_within_a_launch_and_unique() -> None:
    context = LaunchContext(launch_arguments={})
    first = perform(context, parse_substitution("$(anon talker)"))
    again = perform(context, parse_substitution("$(anon talker)"))
    other = perform(context, parse_substitution("$(anon listener)"))
    assert first == again and first.startswith("talker_") and other.startswith("listener_")
    assert first != perform(LaunchContext(), parse_substitution("$(anon talker)"))


def test_find_pkg_share_and_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "share" / "ament_index" / "resource_index" / "packages"
    marker.mkdir(parents=True)
    (marker / "my_pkg").write_text("")
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path))
    assert resolve("$(find-pkg-prefix my_pkg)") == str(tmp_path)
    assert resolve("$(find-pkg-share my_pkg)/config") == f"{tmp_path}/share/my_pkg/config"
    with pytest.raises(NotFoundError, match="package 'nope' not found"):
        resolve("$(find-pkg-share nope)")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("$(var)", r"\$\(var\) expects 1 or 2 arguments, got 0"),
        ("$(var a b c)", r"\$\(var\) expects 1 or 2 arguments, got 3"),
        ("$(env)", r"\$\(env\) expects 1 or 2 arguments, got 0"),
        ("$(find-pkg-share a b)", r"\$\(find-pkg-share\) expects 1 argument, got 2"),
        ("$(find-pkg-prefix)", r"\$\(find-pkg-prefix\) expects 1 argument, got 0"),
        ("$(find-exec)", r"\$\(find-exec\) expects 1 argument, got 0"),
        ("$(command a b c)", r"\$\(command\) expects 1 or 2 arguments, got 3"),
        ("$(eval)", r"\$\(eval\) expects 1 or 2 arguments, got 0"),
        ("$(anon)", r"\$\(anon\) expects 1 argument, got 0"),
        ("$(dirname x)", r"\$\(dirname\) expects 0 arguments, got 1"),
        ("$(filename x)", r"\$\(filename\) expects 0 arguments, got 1"),
        ("$(not)", r"\$\(not\) expects 1 argument, got 0"),
        ("$(and a)", r"\$\(and\) expects 2 arguments, got 1"),
        ("$(or a b c)", r"\$\(or\) expects 2 arguments, got 3"),
        ("$(equals a)", r"\$\(equals\) expects 2 arguments, got 1"),
        ("$(not-equals)", r"\$\(not-equals\) expects 2 arguments, got 0"),
        ("$(nope x)", r"unknown substitution '\$\(nope\)'"),
        ("$(var a", r"unterminated \$\(var \.\.\.: missing '\)'"),
        ("$(var 'a)", r"unterminated quote '"),
        ("$()", r"expected a substitution name"),
    ],
)
def test_malformed_substitutions(text: str, message: str) -> None:
    with pytest.raises(SubstitutionError, match=message):
        parse_substitution(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("$(var missing)", "launch configuration 'missing' does not exist"),
        ("$(env DORA_ROS_SURELY_UNSET)", "environment variable 'DORA_ROS_SURELY_UNSET' is not set"),
        ("$(not maybe)", "not: 'maybe' is not a boolean"),
        ("$(and true yes)", "and: 'yes' is not a boolean"),
        ("$(eval '1/0')", "eval: '1/0' failed: ZeroDivisionError"),
        ("$(command 'false')", "command 'false' failed with exit code 1"),
        ("$(find-exec surely-not-a-command)", "executable 'surely-not-a-command' not found"),
    ],
)
def test_substitution_failures(text: str, message: str) -> None:
    with pytest.raises(
        (SubstitutionError, NotFoundError), match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        resolve(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("True", True),
        ("1", True),
        (" 1 ", True),
        ("false", False),
        ("FaLsE", False),
        ("0", False),
    ],
)
def test_conditions_accept_ros_booleans(value: str, expected: bool) -> None:
    context = LaunchContext(launch_arguments={"v": value})
    assert IfCondition(parse_substitution("$(var v)")).evaluate(context) is expected
    assert UnlessCondition(parse_substitution("$(var v)")).evaluate(context) is (not expected)


@pytest.mark.parametrize("value", ["yes", "no", "on", "2", "", "truth"])
def test_conditions_reject_the_rest(value: str) -> None:
    from dora_ros.launch.errors import LaunchFileError

    context = LaunchContext(launch_arguments={"v": value})
    with pytest.raises(LaunchFileError, match="expected true, 1, false or 0"):
        IfCondition(parse_substitution("$(var v)")).evaluate(context)
