"""QoS a ROS 2 user sets, against real rclpy peers: deadline, lifespan, latched (/tf_static) topics.

Deadline is requested/offered: an rclpy subscription that requests one matches only a publisher
offering one at least as short, so the bridge must be able to offer it. Lifespan keeps a stale
latched sample from reaching a late joiner. A latched topic with several publishers (each static
transform broadcaster is one, depth 1) must give a late bridge subscriber every publisher's sample.
"""

from __future__ import annotations

import math
import time

import pytest
from ros_peers import backends, name, peer, poll

from dora_ros.bridge import Ros2Context, Ros2Durability, Ros2NodeOptions, Ros2QosPolicies
from dora_ros.bridge.qos import QosError, parse_qos

DOMAIN = 86
STRING = "std_msgs/msg/String"
LATCHED = {"durability": "transient_local", "depth": 1}


def topic(backend: str, base: str) -> str:
    return name(f"/{backend}/{base}")


@pytest.fixture(scope="module", params=backends())
def ros_node(request):
    with Ros2Context(domain_id=DOMAIN, backend=request.param) as context:
        yield context.new_node(f"qos_{request.param}", "/", Ros2NodeOptions())


def test_keep_last_accepts_what_dora_rs_accepts() -> None:
    # dora-rs takes any i32; 0 and below are a depth of 1 in RustDDS and rmw alike.
    assert Ros2QosPolicies(keep_last=0).keep_last == 1
    assert Ros2QosPolicies(keep_last=-1).keep_last == 1
    assert Ros2QosPolicies(keep_last=2**31 - 1).keep_last == 2**31 - 1
    with pytest.raises(QosError, match="32-bit integer"):
        Ros2QosPolicies(keep_last=2**31)
    with pytest.raises(RuntimeError, match=r"'deadline'.*non-negative"):
        Ros2QosPolicies(deadline=-1.0)
    default = Ros2QosPolicies()
    assert math.isinf(default.deadline) and math.isinf(default.lifespan)
    yaml = parse_qos({"deadline": 0.5, "lifespan": 2, "keep_last": 0})
    assert (yaml.deadline, yaml.lifespan, yaml.keep_last) == (0.5, 2.0, 1)
    assert yaml.describe() == "reliable, volatile, keep_last 1, deadline 0.5 s, lifespan 2 s"


def test_publisher_offering_a_deadline_reaches_a_subscription_requesting_one(ros_node) -> None:
    backend = ros_node.backend.name
    with_deadline, without = topic(backend, "deadline_in"), topic(backend, "no_deadline_in")
    listen = [
        {"topic": t, "type": STRING, "qos": {"deadline": 1.0}} for t in (with_deadline, without)
    ]
    with peer("topic_peer.py", {"node": "deadline_listener", "listen": listen}, DOMAIN) as ros:
        offering = ros_node.create_publisher(
            ros_node.create_topic(with_deadline, STRING, Ros2QosPolicies(deadline=0.5))
        )
        plain = ros_node.create_publisher(ros_node.create_topic(without, STRING, Ros2QosPolicies()))
        poll(offering.matched_count, timeout=20)
        deadline = time.monotonic() + 20
        while not ros.events(lambda e: e.get("topic") == with_deadline):
            assert time.monotonic() < deadline, "the deadline subscription got nothing"
            offering.publish({"data": "on time"})
            time.sleep(0.1)
        got = ros.events(lambda e: e.get("topic") == with_deadline)[0]["value"]
        assert got == {"data": "on time"}
        # Without an offered deadline the same subscription does not match (incompatible QoS):
        # what the bridge could only do before `deadline` existed.
        time.sleep(1.0)
        assert plain.matched_count() == 0


