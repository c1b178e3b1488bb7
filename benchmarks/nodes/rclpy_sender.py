"""rclpy peer of `benchmarks/latency.py`: the sender, publishing std_msgs/UInt8MultiArray.

Same protocol as `latency_sender.py` (send time in the first 8 bytes, wait for an ack, then a
burst of 8-byte messages for the rate), over ROS 2 topics with the default QoS (reliable,
keep last 10). Run by latency.py with `ROS_DOMAIN_ID` and a localhost-only discovery range.
"""

from __future__ import annotations

import array
import json
import os
import struct
import sys
import time

import rclpy
from rclpy.executors import SingleThreadedExecutor
from std_msgs.msg import UInt8MultiArray


def clock() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def main() -> None:
    sizes = [int(s) for s in os.environ["BENCH_SIZES"].split(",")]
    counts = [int(c) for c in os.environ["BENCH_COUNTS"].split(",")]
    rate_seconds = float(os.environ["BENCH_RATE_SECONDS"])
    rclpy.init()
    node = rclpy.create_node("bench_sender")
    data_pub = node.create_publisher(UInt8MultiArray, "bench_data", 10)
    rate_pub = node.create_publisher(UInt8MultiArray, "bench_rate", 10)
    done_pub = node.create_publisher(UInt8MultiArray, "bench_done", 10)
    acks = [0]

    def on_ack(_msg: UInt8MultiArray) -> None:
        acks[0] += 1

    node.create_subscription(UInt8MultiArray, "bench_ack", on_ack, 10)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    deadline = time.monotonic() + 30
    while not (
        data_pub.get_subscription_count()
        and rate_pub.get_subscription_count()
        and done_pub.get_subscription_count()
        and node.count_publishers("bench_ack")
    ):
        if time.monotonic() > deadline:
            sys.exit("rclpy_sender: the receiver was not discovered in 30 s")
        executor.spin_once(timeout_sec=0.05)
    time.sleep(0.5)  # let both sides finish matching
    lost = 0
    msg = UInt8MultiArray()
    for size, count in zip(sizes, counts, strict=True):
        payload = array.array("B", b"\x01" * max(size, 8))
        for _ in range(count):
            struct.pack_into("<Q", payload, 0, clock())
            msg.data = payload
            want = acks[0] + 1
            data_pub.publish(msg)
            limit = time.monotonic() + 10
            while acks[0] < want and time.monotonic() < limit:
                executor.spin_once(timeout_sec=0.5)
            lost += acks[0] < want
    payload = array.array("B", bytes(8))
    sent = 0
    start = clock()
    end = start + int(rate_seconds * 1e9)
    while (now := clock()) < end:
        struct.pack_into("<Q", payload, 0, now)
        msg.data = payload
        rate_pub.publish(msg)
        sent += 1
    result = {"lost": lost, "rate_sent": sent, "rate_start": start, "rate_end": clock()}
    with open(os.path.join(os.environ["BENCH_OUT"], "sender.json"), "w") as file:
        json.dump(result, file)
    # Tell the receiver we are done until it acks: with a backlog of rate messages in its queues,
    # one `done` can come late, and this process must not exit before it went out.
    done = UInt8MultiArray()
    done.data = array.array("B", b"done")
    want = acks[0] + 1
    limit = time.monotonic() + 20
    while acks[0] < want and time.monotonic() < limit:
        done_pub.publish(done)
        executor.spin_once(timeout_sec=0.2)
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
