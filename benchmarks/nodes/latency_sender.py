"""Sender of `benchmarks/latency.py`: one message, wait for its ack, repeat; then a burst for the rate.

A plain dora node (`from dora import Node`): the same file runs under dora-rs (`dora run`) and
dora-ros (`dora-ros run`). Every payload starts with the send time, a little-endian u64 of
`clock_gettime_ns(CLOCK_MONOTONIC)` (one clock for all processes), written just before
`send_output`. Settings come from the environment (`BENCH_*`, set by latency.py).
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pyarrow as pa
from dora import Node


def clock() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def wait_for(node: Node, input_id: str, timeout: float) -> bool:
    """Waits for an INPUT on `input_id`; False on timeout or when the dataflow ends."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        event = node.next(timeout=left)
        if event is None or event["type"] == "STOP":
            raise SystemExit("latency_sender: stopped before the benchmark ended")
        if event["type"] == "INPUT" and event["id"] == input_id:
            return True
    return False


def main() -> None:
    sizes = [int(s) for s in os.environ["BENCH_SIZES"].split(",")]
    counts = [int(c) for c in os.environ["BENCH_COUNTS"].split(",")]
    rate_seconds = float(os.environ["BENCH_RATE_SECONDS"])
    node = Node()
    if not wait_for(node, "start", 30.0):
        raise SystemExit("latency_sender: no start tick")
    lost = 0
    for size, count in zip(sizes, counts, strict=True):
        payload = np.ones(max(size, 8), np.uint8)  # touched once, reused for every message
        stamp = payload[:8].view("<u8")
        array = pa.array(payload)  # a view over `payload`, no copy
        for _ in range(count):
            stamp[0] = clock()
            node.send_output("data", array)
            if not wait_for(node, "ack", 10.0):
                lost += 1
    payload = np.zeros(8, np.uint8)
    stamp = payload.view("<u8")
    array = pa.array(payload)
    sent = 0
    start = clock()
    end = start + int(rate_seconds * 1e9)
    while (now := clock()) < end:
        stamp[0] = now
        node.send_output("rate", array)
        sent += 1
    result = {"lost": lost, "rate_sent": sent, "rate_start": start, "rate_end": clock()}
    with open(os.path.join(os.environ["BENCH_OUT"], "sender.json"), "w") as file:
        json.dump(result, file)


if __name__ == "__main__":
    main()
