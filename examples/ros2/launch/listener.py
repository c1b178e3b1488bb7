"""An rclpy node printing every std_msgs/String it gets on `shout`."""

from __future__ import annotations

import sys

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from std_msgs.msg import String


def main() -> None:
    rclpy.init(args=sys.argv)
    node = Node("listener")
    node.create_subscription(
        String, "shout", lambda msg: print(f"heard {msg.data}", flush=True), 10
    )
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
