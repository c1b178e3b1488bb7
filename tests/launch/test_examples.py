"""The launch example runs as a subprocess, as a user would run it (examples never rot)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ros2" / "launch"


def _env(domain: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    return env


@pytest.mark.parametrize("name", ["mixed.launch.py", "mixed.launch.xml"])
def test_example_resolves(name: str, tmp_path: Path) -> None:
    env = _env(151)
    env["ROS_LOG_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "dora_ros.cli", "launch", str(EXAMPLE / name), "--print"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    titles = [line for line in result.stdout.splitlines() if line.startswith("process ")]
    assert titles == [
        "process talker-1  (ROS node talker, namespace /)",
        "process listener-2  (ROS node listener, namespace /)",
        "process dora-3  (dora graph, nodes: ros_in, shout, ros_out)",
    ]


@pytest.mark.parametrize("name", ["mixed.launch.py"])
def test_example_runs_talker_dora_listener(name: str, tmp_path: Path) -> None:
    # Start-up of three rclpy processes, the runtime and two bridge nodes takes a few seconds.
    env = _env(152)
    env["ROS_LOG_DIR"] = str(tmp_path)
    launcher = subprocess.Popen(
        [sys.executable, "-m", "dora_ros.cli", "launch", str(EXAMPLE / name)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    heard: list[str] = []
    deadline = time.monotonic() + 60
    try:
        assert launcher.stdout is not None
        while time.monotonic() < deadline and len(heard) < 3:
            line = launcher.stdout.readline()
            if not line:
                break
            if line.startswith("listener-2: heard "):
                heard.append(line.split("heard ", 1)[1].strip())
    finally:
        launcher.send_signal(signal.SIGINT)
        _, err = launcher.communicate(timeout=40)
    assert len(heard) == 3, err[-3000:]
    assert all(text.startswith("HELLO ") for text in heard), heard
    assert launcher.returncode == 0, err[-3000:]
