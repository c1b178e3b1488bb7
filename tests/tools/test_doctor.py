"""`dora-ros doctor` as a user runs it: the real console script, in environments we set."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from toolrun import dora_ros

from dora_ros.tools.doctor import check_shared_memory, check_socket_buffers


def _env(**changes: str | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "RMW_IMPLEMENTATION",
            "ROS_DOMAIN_ID",
            "ROS_AUTOMATIC_DISCOVERY_RANGE",
            "ROS_LOCALHOST_ONLY",
            "AMENT_PREFIX_PATH",
        )
    }
    for key, value in changes.items():
        if value is not None:
            env[key] = value
    return env


def test_healthy_machine_exits_zero(tmp_path: Path) -> None:
    result = dora_ros("doctor", cwd=tmp_path, env=_env())
    lines = result.stdout.splitlines()
    # this machine: 4 MiB buffers, a large /dev/shm, the venv's ROS 2 wheels
    assert result.returncode == 0, result.stdout
    assert lines[-1] == "0 problems, 0 warnings"
    assert lines[0].startswith("ok    python: 3.")
    assert "ok    ros-rclpy: " in result.stdout
    assert "ok    RMW_IMPLEMENTATION: unset (rmw_fastrtps_cpp, ROS 2's default)" in lines
    assert "ok    ROS_DOMAIN_ID: unset (0)" in lines
    assert "ok    ROS_AUTOMATIC_DISCOVERY_RANGE: unset (SUBNET)" in lines
    prefix = next(line for line in lines if "ament prefix" in line)
    assert "(this Python's prefix)" in prefix and int(prefix.split(": ")[-1].split()[0]) > 10
    stat = os.statvfs("/dev/shm")
    size = stat.f_frsize * stat.f_blocks / (1024 * 1024)
    assert f"ok    /dev/shm: {size:.1f} MiB, " in result.stdout
    for name in ("rmem_max", "wmem_max"):
        value = int(Path("/proc/sys/net/core", name).read_text())
        assert f"net.core.{name}: {value} bytes" in result.stdout


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        (
            {"ROS_DOMAIN_ID": "abc"},
            "FAIL  ROS_DOMAIN_ID: 'abc' is not an integer from 0 to 232",
        ),
        ({"ROS_DOMAIN_ID": "233"}, "FAIL  ROS_DOMAIN_ID: '233' is not an integer from 0 to 232"),
        (
            {"RMW_IMPLEMENTATION": "rmw_nope_cpp"},
            "FAIL  RMW_IMPLEMENTATION: 'rmw_nope_cpp' is not installed in any ament prefix "
            "(installed: rmw_fastrtps_cpp)",
        ),
        (
            {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LAN"},
            "FAIL  ROS_AUTOMATIC_DISCOVERY_RANGE: 'LAN' is not one of SUBNET, LOCALHOST, OFF, "
            "SYSTEM_DEFAULT",
        ),
        (
            {"AMENT_PREFIX_PATH": "/nonexistent/prefix"},
            "FAIL  ament prefix: /nonexistent/prefix (AMENT_PREFIX_PATH) does not exist",
        ),
    ],
)
def test_broken_environment_is_one_line_and_exit_one(
    changes: dict[str, str], line: str, tmp_path: Path
) -> None:
    result = dora_ros("doctor", "--problems-only", cwd=tmp_path, env=_env(**changes))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [line, "1 problem, 0 warnings"]


def test_accepted_values(tmp_path: Path) -> None:
    env = _env(
        ROS_DOMAIN_ID="42",
        RMW_IMPLEMENTATION="rmw_fastrtps_cpp",
        ROS_AUTOMATIC_DISCOVERY_RANGE="localhost",
    )
    result = dora_ros("doctor", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout
    assert "ok    ROS_DOMAIN_ID: 42" in result.stdout
    assert "ok    RMW_IMPLEMENTATION: rmw_fastrtps_cpp" in result.stdout
    assert "ok    ROS_AUTOMATIC_DISCOVERY_RANGE: LOCALHOST" in result.stdout
    high = dora_ros("doctor", "--problems-only", cwd=tmp_path, env=_env(ROS_DOMAIN_ID="150"))
    assert high.returncode == 0
    assert high.stdout.splitlines()[0].startswith("warn  ROS_DOMAIN_ID: 150: above 101")


def test_dataflow_errors_are_validates(tmp_path: Path) -> None:
    (tmp_path / "node.py").write_text("")
    (tmp_path / "graph.yml").write_text(
        textwrap.dedent(
            """\
            nodes:
              - id: a
                path: node.py
                inputs:
                  x: b/y
            """
        )
    )
    validate = dora_ros("validate", "graph.yml", cwd=tmp_path)
    assert validate.returncode == 1
    message = validate.stderr.strip().removeprefix("error: ")
    result = dora_ros(
        "doctor", "--problems-only", "--dataflow", "graph.yml", cwd=tmp_path, env=_env()
    )
    assert result.returncode == 1
    assert result.stdout.splitlines() == [f"FAIL  dataflow: {message}", "1 problem, 0 warnings"]
    missing = dora_ros("doctor", "--problems-only", "-d", "nope.yml", cwd=tmp_path, env=_env())
    assert missing.returncode == 1
    assert missing.stdout.splitlines()[0] == (
        "FAIL  dataflow: nope.yml: cannot read: No such file or directory"
    )


def test_dataflow_ok_and_missing_executable(tmp_path: Path) -> None:
    (tmp_path / "node.py").write_text("")
    (tmp_path / "graph.yml").write_text(
        "nodes:\n  - id: a\n    path: node.py\n    outputs: [o]\n"
        "  - id: b\n    path: ./not-built-yet\n    inputs:\n      i: a/o\n"
    )
    result = dora_ros("doctor", "-d", "graph.yml", cwd=tmp_path, env=_env())
    assert "ok    dataflow: graph.yml: ok (2 nodes)" in result.stdout
    assert result.returncode == 1
    assert "FAIL  dataflow: " in result.stdout and "'./not-built-yet' not found" in result.stdout


def test_socket_buffer_advice(tmp_path: Path) -> None:
    # a stock kernel's figures, as /proc/sys/net/core would show them
    (tmp_path / "rmem_max").write_text("212992\n")
    (tmp_path / "wmem_max").write_text("4194304\n")
    findings = list(check_socket_buffers(tmp_path))
    assert [(f.level, f.subject) for f in findings] == [
        ("warn", "net.core.rmem_max"),
        ("ok", "net.core.wmem_max"),
    ]
    assert "sudo sysctl -w net.core.rmem_max=4194304 net.core.rmem_default=4194304" in str(
        findings[0]
    )
    assert "docs/bridge.md" in findings[0].text


def test_shared_memory_missing_is_a_warning(tmp_path: Path) -> None:
    (finding,) = check_shared_memory(str(tmp_path / "no-shm"))
    assert finding.level == "warn" and "falls back to UDP" in finding.text


def test_help_has_examples(tmp_path: Path) -> None:
    result = dora_ros("doctor", "--help", cwd=tmp_path)
    assert result.returncode == 0 and "dora-ros doctor --dataflow graph.yml" in result.stdout
    bad = dora_ros("doctor", "--nope", cwd=tmp_path)
    assert bad.returncode == 2 and "No such option '--nope'" in bad.stderr