def test_subscription_requesting_a_deadline_hears_a_publisher_offering_one(ros_node) -> None:
    backend = ros_node.backend.name
    source = topic(backend, "deadline_out")
    publish = [
        {
            "topic": source,
            "type": STRING,
            "value": {"data": "tick"},
            "period": 0.05,
            "qos": {"deadline": 0.2},
        }
    ]
    with peer("topic_peer.py", {"node": "deadline_talker", "publish": publish}, DOMAIN):
        sub = ros_node.create_subscription(
            ros_node.create_topic(source, STRING, Ros2QosPolicies(deadline=1.0))
        )
        value = sub.next(20.0)
        assert value is not None and value.to_pylist() == [{"data": "tick"}]


def test_lifespan_keeps_a_stale_latched_sample_from_a_late_joiner(ros_node) -> None:
    backend = ros_node.backend.name
    short, forever = topic(backend, "lifespan_short"), topic(backend, "lifespan_forever")
    latched = {"durability": Ros2Durability.TransientLocal, "keep_last": 1}
    short_pub = ros_node.create_publisher(
        ros_node.create_topic(short, STRING, Ros2QosPolicies(lifespan=0.5, **latched))
    )
    forever_pub = ros_node.create_publisher(
        ros_node.create_topic(forever, STRING, Ros2QosPolicies(**latched))
    )
    short_pub.publish({"data": "stale soon"})
    forever_pub.publish({"data": "kept"})
    time.sleep(1.5)  # three lifespans
    listen = [{"topic": t, "type": STRING, "qos": LATCHED} for t in (short, forever)]
    with peer("topic_peer.py", {"node": "late_joiner", "listen": listen}, DOMAIN) as ros:
        ros.wait(lambda e: e.get("topic") == forever, 20)
        time.sleep(1.0)  # the expired sample, if it were sent, comes with the kept one
        assert ros.events(lambda e: e.get("topic") == short) == []


def test_late_subscriber_gets_every_latched_publisher_sample(ros_node) -> None:
    # /tf_static: every static broadcaster publishes once, transient_local, depth 1. A late
    # subscriber asking for depth 1 (as a dora-rs user would copy from the publisher's profile)
    # must still get one sample per publisher, as tf2's static listener (depth 100) does.
    backend = ros_node.backend.name
    static = topic(backend, "tf_static")
    publish = [
        {"topic": static, "type": STRING, "value": {"data": frame}, "count": 1, "qos": LATCHED}
        for frame in ("base_link->camera", "base_link->lidar")
    ]
    with peer("topic_peer.py", {"node": "static_broadcasters", "publish": publish}, DOMAIN):
        time.sleep(1.0)  # both have published before the bridge subscribes
        sub = ros_node.create_subscription(
            ros_node.create_topic(
                static,
                STRING,
                Ros2QosPolicies(durability=Ros2Durability.TransientLocal, keep_last=1),
            )
        )
        poll(lambda: sub.matched_count() >= 2, timeout=20)
        time.sleep(1.0)  # both historical samples have arrived before we take any
        got = set()
        while len(got) < 2 and (value := sub.next(5.0)) is not None:
            got.add(value.to_pylist()[0]["data"])
        assert got == {"base_link->camera", "base_link->lidar"}


def test_a_huge_keep_last_constructs_and_the_bridge_queue_stays_bounded(ros_node) -> None:
    from dora_ros.bridge.ready_queue import KEEP_ALL_DEPTH

    qos = Ros2QosPolicies(keep_last=2**31 - 1)  # dora-rs accepts it; so do Fast DDS and Cyclone
    topic_ = ros_node.create_topic(topic(ros_node.backend.name, "huge_depth"), STRING, qos)
    sub = ros_node.create_subscription(topic_)
    pub = ros_node.create_publisher(topic_)
    assert sub._reader._queue.depth == KEEP_ALL_DEPTH  # what the bridge holds: 2**20 at most
    poll(sub.matched_count, timeout=10)
    pub.publish({"data": "deep"})
    value = sub.next(10.0)
    assert value is not None and value.to_pylist() == [{"data": "deep"}]
