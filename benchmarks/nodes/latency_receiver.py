"""Receiver of `benchmarks/latency.py`: one-way latency of each `data` message, count of `rate` ones.

A plain dora node (`from dora import Node`), run unchanged by dora-rs and dora-ros. The latency is
the receive time minus the send time the sender put in the payload's first 8 bytes, taken before
anything else is done with the event; then an ack lets the sender send the next message.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict

import pyarrow as pa
from dora import Node


def clock() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def sent_at(value: pa.Array) -> int:
    data = value.buffers()[1]
    return int.from_bytes(memoryview(data)[value.offset : value.offset + 8], "little")


def main() -> None:
    node = Node()
    ack = pa.array([1], pa.uint8())
    latencies: dict[int, list[int]] = defaultdict(list)
    rate_received = 0
    rate_first = rate_last = 0
    for event in node:
        if event["type"] != "INPUT":
            continue
        now = clock()
        if event["id"] == "data":
            value = event["value"]
            latencies[len(value)].append(now - sent_at(value))
            node.send_output("ack", ack)
        elif event["id"] == "rate":
            if not rate_received:
                rate_first = sent_at(event["value"])
            rate_received += 1
            rate_last = now
    result = {
        "latency_ns": latencies,
        "rate_received": rate_received,
        "rate_first_sent": rate_first,
        "rate_last_received": rate_last,
    }
    with open(os.path.join(os.environ["BENCH_OUT"], "receiver.json"), "w") as file:
        json.dump(result, file)


if __name__ == "__main__":
    main()
