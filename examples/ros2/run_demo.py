#!/usr/bin/env python3
"""`make demo`: an rclpy robot, the dora-ros ROS 2 bridge and a dora planner, for a few seconds.

Starts `robot_node.py` (plain rclpy) in its own process, runs `dataflow.yml` with `dora-ros run
--stop-after`, stops the robot and prints what crossed the bridge each way.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="how long the planner drives")
    parser.add_argument("--domain", type=int, default=int(os.environ.get("ROS_DOMAIN_ID", "42")))
    args = parser.parse_args()
    env = dict(
        os.environ, ROS_DOMAIN_ID=str(args.domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST"
    )
    robot = subprocess.Popen(
        [sys.executable, str(HERE / "robot_node.py")], env=env, stdout=subprocess.PIPE, text=True
    )
    logs = tempfile.mkdtemp(prefix="dora-ros-demo-")
    lines: list[str] = []
    try:
        # Run until the planner has been driving for `--seconds` (start-up and DDS discovery take
        # a few seconds of their own, more on a busy machine), at most a minute.
        dataflow = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dora_ros.cli",
                "run",
                "dataflow.yml",
                "--stop-after",
                "60s",
                "--out-dir",
                logs,
            ],
            cwd=HERE,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert dataflow.stdout is not None
        stop_at = None
        for line in dataflow.stdout:
            lines.append(line.rstrip())
            if stop_at is None and "planner: pose" in line:
                stop_at = time.monotonic() + args.seconds
                threading.Timer(args.seconds, dataflow.send_signal, (signal.SIGINT,)).start()
        dataflow.wait()
    finally:
        robot.send_signal(signal.SIGINT)
        out, _ = robot.communicate(timeout=10)
        shutil.rmtree(logs, ignore_errors=True)
    run = subprocess.CompletedProcess(dataflow.args, dataflow.returncode, "\n".join(lines))
    for line in run.stdout.splitlines():
        if line.startswith("planner: planner:"):
            print(line.removeprefix("planner: "))
    if run.returncode != 0:
        print(run.stdout, file=sys.stderr)
        return run.returncode
    summary = json.loads(out.strip().splitlines()[-1])
    print(f"ROS: the robot published {summary['poses']} poses (geometry_msgs/Pose)")
    print(f"dora -> ROS: the robot received {summary['commands']} commands (geometry_msgs/Twist)")
    print(f"robot ended at ({summary['x']:.2f}, {summary['y']:.2f}), goal (1.00, 0.50)")
    return 0 if summary["commands"] > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
