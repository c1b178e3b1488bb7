"""Fixed-layout types (numbers only, `fixed_layout.py`) decode and encode in one call, exactly as
the general path does: every bit (NaN payloads, -0.0), both byte orders, padding between sizes,
and every input it cannot prove it reads right (slices, children with offsets, nulls, other leaf
types, truncated data) goes the general way with the same result or error."""

from __future__ import annotations

import random
import struct

import numpy as np
import pyarrow as pa
import pytest

from dora_ros import msgconv
from dora_ros.msgconv import CdrError, TypeRegistry

NUMBERS = "uint8 a\nfloat64 b\nint16 c\nint32 d\nint8 e\nfloat32[3] f\nuint64 g\nchar h\nbyte i\n"


def _registry() -> TypeRegistry:
    registry = TypeRegistry(use_default_roots=False)
    registry.add_definition("fx/msg/Numbers", NUMBERS)
    registry.add_definition("fx/msg/Outer", "int8 head\nfx/Numbers inner\nfloat32 tail\n")
    registry.add_definition("fx/msg/WithBool", "float64 x\nbool flag\n")
    return registry


def _general(codec: msgconv.Codec, blob: bytes) -> pa.StructArray:
    return codec.to_arrow([codec.decode_tree(blob)])


def test_which_types_have_a_fixed_layout() -> None:
    registry = msgconv.default_registry()
    for name in (
        "geometry_msgs/msg/Twist",
        "geometry_msgs/msg/Pose",
        "geometry_msgs/msg/PoseWithCovariance",
        "builtin_interfaces/msg/Time",
        "std_msgs/msg/UInt8",
    ):
        assert registry.codec(name)._fixed is not None, name
    for name in ("std_msgs/msg/Bool", "sensor_msgs/msg/Imu", "std_msgs/msg/Empty"):
        assert registry.codec(name)._fixed is None, name
    assert _registry().codec("fx/msg/WithBool")._fixed is None
    assert _registry().codec("fx/msg/Outer")._fixed is not None


def test_fixed_decode_and_encode_carry_every_bit() -> None:
    codec = _registry().codec("fx/msg/Outer")
    fixed = codec._fixed
    assert fixed is not None
    rng = random.Random(11)
    for _ in range(200):
        # random bytes in every value (NaN payloads, -0.0, infinities included), zero padding
        body = bytearray(rng.randbytes(fixed.cdr_size))
        general_blob = codec._encode(_general(codec, b"\x00\x01\x00\x00" + body).to_pylist()[0])
        values = fixed.cdr_le.unpack_from(general_blob, 4)
        blob = b"\x00\x01\x00\x00" + fixed.cdr_le.pack(*values)
        got = codec.decode(blob)
        assert got.type == codec.arrow_type
        # bit-exact: encoding the decoded array gives the same bytes, by both encoders
        assert codec.encode(got) == blob
        assert fixed.encode(got) == blob
        rows = got.to_pylist()
        want = _general(codec, blob).to_pylist()
        assert repr(rows) == repr(want)  # repr: nan == nan, -0.0 shown
        # big-endian data: the same values
        be = b"\x00\x00\x00\x00" + fixed.cdr_be.pack(*values)
        assert repr(codec.decode(be).to_pylist()) == repr(want)
        assert repr(_general(codec, be).to_pylist()) == repr(want)


def test_fixed_layout_matches_rclpy_padding() -> None:
    # Time (no padding) and a hand-written big-endian Time; Twist against its known bytes
    registry = msgconv.default_registry()
    time = registry.codec("builtin_interfaces/msg/Time")
    be = bytes.fromhex("00000000") + struct.pack(">iI", -5, 7)
    assert time.decode(be).to_pylist() == [{"sec": -5, "nanosec": 7}]
    assert time.encode(time.decode(be)) == bytes.fromhex("00010000") + struct.pack("<iI", -5, 7)
    codec = _registry().codec("fx/msg/Numbers")
    value = {"a": 1, "b": 2.5, "c": -3, "d": 4, "e": -5, "f": [1, 2, 3], "g": 2**64 - 1}
    blob = codec._encode({**value, "h": 6, "i": 7})
    # uint8, 7 padding, float64, int16, 2 padding, int32, int8, 3 padding, float32[3] (ends at
    # 40), uint64, char, byte
    assert len(blob) == 4 + 1 + 7 + 8 + 2 + 2 + 4 + 1 + 3 + 12 + 8 + 1 + 1
    assert blob[4 + 40 : 4 + 48] == b"\xff" * 8
    assert codec.decode(blob).to_pylist() == _general(codec, blob).to_pylist()


