"""What the bridge tells its user about each endpoint, against real peers in other processes.

At creation each endpoint is logged with its topic, type and QoS, and again when it first matches
a peer. A peer whose type has our name but another definition (another RIHS01 type hash, as a
package rebuilt from an edited .msg has) gets one warning naming both hashes, and its samples are
dropped rather than decoded into wrong values; a good publisher on the same topic still gets through.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from pathlib import Path

import pytest
from ros_peers import Peer, name, peer, poll

from dora_ros.bridge import Ros2Context, Ros2NodeOptions, Ros2QosPolicies

DOMAIN = 87
STRING = "std_msgs/msg/String"
DRIFTED_HASH = "RIHS01_" + hashlib.sha256(b"string data  # and a field someone added").hexdigest()


@pytest.fixture()
def drifted_msg_path(tmp_path: Path) -> Path:
    folder = tmp_path / "std_msgs" / "msg"
    folder.mkdir(parents=True)
    (folder / "String.msg").write_text("string data\n")
    (folder / "String.json").write_text(
        json.dumps({"type_hashes": [{"type_name": STRING, "hash_string": DRIFTED_HASH}]})
    )
    return tmp_path


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


@pytest.mark.parametrize("backend", ["rclpy", "cyclonedds"])
def test_endpoints_are_logged_with_qos_and_first_match(
    caplog: pytest.LogCaptureFixture, backend: str
) -> None:
    caplog.set_level(logging.INFO, logger="dora_ros.bridge")
    topic = name(f"/watch/{backend}/chatter")
    publish = [{"topic": topic, "type": STRING, "value": {"data": "hi"}, "period": 0.1}]
    with (
        Ros2Context(domain_id=DOMAIN, backend=backend) as context,
        peer("topic_peer.py", {"node": "watched_talker", "publish": publish}, DOMAIN),
    ):
        node = context.new_node("watcher", "/", Ros2NodeOptions())
        sub = node.create_subscription(
            node.create_topic(topic, STRING, Ros2QosPolicies(keep_last=5))
        )
        assert sub.next(20.0) is not None
        poll(lambda: any("first match" in m for m in messages(caplog, logging.INFO)), 10)
    info = messages(caplog, logging.INFO)
    assert f"subscription {topic} ({STRING}), QoS reliable, volatile, keep_last 5" in info
    # The rclpy backend names the peer node from the ROS graph; the Cyclone backend counts.
    peers = "publishers: /watched_talker" if backend == "rclpy" else "1 publishers"
    assert f"subscription {topic}: first match ({peers})" in info


@pytest.mark.parametrize("backend", ["rclpy", "cyclonedds"])
def test_peer_with_another_definition_is_named_once_and_dropped(
    drifted_msg_path: Path, caplog: pytest.LogCaptureFixture, backend: str
) -> None:
    caplog.set_level(logging.INFO, logger="dora_ros.bridge")
    topic = name(f"/watch/{backend}/status")
    good = [{"topic": topic, "type": STRING, "value": {"data": "good"}, "period": 0.1}]
    drifted_cfg = {"msg_path": str(drifted_msg_path), "topic": topic, "type": STRING}
    drifted_cfg["data"] = "drifted"
    with Ros2Context(domain_id=DOMAIN, backend=backend) as context:
        node = context.new_node(f"hash_watcher_{backend}", "/", Ros2NodeOptions())
        sub = node.create_subscription(node.create_topic(topic, STRING, Ros2QosPolicies()))
        drifted = Peer("drifted_type_peer.py", drifted_cfg, DOMAIN)
        try:
            drifted.ready()
            with peer("topic_peer.py", {"node": "good_talker", "publish": good}, DOMAIN):
                poll(lambda: messages(caplog, logging.WARNING), 20)
                got: list[str] = []
                # At least 3 s (30 drifted samples sent meanwhile), and until the good peer,
                # discovered after the drifted one, is heard: CI's loaded run took longer than 3 s.
                start = time.monotonic()
                while time.monotonic() < start + 3.0 or (
                    "good" not in got and time.monotonic() < start + 20.0
                ):
                    value = sub.next(0.5)
                    if value is not None:
                        got.append(value.to_pylist()[0]["data"])
        finally:
            drifted.stop()
        rejected = sub._reader.rejected
    warnings = messages(caplog, logging.WARNING)
    assert len(warnings) == 1, warnings  # once, not per sample or per poll
    # rclpy: the peer's node name, or what the graph shows before its node announcement arrives;
    # Cyclone: the peer's DDS participant (its discovery data names no ROS node).
    assert re.match(
        rf"subscription {topic}: publisher of node (/drifted_peer|\(a DDS participant not known "
        rf"as a ROS node yet\)|\(participant [0-9a-f-]+\)) has type {STRING} with another "
        "definition",
        warnings[0],
    ), warnings[0]
    assert DRIFTED_HASH in warnings[0]
    ours = "RIHS01_df668c740482bbd48fb39d76a70dfd4bd59db1288021743503259e948f6b1a18"
    assert f"ours {ours}" in warnings[0]  # std_msgs/msg/String's hash as rosidl installs it
    assert "good" in got and "drifted" not in got
    assert rejected > 0


def test_a_publisher_of_our_own_node_is_vetted_once() -> None:
    # Samples from the bridge node's own publisher: its graph entry is ours, which counts as
    # vetted (once), not as a publisher still missing from the graph (a graph query per sample).
    topic = name("/watch/loopback")
    with Ros2Context(domain_id=DOMAIN) as context:
        node = context.new_node("loopback", "/", Ros2NodeOptions())
        ros_topic = node.create_topic(topic, STRING, Ros2QosPolicies())
        sub = node.create_subscription(ros_topic)
        pub = node.create_publisher(ros_topic)
        poll(pub.matched_count, 10)
        for i in range(5):
            pub.publish({"data": f"self {i}"})
        got = [sub.next(10.0) for _ in range(5)]
        assert [v.to_pylist()[0]["data"] for v in got if v is not None] == [
            f"self {i}" for i in range(5)
        ]
        assert len(sub._reader._vetted) == 1 and sub._reader.rejected == 0
