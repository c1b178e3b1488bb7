"""Closing a bridge node flushes what its reliable writers still hold (issue 13).

A dora-ros process publishes a burst of 200 messages of 100 kB and closes at once, as a dora node
does at STOP; an rclpy subscriber must get every one. Old code destroyed the participant with
samples not yet acknowledged: the subscriber got about a third of them.
"""

from __future__ import annotations

import signal
import struct
import time
from pathlib import Path

from ros_peers import Peer, name, peer, poll

from dora_ros.bridge import Ros2QosPolicies
from dora_ros.bridge.backend import open_backend

DOMAIN = 87


def test_samples_published_just_before_close_are_delivered(tmp_path: Path) -> None:
    topic = name("/flush")
    count = 200
    go = tmp_path / "go"
    listener_config = {"topic": topic, "type": "std_msgs/msg/String", "depth": 1000}
    with peer("count_peer.py", listener_config, DOMAIN) as listener:
        publisher = Peer(
            "dora_burst_then_close.py",
            {"topic": topic, "domain": DOMAIN, "count": count, "size": 100_000, "go_file": str(go)},
            DOMAIN,
        )
        try:
            # The burst starts once the listener knows the publisher too: each side discovers the
            # other on its own, and a listener that learnt of the publisher only after its close
            # (seen in CI under load) acknowledged nothing for the close to wait for.
            listener.wait(lambda e: e.get("event") == "publishers" and e["n"] >= 1, 60)
            time.sleep(0.1)  # the graph is updated just before the reader is paired
            go.touch()
            publisher.wait(lambda e: e.get("event") == "closed", 60)
            assert publisher.proc.wait(20) == 0
        finally:
            publisher.stop()
        last = listener.wait(lambda e: e.get("event") == "count" and e["n"] >= count, 20)
    assert last["n"] == count and last["last"].startswith(f"{count - 1}:")


def test_close_keeps_to_its_budget_when_a_reader_never_acknowledges() -> None:
    """A matched reader that stops acknowledging (its process frozen with SIGSTOP) leaves the
    flush nothing to wait for but its bound: `close(budget)` returns within the budget, as the
    bridge node's close path needs (one 4 s deadline inside the supervisor's 5 s grace). Old
    code: `close()` took no budget, and its waits added up (2 s flush + 5 s + 1 s)."""
    topic = name("/frozen")
    qos = Ros2QosPolicies(reliable=True)
    with peer("count_peer.py", {"topic": topic, "type": "std_msgs/msg/String"}, DOMAIN) as frozen:
        backend = open_backend("rclpy", node_name="budgeted", domain_id=DOMAIN)
        try:
            writer = backend.create_writer(topic, "std_msgs/msg/String", qos)
            poll(lambda: writer.matched_count(), 15)
            frozen.proc.send_signal(signal.SIGSTOP)
            try:
                data = b"x" * 100_000
                sample = b"\x00\x01\x00\x00" + struct.pack("<I", len(data) + 1) + data + b"\x00"
                for _ in range(10):
                    writer.write(sample)
                started = time.monotonic()
                backend.close(1.0)
                elapsed = time.monotonic() - started
            finally:
                frozen.proc.send_signal(signal.SIGCONT)
        finally:
            backend.close()
    assert elapsed < 1.6, elapsed
