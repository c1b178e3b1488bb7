"""CDR encode/decode: byte fixtures, accepted value forms, zero copy, byte orders, decode_many.

rclpy comparisons for every installed type live in test_against_rclpy.py; here the generated fast
paths are checked against hand-written bytes, against the slow reference encoder, and against
rosbags for big-endian data.
"""

from __future__ import annotations

import math
import random
import struct
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from dora_ros import msgconv
from dora_ros.msgconv import PRIMITIVES, FieldType, MessageDefinition, TypeRegistry
from dora_ros.msgconv.cdr_reference import decode_reference, encode_reference

# geometry_msgs/Twist{linear: {x: 1.0}, angular: {z: -2.0}}: header, then six float64 (the body
# starts 8-aligned, so no padding).
TWIST = bytes.fromhex(
    "00010000"  # CDR_LE encapsulation header
    "000000000000f03f"  # linear.x = 1.0
    "0000000000000000"
    "0000000000000000"  # linear.y, linear.z
    "0000000000000000"
    "0000000000000000"  # angular.x, angular.y
    "00000000000000c0"  # angular.z = -2.0
)

# geometry_msgs/PoseStamped{header: {stamp: {sec: 1, nanosec: 2}, frame_id: "ab"}, pose.position.x: 3}
POSE_STAMPED = bytes.fromhex(
    "00010000"  # header
    "01000000"
    "02000000"  # stamp.sec, stamp.nanosec (offsets 0, 4)
    "03000000"
    "616200"  # frame_id: length 3 incl. NUL, "ab\0" (offsets 8..14)
    "00"  # padding to 16 for the float64 that follows
    "0000000000000840"  # pose.position.x = 3.0 (offset 16)
    + "0000000000000000" * 5  # position.y, z, orientation.x, y, z
    + "000000000000f03f"  # orientation.w = 1.0
)


def test_twist_bytes_and_value_forms() -> None:
    value = {"linear": {"x": 1.0}, "angular": {"z": -2.0}}
    arrow = pa.array([value], type=msgconv.arrow_type("geometry_msgs/Twist"))
    assert msgconv.encode("geometry_msgs/Twist", value) == TWIST
    assert msgconv.encode("geometry_msgs/Twist", arrow) == TWIST
    assert msgconv.encode("geometry_msgs/Twist", arrow[0]) == TWIST  # StructScalar
    assert msgconv.encode("geometry_msgs/Twist", pa.array([value])) == TWIST  # inferred types
    assert msgconv.encode("geometry_msgs/Twist", pa.chunked_array([arrow])) == TWIST
    decoded = msgconv.decode("geometry_msgs/Twist", TWIST)
    assert decoded.type == msgconv.arrow_type("geometry_msgs/Twist")
    assert decoded.to_pylist() == [
        {"linear": {"x": 1.0, "y": 0.0, "z": 0.0}, "angular": {"x": 0.0, "y": 0.0, "z": -2.0}}
    ]
    # issue 4's example: missing fields take their defaults
    short = msgconv.encode("geometry_msgs/Twist", pa.array([{"linear": {"x": 1.0}}]))
    assert short == TWIST[:-8] + bytes(8)


def test_generated_twist_encoder_is_one_pack() -> None:
    codec = msgconv.default_registry().codec("geometry_msgs/Twist")
    assert codec.encoder_source.count(".pack(") == 1
    assert codec.decoder_source.count("unpack_from") == 1


def test_alignment_after_string_and_zero_padding() -> None:
    value = {
        "header": {"stamp": {"sec": 1, "nanosec": 2}, "frame_id": "ab"},
        "pose": {"position": {"x": 3.0}, "orientation": {"w": 1.0}},
    }
    assert msgconv.encode("geometry_msgs/PoseStamped", value) == POSE_STAMPED
    # peers may leave padding uninitialised and send trailing bytes: both are accepted
    dirty = bytearray(POSE_STAMPED)
    dirty[4 + 15] = 0xAA
    dirty += b"\x55\x55\x55"
    back = msgconv.decode("geometry_msgs/PoseStamped", bytes(dirty)).to_pylist()[0]
    assert back["header"] == value["header"]
    assert back["pose"]["position"] == {"x": 3.0, "y": 0.0, "z": 0.0}
    # the options bytes of the encapsulation header are ignored too
    assert msgconv.decode(
        "geometry_msgs/Twist", TWIST[:2] + b"\x00\x03" + TWIST[4:]
    ).to_pylist() == (msgconv.decode("geometry_msgs/Twist", TWIST).to_pylist())


