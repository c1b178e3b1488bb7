"""The Cyclone DDS backend on its own: configuration, DDS types, raw CDR both ways, QoS, errors.

The topic tests of the Python API (`test_topics.py`) run over this backend too; here the backend
is driven directly with bytes written by a plain CDR reference (`cyclone_helpers.py`), against one
rclpy peer process (B1's `peers/topic_peer.py`) that echoes what it understood.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cyclone_helpers import cdr_image, cdr_string, parse_image, parse_string, python_peer
from ros_peers import name, poll

from dora_ros.bridge.backend import UnsupportedRoleError
from dora_ros.bridge.cyclone_backend import CycloneBackend, dds_topic_name
from dora_ros.bridge.cyclone_config import (
    BUFFERS_XML,
    COMPATIBILITY_XML,
    DiscoveryRange,
    DiscoverySettings,
    cyclone_config,
)
from dora_ros.bridge.cyclone_types import build_type, dds_type_name, serialized_type
from dora_ros.bridge.qos import Ros2Durability, Ros2QosPolicies
from dora_ros.bridge.ros_discovery import computed_type_hash
from dora_ros.errors import BridgeError
from dora_ros.msgconv import Field, FieldType, MessageDefinition, message_definition

DOMAIN = 61
PIXELS = (np.arange(1920 * 1080 * 3, dtype=np.uint32) % 251).astype(np.uint8).tobytes()

# --- configuration from ROS 2's environment variables -------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected", "absent"),
    [
        (
            {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"},
            [
                '<NetworkInterface address="127.0.0.1"/>',
                "<AllowMulticast>false</AllowMulticast>",
                '<Peer address="127.0.0.1"/>',
                "<ParticipantIndex>auto</ParticipantIndex>",
            ],
            [],
        ),
        ({"ROS_LOCALHOST_ONLY": "1"}, ['<Peer address="127.0.0.1"/>'], []),
        ({}, [], ["<Discovery>", "AllowMulticast"]),  # SUBNET: Cyclone's own defaults
        (
            {
                "ROS_AUTOMATIC_DISCOVERY_RANGE": "subnet",
                "ROS_STATIC_PEERS": "10.0.0.7; robot.local",
            },
            ['<Peer address="10.0.0.7"/>', '<Peer address="robot.local"/>'],
            ["AllowMulticast"],
        ),
        (
            {"ROS_AUTOMATIC_DISCOVERY_RANGE": "OFF"},
            ["<AllowMulticast>false</AllowMulticast>", "<ParticipantIndex>none</ParticipantIndex>"],
            ["<Peer "],
        ),
        ({"ROS_AUTOMATIC_DISCOVERY_RANGE": "SYSTEM_DEFAULT"}, [], ["<Discovery>"]),
    ],
)
def test_discovery_env_maps_to_cyclone_xml(
    env: dict[str, str], expected: list[str], absent: list[str]
) -> None:
    xml = cyclone_config(DiscoverySettings.from_env(env), env) or ""
    # Always: ignore Fast DDS's type objects (Cyclone cannot validate them).
    assert "<IgnoreTypeInformation>1.15</IgnoreTypeInformation>" in xml
    for piece in expected:
        assert piece in xml
    for piece in absent:
        assert piece not in xml


def test_user_cyclonedds_uri_comes_first() -> None:
    env = {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "CYCLONEDDS_URI": "file:///etc/my.xml"}
    xml = cyclone_config(DiscoverySettings.from_env(env), env) or ""
    assert xml.split(",")[1:3] == ["file:///etc/my.xml", COMPATIBILITY_XML]
    assert xml.startswith(BUFFERS_XML)  # our defaults, then the user's, then what ROS env says


def test_bad_discovery_range_is_named() -> None:
    with pytest.raises(BridgeError) as err:
        DiscoverySettings.from_env({"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCAL"})
    assert str(err.value) == (
        "ROS_AUTOMATIC_DISCOVERY_RANGE='LOCAL' is not one of SYSTEM_DEFAULT, SUBNET, LOCALHOST, OFF"
    )
    assert DiscoverySettings.from_env({}).range is DiscoveryRange.SUBNET


# --- DDS types built from msgconv definitions ----------------------------------------------------


def test_types_have_ros2_names_and_structure() -> None:
    image = build_type("sensor_msgs/msg/Image", message_definition)
    assert image.__idl_typename__ == "sensor_msgs::msg::dds_::Image_"
    hints = image.__annotations__
    assert list(hints) == [
        "header",
        "height",
        "width",
        "encoding",
        "is_bigendian",
        "step",
        "data",
    ]
    assert hints["header"].__idl_typename__ == "std_msgs::msg::dds_::Header_"
    stamp = hints["header"].__annotations__["stamp"]
    assert stamp.__idl_typename__ == "builtin_interfaces::msg::dds_::Time_"
    assert "sequence[uint8]" in repr(hints["data"])
    bounded = build_type("test_msgs/msg/BoundedSequences", message_definition).__annotations__
    assert "sequence[int32, 3]" in repr(bounded["int32_values"])
    arrays = build_type("test_msgs/msg/Arrays", message_definition).__annotations__
    assert "array[float64, 3]" in repr(arrays["float64_values"])
    assert "array[str, 3]" in repr(arrays["string_values"])
    strings = build_type("test_msgs/msg/Strings", message_definition).__annotations__
    assert "bounded_str[22]" in repr(strings["bounded_string_value"])
    empty = build_type("std_msgs/msg/Empty", message_definition)
    assert list(empty.__annotations__) == ["structure_needs_at_least_one_member"]
    # Two bridges in one process share the class (cyclonedds-python keeps one per type name).
    assert build_type("sensor_msgs/msg/Image", message_definition) is image
    assert dds_type_name("my_robot_msgs/msg/Status") == "my_robot_msgs::msg::dds_::Status_"
    assert dds_topic_name("/ns/chatter") == "rt/ns/chatter"


def test_key_fields_are_dds_keys() -> None:
    defs = {
        "my_msgs/msg/Sensor": MessageDefinition(
            "my_msgs/msg/Sensor",
            (Field("id", FieldType("uint32"), key=True), Field("value", FieldType("float64"))),
        )
    }
    keyed = build_type("my_msgs/msg/Sensor", defs.__getitem__)
    keyed.__idl__.populate()
    assert keyed.__idl__.keyless is False
    assert keyed.__idl_field_annotations__["id"] == {"key": True}


SENSOR = {
    "my_msgs/msg/Sensor": MessageDefinition(
        "my_msgs/msg/Sensor",
        (Field("id", FieldType("uint32"), key=True), Field("value", FieldType("float64"))),
    )
}


@pytest.mark.parametrize(
    "type_name",
    [
        "sensor_msgs/msg/Image",
        "std_msgs/msg/String",
        "std_msgs/msg/Empty",
        "test_msgs/msg/Arrays",
        "test_msgs/msg/BoundedSequences",
        "test_msgs/msg/Strings",
        "my_msgs/msg/Sensor",
    ],
)
def test_serialized_types_announce_the_plain_structs_type_information(type_name: str) -> None:
    """The backend's topic types pass CDR through their public serialize/deserialize, and are
    otherwise the plain struct: the same DDS name, members, keys and XTypes type information
    (what Cyclone announces and Cyclone peers check), so every peer matches as before."""
    from cyclonedds.idl import IdlStruct

    resolve = SENSOR.__getitem__ if type_name in SENSOR else message_definition
    plain = build_type(type_name, resolve)
    topic_type = serialized_type(type_name, resolve)
    assert topic_type is not plain and serialized_type(type_name, resolve) is topic_type
    assert topic_type.__base__ is IdlStruct  # no base struct: XTypes would announce one
    assert topic_type.__idl_typename__ == plain.__idl_typename__ == dds_type_name(type_name)
    assert topic_type.__annotations__ == plain.__annotations__
    assert topic_type.__idl_field_annotations__ == plain.__idl_field_annotations__
    for cls in (plain, topic_type):
        cls.__idl__.populate()
    assert topic_type.__idl__.keyless is plain.__idl__.keyless is (type_name not in SENSOR)
    info, mapping = topic_type.__idl__.get_type_info(), topic_type.__idl__.get_type_mapping()
    assert info.serialize() == plain.__idl__.get_type_info().serialize()
    assert mapping.serialize() == plain.__idl__.get_type_mapping().serialize()


def test_serialized_samples_are_their_bytes_without_a_copy() -> None:
    """What DataWriter.write does with a sample (serialize, then ljust to a multiple of 4) hands
    msgconv's aligned bytes to C as the same object; anything else is copied once, here."""
    from dora_ros.bridge.cyclone_backend import _aligned

    topic_type = serialized_type("std_msgs/msg/String", message_definition)
    aligned = cdr_string("abc")  # 4 + 4 + 4 bytes
    assert len(aligned) % 4 == 0 and _aligned(aligned) is aligned
    sample = topic_type.of(_aligned(aligned))
    ser = sample.serialize(use_version_2=False)
    assert ser is aligned and ser.ljust((len(ser) + 3) & ~3, b"\0") is aligned  # pub.py's pad
    assert topic_type.deserialize(aligned).cdr is aligned  # what DataReader.take returns
    odd = cdr_string("ab")  # 11 bytes
    for buffer in (odd, bytearray(odd), memoryview(b"x" + odd)[1:], bytearray(aligned)):
        padded = _aligned(buffer)
        assert type(padded) is bytes and len(padded) % 4 == 0
        assert padded == bytes(buffer) + b"\0" * (-len(bytes(buffer)) % 4)
        assert padded.ljust((len(padded) + 3) & ~3, b"\0") is padded


