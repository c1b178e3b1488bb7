#!/usr/bin/env python3
"""An ordinary rclpy node: a point robot that drives by /cmd_vel and publishes /robot/pose.

It knows nothing of dora: it is what a ROS 2 user already has. On exit (Ctrl-C / SIGINT) it prints
one JSON line with how many commands it received and where it ended up.
"""

from __future__ import annotations

import json
import math

import rclpy
from geometry_msgs.msg import Pose, Twist
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node

PERIOD = 0.05  # s


class Robot(Node):
    def __init__(self) -> None:
        super().__init__("robot")
        self.x = self.y = self.heading = 0.0
        self.speed = self.turn = 0.0
        self.commands = 0
        self.poses = 0
        self.create_subscription(Twist, "/cmd_vel", self.on_cmd, 10)
        self.publisher = self.create_publisher(Pose, "/robot/pose", 10)
        self.create_timer(PERIOD, self.step)

    def on_cmd(self, msg: Twist) -> None:
        self.speed, self.turn = msg.linear.x, msg.angular.z
        self.commands += 1

    def step(self) -> None:
        self.heading += self.turn * PERIOD
        self.x += self.speed * math.cos(self.heading) * PERIOD
        self.y += self.speed * math.sin(self.heading) * PERIOD
        pose = Pose()
        pose.position.x, pose.position.y = self.x, self.y
        pose.orientation.z, pose.orientation.w = (
            math.sin(self.heading / 2),
            math.cos(self.heading / 2),
        )
        self.publisher.publish(pose)
        self.poses += 1


def main() -> None:
    rclpy.init()
    robot = Robot()
    try:
        rclpy.spin(robot)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass  # Ctrl-C: rclpy raises either, depending on when the signal lands
    summary = {
        "commands": robot.commands,
        "poses": robot.poses,
        "x": round(robot.x, 3),
        "y": round(robot.y, 3),
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