def test_wstring_as_rclpy_writes_it() -> None:
    blob = msgconv.encode("test_msgs/WStrings", {"wstring_value": "hé😀"})
    # uint32 count of UTF-16 units (4: the emoji is a surrogate pair), each unit in 4 bytes
    assert blob[4:24] == bytes.fromhex("0400000068000000e90000003dd8000000de0000")
    assert msgconv.decode("test_msgs/WStrings", blob).to_pylist()[0]["wstring_value"] == "hé😀"


def test_empty_message_is_one_byte() -> None:
    assert msgconv.encode("std_msgs/Empty", {}) == b"\x00\x01\x00\x00\x00"
    assert msgconv.decode("std_msgs/Empty", b"\x00\x01\x00\x00\x00\x55\x00\x00").to_pylist() == [{}]


def test_lenient_arrow_and_numpy_types() -> None:
    goal = "test_msgs/action/Fibonacci_Goal"
    assert msgconv.encode(goal, pa.array([{"order": 5}])) == b"\x00\x01\x00\x00\x05\x00\x00\x00"
    name = "test_msgs/UnboundedSequences"
    want = msgconv.encode(name, {"float32_values": [1.5, 2.5], "uint8_values": [1, 2, 3]})
    for floats in ([1.5, 2.5], np.array([1.5, 2.5]), np.array([1.5, 2.5], np.float32), (1.5, 2.5)):
        for octets in ([1, 2, 3], np.array([1, 2, 3]), b"\x01\x02\x03", np.array([1.0, 2.0, 3.0])):
            got = msgconv.encode(name, {"float32_values": floats, "uint8_values": octets})
            assert got == want, (floats, octets)
    inferred = pa.array([{"float32_values": [1.5, 2.5], "uint8_values": [1, 2, 3]}])
    assert inferred.type.field("uint8_values").type == pa.list_(pa.int64())
    assert msgconv.encode(name, inferred) == want
    assert msgconv.encode("std_msgs/Int32", {"data": np.int64(7)})[4:] == b"\x07\x00\x00\x00"
    assert msgconv.encode("std_msgs/Int32", {"data": 7.0})[4:] == b"\x07\x00\x00\x00"


def test_encode_many_one_message_per_row() -> None:
    rows = pa.array(
        [{"data": "a"}, {"data": "bcd"}, {"data": ""}],
        type=msgconv.arrow_type("std_msgs/String"),
    )
    blobs = msgconv.encode_many("std_msgs/String", rows)
    assert blobs == [msgconv.encode("std_msgs/String", {"data": s}) for s in ("a", "bcd", "")]
    assert blobs[1] == b"\x00\x01\x00\x00\x04\x00\x00\x00bcd\x00"
    assert msgconv.encode_many("std_msgs/String", rows.slice(1, 2)) == blobs[1:]


def test_python_row_reader_matches_to_pylist() -> None:
    """The Python reader of Arrow rows (`_struct_rows`, used where the C helpers are not built)
    gives the dicts of `to_pylist`, with numeric lists as arrays: over slices (offsets in the
    struct and in fixed-size lists), a null nested struct, null lists and several sizes."""
    from dora_ros.msgconv.codec import _struct_rows

    name = "sensor_msgs/msg/Imu"
    codec = msgconv.default_registry().codec(name)
    rng = np.random.default_rng(3)
    rows: list[dict[str, Any]] = []
    for i in range(40):
        cov = [float(x) for x in rng.standard_normal(9)]
        rows.append(
            {
                "header": {"stamp": {"sec": i, "nanosec": 7 * i}, "frame_id": f"imu{i}"},
                "orientation": None if i % 7 == 3 else {"x": 0.5, "y": -0.5, "z": 0.0, "w": i},
                "orientation_covariance": None if i % 5 == 2 else cov,
                "angular_velocity": {"x": float(i), "y": 0.0, "z": -1.0},
                "angular_velocity_covariance": cov[::-1],
                "linear_acceleration": {"x": 0.0, "y": 0.0, "z": 9.81},
                "linear_acceleration_covariance": cov,
            }
        )
    array = pa.array(rows, type=codec.arrow_type)
    for part in (array, array.slice(1), array.slice(13, 17), array.slice(39), array.slice(5, 0)):
        got = _struct_rows(part, codec.definition, codec._plans)
        want = part.to_pylist()
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert list(g) == list(w)  # every field, in the definition's order
            for key, value in w.items():
                if isinstance(g[key], np.ndarray):
                    assert g[key].tolist() == value
                else:
                    assert g[key] == value
        assert codec.encode_many(part) == [codec.encode_tree(r) for r in want]