def test_a_plain_cyclone_peer_reads_and_writes_the_same_bytes(backend) -> None:
    """A cyclonedds-python participant with the plain struct, deserializing and serializing in
    Python, matches the backend's endpoints under Cyclone's full XTypes check (Cyclone to Cyclone:
    IgnoreTypeInformation is for eProsima peers only) and sees the same messages both ways."""
    from cyclonedds.domain import DomainParticipant
    from cyclonedds.pub import DataWriter
    from cyclonedds.sub import DataReader
    from cyclonedds.topic import Topic

    plain = build_type("sensor_msgs/msg/Image", message_definition)
    topic = name("/cy/plain_peer")
    participant = DomainParticipant(DOMAIN)
    try:
        dds_topic = Topic(participant, dds_topic_name(topic), plain)
        plain_reader = DataReader(participant, dds_topic)
        plain_writer = DataWriter(participant, dds_topic)
        writer = backend.create_writer(topic, "sensor_msgs/msg/Image", Ros2QosPolicies())
        reader = backend.create_reader(topic, "sensor_msgs/msg/Image", Ros2QosPolicies())
        try:
            poll(
                lambda: (
                    writer.matched_count() == 2  # its own reader and the plain one
                    and reader.matched_count() == 2
                    and plain_reader.get_subscription_matched_status().current_count == 2
                )
            )
            small = bytes(range(256)) * 12  # 64x16 rgb8
            sent = cdr_image(64, 16, "rgb8", small, frame_id="cam", sec=3)
            writer.write(sent)
            got = reader.take(timeout=5)
            assert got is not None and bytes(got) == sent + b"\0" * (-len(sent) % 4)
            (image,) = poll(lambda: plain_reader.take(N=4))
            assert (image.width, image.height, image.encoding, image.step) == (64, 16, "rgb8", 192)
            assert image.header.frame_id == "cam" and image.header.stamp.sec == 3
            assert bytes(image.data) == small
            image.header.frame_id = "plain"
            plain_writer.write(image)
            back = reader.take(timeout=5)
            assert back is not None
            expected = cdr_image(64, 16, "rgb8", small, frame_id="plain", sec=3)
            assert bytes(back) == expected + b"\0" * (-len(expected) % 4)
            # A dispose reaches the reader as a sample without data (its key only): skipped.
            plain_writer.dispose(image)
            image.header.frame_id = "after dispose"
            plain_writer.write(image)
            back = reader.take(timeout=5)
            assert back is not None and parse_image(bytes(back))["frame_id"] == "after dispose"
            assert reader.take(timeout=0.3) is None
        finally:
            writer.close()
            reader.close()
    finally:
        participant.__del__()  # now, not at garbage collection (the backend's _delete does so)


