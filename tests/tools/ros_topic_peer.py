"""An rclpy peer for the `dora-ros topic --ros` tests, run as its own process.

    ros_topic_peer.py talker TOPIC RATE_HZ [best_effort|transient_local]
        std_msgs/String "hello <i>" (i from 1), forever
    ros_topic_peer.py image TOPIC RATE_HZ
        sensor_msgs/Image 64x48 mono8, frame_id "cam", data[k] = (i + k) % 256
    ros_topic_peer.py listener TOPIC
        prints each std_msgs/String's data as a JSON line

Prints `ready` once its endpoint exists; ends on SIGINT/SIGTERM.
"""

from __future__ import annotations

import json
import signal
import sys

import rclpy
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import String


def main() -> None:
    mode, topic = sys.argv[1], sys.argv[2]
    rclpy.init()
    node = rclpy.create_node(f"peer_{mode}")
    qos = QoSProfile(depth=10)
    if len(sys.argv) > 4 and sys.argv[4] == "best_effort":
        qos.reliability = ReliabilityPolicy.BEST_EFFORT
    if len(sys.argv) > 4 and sys.argv[4] == "transient_local":
        qos.durability = DurabilityPolicy.TRANSIENT_LOCAL
    count = [0]
    if mode == "talker":
        pub = node.create_publisher(String, topic, qos)

        def tick() -> None:
            count[0] += 1
            pub.publish(String(data=f"hello {count[0]}"))

        node.create_timer(1.0 / float(sys.argv[3]), tick)
    elif mode == "image":
        pub_image = node.create_publisher(Image, topic, qos)

        def tick_image() -> None:
            count[0] += 1
            message = Image(height=48, width=64, encoding="mono8", step=64)
            message.header.frame_id = "cam"
            message.data = bytes((count[0] + k) % 256 for k in range(64 * 48))
            pub_image.publish(message)

        node.create_timer(1.0 / float(sys.argv[3]), tick_image)
    else:

        def got(message: String) -> None:
            print(json.dumps(message.data), flush=True)

        node.create_subscription(String, topic, got, 10)
    print("ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: rclpy.try_shutdown())
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