def _body_at(blob: bytes, misalign: int) -> memoryview:
    """`blob` in fresh memory, its CDR body (after the header) at an 8-aligned address + misalign."""
    raw = np.zeros(len(blob) + 32, dtype=np.uint8)
    start = (-(raw.ctypes.data + 4) % 8) + misalign
    view = raw[start : start + len(blob)]
    view[:] = np.frombuffer(blob, np.uint8)
    return memoryview(view)


def _points_into(array: pa.Array, buffer: memoryview) -> bool:
    data = array.buffers()[1]
    start = np.frombuffer(buffer, np.uint8).ctypes.data
    return start <= data.address + array.offset * array.type.byte_width < start + len(buffer)


def test_image_data_is_zero_copy() -> None:
    pixels = np.arange(64 * 48 * 3, dtype=np.uint32).astype(np.uint8)
    blob = msgconv.encode(
        "sensor_msgs/Image",
        {"height": 48, "width": 64, "encoding": "rgb8", "step": 192, "data": pixels},
    )
    for misalign in (0, 1, 3):
        buffer = _body_at(blob, misalign)
        image = msgconv.decode("sensor_msgs/Image", buffer)
        data = image.field("data").flatten()
        assert np.array_equal(data.to_numpy(), pixels)
        assert _points_into(data, buffer)  # bytes are never misaligned
        assert np.shares_memory(data.to_numpy(), np.frombuffer(buffer, np.uint8))


def test_float64_array_zero_copy_only_when_aligned() -> None:
    values = np.linspace(0, 1, 1000)
    blob = msgconv.encode("std_msgs/Float64MultiArray", {"data": values})
    aligned = _body_at(blob, 0)
    data = msgconv.decode("std_msgs/Float64MultiArray", aligned).field("data").flatten()
    assert np.array_equal(data.to_numpy(), values) and _points_into(data, aligned)
    shifted = _body_at(blob, 4)  # body 4 bytes off: the float64s are not 8-aligned in memory
    data = msgconv.decode("std_msgs/Float64MultiArray", shifted).field("data").flatten()
    assert np.array_equal(data.to_numpy(), values) and not _points_into(data, shifted)
    floats = np.linspace(0, 1, 999, dtype=np.float32)
    blob = msgconv.encode("std_msgs/Float32MultiArray", {"data": floats})
    for misalign in (0, 4):
        buffer = _body_at(blob, misalign)
        data = msgconv.decode("std_msgs/Float32MultiArray", buffer).field("data").flatten()
        assert np.array_equal(data.to_numpy(), floats) and _points_into(data, buffer)


def test_encode_copies_big_arrays_once_from_arrow() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, 3 * 640 * 480, dtype=np.uint8)
    value = {"height": 480, "width": 640, "encoding": "rgb8", "step": 1920, "data": pixels}
    from_dict = msgconv.encode("sensor_msgs/Image", value)
    arrow = msgconv.decode("sensor_msgs/Image", from_dict)
    assert msgconv.encode("sensor_msgs/Image", arrow) == from_dict
    assert from_dict[-len(pixels) :] == pixels.tobytes()


@pytest.fixture(scope="module")
def rosbags_store() -> Any:
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_KILTED)


@pytest.mark.parametrize(
    "type_name",
    [
        "sensor_msgs/msg/Imu",
        "sensor_msgs/msg/Image",
        "sensor_msgs/msg/PointCloud2",
        "nav_msgs/msg/Path",
    ],
)
def test_big_endian_decode_matches_little_endian(rosbags_store: Any, type_name: str) -> None:
    rng = random.Random(7)
    registry = msgconv.default_registry()
    values = [_random_value(registry.message(type_name), registry, rng) for _ in range(4)]
    le = [msgconv.encode(type_name, v) for v in values]
    be = [
        bytes(
            rosbags_store.serialize_cdr(
                rosbags_store.deserialize_cdr(b, type_name), type_name, little_endian=False
            )
        )
        for b in le
    ]
    assert all(b[:2] == b"\x00\x00" for b in be)
    for x, y in zip(le, be, strict=True):
        assert msgconv.decode(type_name, y).to_pylist() == msgconv.decode(type_name, x).to_pylist()
    want = msgconv.decode_many(type_name, le)
    assert msgconv.decode_many(type_name, be).equals(want)
    assert msgconv.decode_many(type_name, [le[0], be[1], le[2], be[3]]).equals(want)