def test_wide_strings_are_refused_with_the_reason() -> None:
    with pytest.raises(BridgeError) as err:
        build_type("test_msgs/msg/WStrings", message_definition)
    assert "test_msgs/msg/WStrings: field 'wstring_value': wstring is not supported" in str(
        err.value
    )
    assert "use backend 'rclpy'" in str(err.value)


# --- against a real rclpy peer ---------------------------------------------------------------


@pytest.fixture(scope="module")
def backend():
    with CycloneBackend(node_name="cyclone_test", namespace="/", domain_id=DOMAIN) as b:
        yield b


@pytest.fixture(scope="module")
def echo_peer():
    config = {
        "node": "cyclone_echo",
        "echo": [
            {
                "in": name("/cy/string_in"),
                "out": name("/cy/string_out"),
                "type": "std_msgs/msg/String",
            },
            {
                "in": name("/cy/image_in"),
                "out": name("/cy/image_out"),
                "type": "sensor_msgs/msg/Image",
            },
        ],
        "publish": [
            {
                "topic": name("/cy/image_from_ros"),
                "type": "sensor_msgs/msg/Image",
                "image": True,
                "period": 0.2,
            }
        ],
    }
    with python_peer("topic_peer.py", config, DOMAIN) as peer:
        yield peer


def roundtrip(backend, peer, kind: str, type_name: str, data: bytes, timeout: float = 20.0):
    writer = backend.create_writer(name(f"/cy/{kind}_in"), type_name, Ros2QosPolicies())
    reader = backend.create_reader(name(f"/cy/{kind}_out"), type_name, Ros2QosPolicies())
    try:
        poll(lambda: writer.matched_count() and reader.matched_count(), timeout=timeout)
        mark = peer.mark()
        deadline = time.monotonic() + timeout
        back = None
        while back is None and time.monotonic() < deadline:
            writer.write(memoryview(data))  # any buffer: no copy into bytes first
            back = reader.take(timeout=1.0)
        assert back is not None, f"{kind}: nothing came back; peer said {peer.lines[-3:]}"
        got = peer.wait(lambda e: e.get("event") == "recv", start=mark)
        return bytes(back), got["value"]
    finally:
        writer.close()
        reader.close()


