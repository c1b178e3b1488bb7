"""Closing a bridge node flushes what its reliable writers still hold (issue 13).

A dora-ros process publishes a burst of 200 messages of 100 kB and closes at once, as a dora node
does at STOP; an rclpy subscriber must get every one. Old code destroyed the participant with
samples not yet acknowledged: the subscriber got about a third of them.
"""

from __future__ import annotations

from ros_peers import Peer, name, peer

DOMAIN = 87


def test_samples_published_just_before_close_are_delivered() -> None:
    topic = name("/flush")
    count = 200
    listener_config = {"topic": topic, "type": "std_msgs/msg/String", "depth": 1000}
    with peer("count_peer.py", listener_config, DOMAIN) as listener:
        publisher = Peer(
            "dora_burst_then_close.py",
            {"topic": topic, "domain": DOMAIN, "count": count, "size": 100_000},
            DOMAIN,
        )
        try:
            publisher.wait(lambda e: e.get("event") == "closed", 60)
            assert publisher.proc.wait(20) == 0
        finally:
            publisher.stop()
        last = listener.wait(lambda e: e.get("event") == "count" and e["n"] >= count, 20)
    assert last["n"] == count and last["last"].startswith(f"{count - 1}:")
