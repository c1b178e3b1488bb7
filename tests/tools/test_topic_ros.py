"""`dora-ros topic ... --ros` against real rclpy peers in their own processes.

Each test has its own ROS_DOMAIN_ID (180-187), discovery on localhost only, so tests can run in
parallel on pytest-xdist workers without seeing each other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from toolrun import dora_ros

PEER = Path(__file__).with_name("ros_topic_peer.py")


def _env(domain: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", PYTHONUNBUFFERED="1"
    )
    env.pop("DORA_ROS_BRIDGE_BACKEND", None)
    return env


@contextmanager
def _peer(domain: int, *args: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, str(PEER), *args],
        env=_env(domain),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready", process.stderr
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _topic(domain: int, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # A loaded machine can take seconds to discover a peer: wait longer than the default 3 s
    # unless the test says how long (`list` always waits that long; the others stop once found).
    wait = (
        ()
        if "--wait" in args or args[0] == "--help"
        else ("--wait", "8" if args[0] == "list" else "15")
    )
    return dora_ros("topic", *args, *wait, cwd=tmp, env=_env(domain), timeout=90)


def _ours(stderr: str) -> list[str]:
    """Our lines of stderr, without Fast DDS's own log lines (coloured, `[RTPS_...`), which it
    prints when /dev/shm holds another process's half-removed port files."""
    return [line for line in stderr.splitlines() if "RTPS_" not in line and line.strip()]


def test_list_and_info_show_names_types_and_qos(tmp_path: Path) -> None:
    with _peer(180, "talker", "/chatter", "10", "transient_local"):
        listed = _topic(180, tmp_path, "list", "--ros")
        assert listed.returncode == 0, listed.stderr
        assert ["/chatter", "std_msgs/msg/String"] in [
            line.split() for line in listed.stdout.splitlines()
        ]
        as_json = [
            json.loads(line)
            for line in _topic(
                180, tmp_path, "list", "--ros", "--format", "json"
            ).stdout.splitlines()
        ]
        assert {"name": "/chatter", "types": ["std_msgs/msg/String"]} in as_json
        info = _topic(180, tmp_path, "info", "--ros", "/chatter")
        typo = _topic(180, tmp_path, "echo", "--ros", "/chatr", "--wait", "4")
    assert typo.returncode == 1
    assert _ours(typo.stderr) == [
        "error: /chatr: no such ROS 2 topic on domain 180 after 4 s (did you mean '/chatter'?)"
    ]
    assert info.returncode == 0, info.stderr
    lines = info.stdout.splitlines()
    assert lines[0] == "Type: std_msgs/msg/String"
    assert lines[1] == "Publisher count: 1"
    assert lines[2] == "  /peer_talker: reliable, transient_local"
    assert lines[3] == "Subscription count: 0"


def test_echo_prints_yaml_blocks_and_json_lines(tmp_path: Path) -> None:
    with _peer(181, "talker", "/chatter", "20"):
        result = _topic(181, tmp_path, "echo", "--ros", "/chatter", "--count", "3")
        as_json = _topic(
            181, tmp_path, "echo", "--ros", "/chatter", "--count", "2", "--format", "json"
        )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1::2] == ["---"] * 3
    numbers = [int(line.removeprefix("data: hello ")) for line in lines[0::2]]
    assert numbers == list(range(numbers[0], numbers[0] + 3))
    objects = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert len(objects) == 2
    assert {o["topic"] for o in objects} == {"/chatter"}
    assert {o["type"] for o in objects} == {"std_msgs/msg/String"}
    assert all(o["value"]["data"].startswith("hello ") for o in objects)


