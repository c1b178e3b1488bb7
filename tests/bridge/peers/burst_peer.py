"""rclpy peer: a burst of std_msgs/msg/Int32 0..count-1 as fast as rclpy publishes, keep_all.

{"topic": "/burst", "count": 100000}: waits for a subscriber, publishes the burst (reliable,
keep_all: a publish that finds the history full is retried), prints "sent", then waits for every
sample to be acknowledged and prints "acked" (with whether all were).
"""

from __future__ import annotations

import time

from _peer import config, emit, init, spin_in_thread
from rclpy.duration import Duration
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Int32


def main() -> None:
    cfg = config()
    node = init("burst_peer")
    profile = QoSProfile(history=HistoryPolicy.KEEP_ALL, reliability=ReliabilityPolicy.RELIABLE)
    pub = node.create_publisher(Int32, cfg["topic"], profile)
    spin_in_thread(node)
    emit(event="ready")
    while pub.get_subscription_count() == 0:
        time.sleep(0.01)
    time.sleep(0.5)  # the subscriber's side of the match too
    retries = 0
    message = Int32()
    for value in range(cfg["count"]):
        message.data = value
        while True:
            try:
                pub.publish(message)
                break
            except Exception:  # the writer's history is full for max_blocking_time: again
                retries += 1
                time.sleep(0.001)
    emit(event="sent", retries=retries)
    emit(event="acked", all=bool(pub.wait_for_all_acked(Duration(seconds=120))))
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