def test_pre_encoded_string_reaches_rclpy_and_back(backend, echo_peer) -> None:
    sent = cdr_string("héllo from cyclone")
    back, value = roundtrip(backend, echo_peer, "string", "std_msgs/msg/String", sent)
    assert value == {"data": "héllo from cyclone"}  # rclpy deserialized our bytes
    assert parse_string(back) == "héllo from cyclone"


def test_1080p_image_reaches_rclpy_and_back(backend, echo_peer) -> None:
    sent = cdr_image(1920, 1080, "rgb8", PIXELS, frame_id="cam", sec=7)
    back, value = roundtrip(backend, echo_peer, "image", "sensor_msgs/msg/Image", sent)
    # rclpy deserialized our bytes and serialized its message again: the same CDR, byte for byte
    # (up to the zero padding to 4 bytes that every DDS payload gets).
    assert back == sent + b"\0" * (-len(sent) % 4)
    assert (value["height"], value["width"], value["encoding"], value["step"]) == (
        1080,
        1920,
        "rgb8",
        5760,
    )
    assert value["header"]["frame_id"] == "cam" and value["header"]["stamp"]["sec"] == 7
    assert value["data"] == {"len": len(PIXELS), "sha256": hashlib.sha256(PIXELS).hexdigest()}
    image = parse_image(back)
    assert (image["width"], image["height"], image["frame_id"]) == (1920, 1080, "cam")
    assert image["data"] == PIXELS


def test_rclpy_image_arrives_as_its_cdr_bytes(backend, echo_peer) -> None:
    reader = backend.create_reader(
        name("/cy/image_from_ros"), "sensor_msgs/msg/Image", Ros2QosPolicies()
    )
    try:
        data = reader.take(timeout=20)
        assert isinstance(data, bytes)
        image = parse_image(data)
        expected = cdr_image(1920, 1080, "rgb8", PIXELS, frame_id="camera", sec=image["sec"])
        assert image["nanosec"] == 0
        assert data == expected + b"\0" * (-len(expected) % 4)  # rclpy's bytes, as sent
        assert (image["width"], image["height"], image["encoding"], image["frame_id"]) == (
            1920,
            1080,
            "rgb8",
            "camera",
        )
        assert image["data"] == PIXELS
        assert reader.matched_count() == 1
    finally:
        reader.close()


def test_transient_local_sample_reaches_a_late_rclpy_subscriber(backend) -> None:
    qos = Ros2QosPolicies(durability=Ros2Durability.TransientLocal, keep_last=1)
    topic = name("/cy/latched")
    writer = backend.create_writer(topic, "std_msgs/msg/String", qos)
    try:
        writer.write(cdr_string("old news"))
        writer.write(cdr_string("latest"))
        listen = {
            "node": "late_joiner",
            "listen": [
                {
                    "topic": topic,
                    "type": "std_msgs/msg/String",
                    "qos": {"durability": "transient_local", "depth": 1},
                }
            ],
        }
        with python_peer("topic_peer.py", listen, DOMAIN) as late:
            got = late.wait(lambda e: e.get("event") == "recv", timeout=20)
            assert got["value"] == {"data": "latest"}
    finally:
        writer.close()


def test_two_backends_share_one_domain_in_a_process(backend) -> None:
    topic = name("/cy/local")
    with CycloneBackend(node_name="second", namespace="/other", domain_id=DOMAIN) as second:
        reader = second.create_reader(topic, "std_msgs/msg/String", Ros2QosPolicies())
        writer = backend.create_writer(topic, "std_msgs/msg/String", Ros2QosPolicies())
        poll(lambda: writer.matched_count() and reader.matched_count())
        writer.write(cdr_string("in-process"))
        assert parse_string(reader.take(timeout=5)) == "in-process"  # type: ignore[arg-type]
        writer.close()
        writer.close()  # idempotent
    # The first backend's participant survives the second's close (shared Cyclone domain).
    again = backend.create_writer(topic, "std_msgs/msg/String", Ros2QosPolicies())
    again.close()


