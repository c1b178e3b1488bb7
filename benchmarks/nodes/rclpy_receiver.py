"""rclpy peer of `benchmarks/latency.py`: the receiver (see `rclpy_sender.py`)."""

from __future__ import annotations

import json
import os
import struct
import time
from collections import defaultdict

import rclpy
from rclpy.executors import SingleThreadedExecutor
from std_msgs.msg import UInt8MultiArray


def clock() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def main() -> None:
    rclpy.init()
    node = rclpy.create_node("bench_receiver")
    ack_pub = node.create_publisher(UInt8MultiArray, "bench_ack", 10)
    ack = UInt8MultiArray()
    ack.data = [1]
    latencies: dict[int, list[int]] = defaultdict(list)
    state = {"received": 0, "first": 0, "last": 0, "done": False}

    def on_data(msg: UInt8MultiArray) -> None:
        now = clock()
        latencies[len(msg.data)].append(now - struct.unpack_from("<Q", msg.data, 0)[0])
        ack_pub.publish(ack)

    def on_rate(msg: UInt8MultiArray) -> None:
        now = clock()
        if not state["received"]:
            state["first"] = struct.unpack_from("<Q", msg.data, 0)[0]
        state["received"] += 1
        state["last"] = now

    def on_done(_msg: UInt8MultiArray) -> None:
        state["done"] = True
        ack_pub.publish(ack)

    node.create_subscription(UInt8MultiArray, "bench_data", on_data, 10)
    node.create_subscription(UInt8MultiArray, "bench_rate", on_rate, 10)
    node.create_subscription(UInt8MultiArray, "bench_done", on_done, 10)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    deadline = time.monotonic() + float(os.environ.get("BENCH_TIMEOUT", "150"))
    while not state["done"] and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.1)
    drain_until = time.monotonic() + 0.5  # rate messages still in flight
    while time.monotonic() < drain_until:
        executor.spin_once(timeout_sec=0.05)
    result = {
        "latency_ns": latencies,
        "rate_received": state["received"],
        "rate_first_sent": state["first"],
        "rate_last_received": state["last"],
    }
    with open(os.path.join(os.environ["BENCH_OUT"], "receiver.json"), "w") as file:
        json.dump(result, file)
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