def test_echo_matches_a_best_effort_publisher(tmp_path: Path) -> None:
    # A reliable reader never matches a best-effort writer: echo must pick best effort.
    with _peer(182, "talker", "/fast", "20", "best_effort"):
        result = _topic(182, tmp_path, "echo", "--ros", "/fast", "--count", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("data: hello ") == 2


def test_echo_summarises_large_arrays_and_raw_prints_them(tmp_path: Path) -> None:
    with _peer(183, "image", "/camera", "10"):
        short = _topic(183, tmp_path, "echo", "--ros", "/camera", "--count", "1")
        raw = _topic(
            183, tmp_path, "echo", "--ros", "/camera", "--count", "1", "--raw", "--format", "json"
        )
    assert short.returncode == 0, short.stderr
    lines = short.stdout.splitlines()
    assert lines[:5] == ["header:", "  stamp:", "    sec: 0", "    nanosec: 0", "  frame_id: cam"]
    assert "height: 48" in lines and "width: 64" in lines and "encoding: mono8" in lines
    (data,) = [line for line in lines if line.startswith("data: ")]
    assert data.startswith("data: <3072 x uint8> [") and data.endswith(", ...]")
    first = [int(v) for v in data.split("[", 1)[1].removesuffix(", ...]").split(", ")]
    assert len(first) == 8 and first == [(first[0] + k) % 256 for k in range(8)]
    value = json.loads(raw.stdout)["value"]
    assert len(value["data"]) == 3072
    assert value["data"] == [(value["data"][0] + k) % 256 for k in range(3072)]


def test_hz_reports_rate_periods_and_bandwidth(tmp_path: Path) -> None:
    with _peer(184, "talker", "/chatter", "20"):
        result = _topic(
            184, tmp_path, "hz", "--ros", "/chatter", "--duration", "3", "--format", "json"
        )
        text = _topic(184, tmp_path, "hz", "--ros", "/chatter", "--duration", "1.5")
    assert result.returncode == 0, result.stderr
    final = json.loads(result.stdout.splitlines()[-1])
    assert 14 < final["rate"] < 26, final  # 20 Hz, on a loaded machine
    assert final["min"] <= 1 / final["rate"] <= final["max"]
    assert final["std"] >= 0
    # "hello N", 10 <= N < 10000: 4-byte header, 4-byte length, text and its NUL, which rclpy
    # pads to 20 bytes
    assert final["size_max"] == 20 and 16 <= final["size_min"] <= 20
    assert 14 * 16 < final["bandwidth"] < 26 * 20
    assert "/chatter: average rate: " in text.stdout
    assert "\tmin: " in text.stdout and " window: " in text.stdout
    assert "\tbandwidth: " in text.stdout and "message size mean 20 B" in text.stdout


def test_pub_reaches_an_rclpy_subscriber(tmp_path: Path) -> None:
    with _peer(185, "listener", "/heard") as listener:
        result = _topic(
            185, tmp_path, "pub", "--ros", "/heard", "std_msgs/String", '{"data": "hi there"}',
            "--count", "3", "--rate", "10",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [
            f"publishing #{i}: /heard (std_msgs/msg/String), 17 bytes" for i in (1, 2, 3)
        ]
        message = tmp_path / "message.json"
        message.write_text('{"data": "from a file"}')
        from_file = _topic(
            185, tmp_path, "pub", "--ros", "/heard", "std_msgs/msg/String", "--file", str(message)
        )
        assert from_file.returncode == 0, from_file.stderr
        assert listener.stdout is not None
        heard = [json.loads(listener.stdout.readline()) for _ in range(4)]
    assert heard == ["hi there"] * 3 + ["from a file"]


def test_mistakes_are_one_line_and_fail(tmp_path: Path) -> None:
    cases = [
        (
            ("echo", "--ros", "/nope", "--wait", "1"),
            "error: /nope: no such ROS 2 topic on domain 186 after 1 s",
        ),
        (
            ("hz", "--ros", "/nope", "--wait", "0.5"),
            "error: /nope: no such ROS 2 topic on domain 186",
        ),
        (("info", "--ros", "/nope", "--wait", "0.5"), "error: /nope: no such ROS 2 topic"),
        (("pub", "--ros", "/x", "std_msgs/msg/Strin", "{}"), "error: "),
        (
            ("pub", "--ros", "/x", "std_msgs/msg/String", "[1, 2"),
            "error: std_msgs/msg/String: the message is not valid JSON or YAML",
        ),
        (("pub", "--ros", "/x", "std_msgs/msg/String", '{"dta": "x"}'), "error: "),
        (
            ("echo", "/chatter"),
            "error: '/chatter': a dataflow topic is node/output (ROS 2 topics need --ros)",
        ),
    ]
    for args, start in cases:
        result = _topic(186, tmp_path, *args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        lines = _ours(result.stderr)
        assert len(lines) == 1 and lines[0].startswith(start), (args, result.stderr)
    bad = _topic(186, tmp_path, "echo", "--ros", "/x", "--duration", "0")
    assert bad.returncode == 2 and "must be more than 0" in bad.stderr