def test_services_and_actions_are_refused_with_the_reason(backend) -> None:
    for role in ("service", "action", "parameters"):
        with pytest.raises(UnsupportedRoleError) as err:
            backend.check_role(role)
        assert f"backend 'cyclonedds' cannot do {role}s" in str(err.value)
        assert "related_sample_identity" in str(err.value)
    assert backend.check_role("topic") is None


def test_unknown_type_names_the_topic(backend) -> None:
    with pytest.raises(BridgeError) as err:
        backend.create_writer("/x", "std_msgs/msg/Strng", Ros2QosPolicies())
    assert str(err.value).startswith("/x: ")
    assert "std_msgs/msg/Strng" in str(err.value)


def test_one_topic_one_type(backend) -> None:
    topic = name("/cy/typed")
    writer = backend.create_writer(topic, "std_msgs/msg/String", Ros2QosPolicies())
    try:
        with pytest.raises(BridgeError) as err:
            backend.create_reader(topic, "geometry_msgs/msg/Twist", Ros2QosPolicies())
        assert "already used with type std_msgs/msg/String" in str(err.value)
    finally:
        writer.close()


def test_computed_type_hashes_match_rosidl() -> None:
    """The hash a never-built type announces is computed as rosidl computes it: checked against
    every message type description installed in the venv (share/<pkg>/msg/<T>.json)."""
    share = Path(sys.prefix) / "share"
    checked = 0
    for path in sorted(share.glob("*/msg/*.json")):
        type_name = f"{path.parent.parent.name}/msg/{path.stem}"
        doc = json.loads(path.read_text())
        (expected,) = [h["hash_string"] for h in doc["type_hashes"] if h["type_name"] == type_name]
        assert computed_type_hash(type_name, message_definition) == expected, type_name
        checked += 1
    assert checked > 100  # std, geometry, sensor, test_msgs, ...


def test_a_sample_beyond_the_udp_receive_buffer_is_warned_about_once(
    backend, monkeypatch, caplog
) -> None:
    from dora_ros.bridge import cyclone_backend

    monkeypatch.setattr(cyclone_backend, "_warned_large", False)
    limit = cyclone_backend._UDP_RECEIVE_BUFFER  # /proc/sys/net/core/rmem_default
    writer = backend.create_writer(name("/cy/big"), "std_msgs/msg/String", Ros2QosPolicies())
    try:
        with caplog.at_level("WARNING", logger="dora_ros.bridge.cyclone_backend"):
            writer.write(cdr_string("small"))
            assert not caplog.records
            big = cdr_string("x" * (limit + 1))
            writer.write(big)
            writer.write(big)
        (record,) = caplog.records
        assert name("/cy/big") in record.getMessage()
        assert f"larger than net.core.rmem_default ({limit} bytes)" in record.getMessage()
        assert "sysctl -w net.core.rmem_max=4194304 net.core.rmem_default" in record.getMessage()
    finally:
        writer.close()


def test_a_sample_beyond_the_own_receive_buffer_is_warned_about_once(
    backend, monkeypatch, caplog
) -> None:
    """The backend's socket holds what net.core.rmem_max allows (here made small on purpose)."""
    from dora_ros.bridge import cyclone_backend

    monkeypatch.setattr(cyclone_backend, "_warned_large_received", False)
    monkeypatch.setattr(cyclone_backend, "_OWN_RECEIVE_BUFFER", 1000)
    topic = name("/cy/big_in")
    reader = backend.create_reader(topic, "std_msgs/msg/String", Ros2QosPolicies())
    writer = backend.create_writer(topic, "std_msgs/msg/String", Ros2QosPolicies())
    try:
        with caplog.at_level("WARNING", logger="dora_ros.bridge.cyclone_backend"):
            writer.write(cdr_string("small"))
            assert reader.take(10) is not None
            assert not caplog.records
            for _ in range(2):
                writer.write(cdr_string("x" * 2000))
                assert reader.take(10) is not None
        (record,) = caplog.records
        assert topic in record.getMessage()
        assert (
            "more than this backend's UDP receive buffer holds (1000 bytes" in record.getMessage()
        )
        assert "sysctl -w net.core.rmem_max=16777216" in record.getMessage()
    finally:
        writer.close()
        reader.close()