def _random_scalar(ftype: FieldType, rng: random.Random) -> Any:
    if ftype.is_string:
        size = rng.randint(0, ftype.string_bound if ftype.string_bound is not None else 12)
        return "".join(rng.choice("aZé漢😀 ") for _ in range(size))
    prim = PRIMITIVES[ftype.name]
    if prim.name == "bool":
        return rng.random() < 0.5
    if prim.low is None:
        value = rng.choice([0.0, -1.5, rng.uniform(-1e6, 1e6), math.inf])
        return struct.unpack("<f", struct.pack("<f", value))[0] if prim.size == 4 else value
    assert prim.high is not None
    return rng.choice([prim.low, prim.high, rng.randint(prim.low, prim.high)])


def _random_value(
    definition: MessageDefinition, registry: TypeRegistry, rng: random.Random
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in definition.fields:
        if rng.random() < 0.1:
            continue  # missing: its default
        element = f.type.element

        def one(element: FieldType = element) -> Any:
            if element.is_nested:
                return _random_value(registry.message(element.name), registry, rng)
            return _random_scalar(element, rng)

        if f.type.array == "fixed":
            out[f.name] = [one() for _ in range(f.type.length or 0)]
        elif f.type.array:
            n = rng.randint(0, min(f.type.length if f.type.length is not None else 5, 5))
            out[f.name] = [one() for _ in range(n)]
        else:
            out[f.name] = one()
    return out


def _message_types() -> list[str]:
    registry = msgconv.default_registry()
    names = []
    for name in registry.interfaces():
        definition = registry.resolve(name)
        if isinstance(definition, MessageDefinition):
            names.append(definition.name)
        elif hasattr(definition, "request"):
            names += [definition.request.name, definition.response.name]  # type: ignore[union-attr]
        else:
            names += [m.name for m in definition.messages]  # type: ignore[union-attr]
    return names


def test_generated_codecs_agree_with_the_reference_for_every_type() -> None:
    registry = msgconv.default_registry()
    rng = random.Random(1)
    checked = 0
    for name in _message_types():
        definition = registry.message(name)
        codec = registry.codec(name)
        values = [_random_value(definition, registry, rng) for _ in range(3)]
        for value in values:
            fast = codec.encode_tree(value)
            assert fast == encode_reference(definition, value, registry), name
            # valid plain values never need the fallback: the generated code handles them itself
            assert codec._encode(value) == fast, name
            back = msgconv.decode(name, fast)
            assert msgconv.encode(name, back) == fast, name  # Arrow round trip
            assert codec._encode(codec.rows(back)[0]) == fast, name  # ... on the fast path
            assert back.to_pylist()[0] == decode_reference(definition, fast, registry), name
        blobs = [codec.encode_tree(v) for v in values]
        many = msgconv.decode_many(name, blobs)
        assert many.to_pylist() == [msgconv.decode(name, b).to_pylist()[0] for b in blobs], name
        checked += 1
    assert checked > 150


def test_decode_many_from_a_binary_array_without_copies() -> None:
    blobs = [
        msgconv.encode("std_msgs/UInt8MultiArray", {"data": list(range(i, i + 40))})
        for i in range(5)
    ]
    column = pa.array(blobs, pa.binary()).slice(1, 4)
    many = msgconv.decode_many("std_msgs/UInt8MultiArray", column)
    assert many.to_pylist() == [
        msgconv.decode("std_msgs/UInt8MultiArray", b).to_pylist()[0] for b in blobs[1:]
    ]
    # the uint8 values point into the binary array's data buffer (decode_many of one message)
    one = (
        msgconv.decode_many("std_msgs/UInt8MultiArray", column.slice(0, 1)).field("data").flatten()
    )
    data = column.buffers()[2]
    assert data.address <= one.buffers()[1].address < data.address + data.size
    chunked = pa.chunked_array([column.slice(0, 2), column.slice(2, 2)])
    assert msgconv.decode_many("std_msgs/UInt8MultiArray", chunked).equals(many)
