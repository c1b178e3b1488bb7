"""An rclpy node publishing std_msgs/String "hello <n>" on `chatter` every 100 ms."""

from __future__ import annotations

import sys

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from std_msgs.msg import String


def main() -> None:
    rclpy.init(args=sys.argv)
    node = Node("talker")
    publisher = node.create_publisher(String, "chatter", 10)
    period = node.declare_parameter("period", 0.1).value
    count = 0

    def tick() -> None:
        nonlocal count
        count += 1
        publisher.publish(String(data=f"hello {count}"))

    node.create_timer(period, tick)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
