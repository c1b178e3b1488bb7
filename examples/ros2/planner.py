#!/usr/bin/env python3
"""A dora node (plain `from dora import Node`): steers the robot towards a goal point.

It gets the robot's pose from the bridge as a one-row Arrow struct (geometry_msgs/Pose) and sends
a geometry_msgs/Twist back as a plain dict; the bridge fills in the missing fields.
"""

from __future__ import annotations

import math

import pyarrow as pa
from dora import Node

GOAL = (1.0, 0.5)


def main() -> None:
    node = Node()
    received = 0
    for event in node:
        if event["type"] != "INPUT" or event["id"] != "pose":
            continue
        received += 1
        pose = event["value"][0].as_py()
        x, y = pose["position"]["x"], pose["position"]["y"]
        q = pose["orientation"]
        heading = 2 * math.atan2(q["z"], q["w"])
        dx, dy = GOAL[0] - x, GOAL[1] - y
        distance = math.hypot(dx, dy)
        error = math.atan2(
            math.sin(math.atan2(dy, dx) - heading), math.cos(math.atan2(dy, dx) - heading)
        )
        speed = min(0.5, distance) if distance > 0.05 else 0.0
        node.send_output(
            "cmd_vel", pa.array([{"linear": {"x": speed}, "angular": {"z": 2.0 * error}}])
        )
        if received % 20 == 1:
            print(f"planner: pose ({x:.2f}, {y:.2f}), {distance:.2f} m to go", flush=True)
    print(f"planner: received {received} poses, sent {received} commands", flush=True)


if __name__ == "__main__":
    main()