def test_fixed_encode_leaves_what_it_cannot_prove_to_the_general_path() -> None:
    codec = msgconv.default_registry().codec("geometry_msgs/msg/Twist")
    rows = [
        {"linear": {"x": 1.0, "y": 2.0, "z": 3.0}, "angular": {"x": 4.0, "y": 5.0, "z": 6.0}},
        {"linear": {"x": 7.0, "y": 8.0, "z": 9.0}, "angular": {"x": 10.0, "y": 11.0, "z": 12.0}},
    ]
    two = pa.array(rows, type=codec.arrow_type)
    want = codec.encode_tree(rows[1])
    assert codec._fixed is not None and codec._fixed.encode(two.slice(1)) is None
    assert codec.encode(two.slice(1)) == want  # an offset at the top
    linear = pa.StructArray.from_arrays(
        [pa.array([0.0, 7.0]).slice(1), pa.array([8.0]), pa.array([9.0])], names=["x", "y", "z"]
    )
    angular = pa.array([rows[1]["angular"]], type=codec.arrow_type.field("angular").type)
    shifted = pa.StructArray.from_arrays([linear, angular], names=["linear", "angular"])
    assert codec._fixed.encode(shifted) is None
    assert codec.encode(shifted) == want  # an offset in a leaf
    with_null = pa.array(
        [{"linear": {"x": None, "y": 8.0, "z": 9.0}, "angular": rows[1]["angular"]}],
        type=codec.arrow_type,
    )
    assert codec._fixed.encode(with_null) is None  # a validity buffer: the general path decides
    assert codec.encode(with_null) == codec.encode_tree(with_null.to_pylist()[0])
    ints = pa.array([{"x": 1, "y": 2, "z": 3}])  # int64 leaves: another type, converted
    twist = pa.StructArray.from_arrays([ints, ints], names=["linear", "angular"])
    assert msgconv.decode("geometry_msgs/msg/Twist", codec.encode(twist)).to_pylist() == [
        {"linear": {"x": 1.0, "y": 2.0, "z": 3.0}, "angular": {"x": 1.0, "y": 2.0, "z": 3.0}}
    ]


def test_fixed_decode_errors_and_inputs_are_those_of_the_general_path() -> None:
    codec = msgconv.default_registry().codec("geometry_msgs/msg/Twist")
    blob = codec.encode_tree({"linear": {"x": 1.5}})
    with pytest.raises(CdrError) as general:
        codec.decode_tree(blob[:-1])
    with pytest.raises(CdrError) as fast:
        codec.decode(blob[:-1])
    assert str(fast.value) == str(general.value)
    with pytest.raises(CdrError, match="encapsulation header"):
        codec.decode(b"\x00\x02" + blob[2:])
    want = codec.decode(blob).to_pylist()
    for data in (bytearray(blob), memoryview(blob), np.frombuffer(blob, np.uint8)):
        assert codec.decode(data).to_pylist() == want
    assert codec.decode(blob + b"\x00" * 4).to_pylist() == want  # trailing bytes ignored
    # any C-contiguous buffer is read as its bytes, both ways; a strided one goes the general way
    assert codec._fixed is not None
    square = np.frombuffer(blob, np.uint8).reshape(4, -1)
    signed = memoryview(blob).cast("b")
    for data in (square, signed, np.frombuffer(blob, np.int32)):
        assert codec._fixed.decode(data) is not None
        assert codec.decode(data).to_pylist() == want
        assert _general(codec, data).to_pylist() == want
    strided = np.frombuffer(blob + blob, np.uint8)[::2]
    assert codec._fixed.decode(strided) is None


def test_copied_and_joined_layouts() -> None:
    """Where CDR and Arrow IPC put every leaf at one offset, decode copies the CDR body as it is
    (padding bytes included, which Arrow never reads); where CDR has no padding, encode joins the
    leaves' buffers. Each path gives the general path's values and canonical bytes."""
    registry = _registry()
    registry.add_definition("fx/msg/Gap", "float32[3] f\nfloat64 g\nuint8 h\n")
    gap = registry.codec("fx/msg/Gap")
    twist = msgconv.default_registry().codec("geometry_msgs/msg/Twist")
    time = msgconv.default_registry().codec("builtin_interfaces/msg/Time")
    numbers = registry.codec("fx/msg/Numbers")
    layouts = {c: c._fixed for c in (gap, twist, time, numbers)}
    assert all(layout is not None for layout in layouts.values())
    # (copied on decode, joined on encode), on this little-endian machine
    assert (layouts[gap].copy_le, layouts[gap].join_le) == (True, False)  # type: ignore[union-attr]
    assert (layouts[twist].copy_le, layouts[twist].join_le) == (True, True)  # type: ignore[union-attr]
    assert (layouts[time].copy_le, layouts[time].join_le) == (False, True)  # type: ignore[union-attr]
    assert (layouts[numbers].copy_le, layouts[numbers].join_le) == (False, False)  # type: ignore[union-attr]
    rng = random.Random(5)
    for codec, layout in layouts.items():
        assert layout is not None
        padding = set(range(layout.cdr_size))
        for offset, size, count in layout.leaves:
            padding -= set(range(offset, offset + size * count))
        for _ in range(50):
            # random values (made canonical by the general path: zero padding, and float32
            # values that survive Python floats), then random padding bytes, as a peer may leave
            raw = b"\x00\x01\x00\x00" + rng.randbytes(layout.cdr_size)
            canonical = codec._encode(_general(codec, raw).to_pylist()[0])
            noisy = bytearray(canonical)
            for i in padding:
                noisy[4 + i] = rng.randrange(256)
            got = codec.decode(bytes(noisy))
            assert repr(got.to_pylist()) == repr(_general(codec, canonical).to_pylist())
            assert layout.encode(got) == canonical  # zero padding, every bit of every value
            assert codec.encode(got) == canonical
        # a zero-row slice of a one-row array still has one row's buffers: never a message
        one = codec.decode(b"\x00\x01\x00\x00" + bytes(layout.cdr_size))
        assert layout.encode(one.slice(0, 0)) is None
        with pytest.raises(msgconv.MsgConvError, match="got 0 rows"):
            codec.encode(one.slice(0, 0))
