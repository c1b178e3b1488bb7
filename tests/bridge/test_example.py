"""`examples/ros2/run_demo.py` (what `make demo` runs) works: messages cross the bridge both ways."""

from __future__ import annotations

import re
import subprocess
import sys

from ros_peers import REPO, ros_env

DOMAIN = 41


def test_run_demo() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "examples/ros2/run_demo.py"),
            "--seconds",
            "6",
            "--domain",
            str(DOMAIN),
        ],
        env=ros_env(DOMAIN),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    received = int(re.search(r"planner: received (\d+) poses", result.stdout).group(1))
    commands = int(re.search(r"the robot received (\d+) commands", result.stdout).group(1))
    assert received > 0 and commands > 0
    assert "robot ended at" in result.stdout
