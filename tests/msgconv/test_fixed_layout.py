"""Fixed-layout types (numbers only, `fixed_layout.py`) decode and encode in one call, exactly as
the general path does: every bit (NaN payloads, -0.0), both byte orders, padding between sizes,
and every input it cannot prove it reads right (slices, children with offsets, nulls, other leaf
types, truncated data) goes the general way with the same result or error."""

from __future__ import annotations

import pickle
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


def test_fixed_encode_reads_offsets_and_leaves_nulls_and_other_types_to_the_general_path() -> None:
    codec = msgconv.default_registry().codec("geometry_msgs/msg/Twist")
    rows = [
        {"linear": {"x": 1.0, "y": 2.0, "z": 3.0}, "angular": {"x": 4.0, "y": 5.0, "z": 6.0}},
        {"linear": {"x": 7.0, "y": 8.0, "z": 9.0}, "angular": {"x": 10.0, "y": 11.0, "z": 12.0}},
    ]
    two = pa.array(rows, type=codec.arrow_type)
    want = codec.encode_tree(rows[1])
    # an offset at the top: read through it (a decoded message is a slice of its arena)
    assert codec._fixed is not None and codec._fixed.encode(two.slice(1)) == want
    assert codec.encode(two.slice(1)) == want
    linear = pa.StructArray.from_arrays(
        [pa.array([0.0, 7.0]).slice(1), pa.array([8.0]), pa.array([9.0])], names=["x", "y", "z"]
    )
    angular = pa.array([rows[1]["angular"]], type=codec.arrow_type.field("angular").type)
    shifted = pa.StructArray.from_arrays([linear, angular], names=["linear", "angular"])
    assert codec._fixed.encode(shifted) == want  # an offset in a leaf
    assert codec.encode(shifted) == want
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
    """Padding bytes of any value are skipped by decode; where CDR has no padding, encode joins the
    leaves' buffers, else repacks them. Each path gives the general path's values and canonical
    bytes, from a fresh array and from a decoded one (a slice of its arena)."""
    registry = _registry()
    registry.add_definition("fx/msg/Gap", "float32[3] f\nfloat64 g\nuint8 h\n")
    gap = registry.codec("fx/msg/Gap")
    twist = msgconv.default_registry().codec("geometry_msgs/msg/Twist")
    time = msgconv.default_registry().codec("builtin_interfaces/msg/Time")
    numbers = registry.codec("fx/msg/Numbers")
    layouts = {c: c._fixed for c in (gap, twist, time, numbers)}
    assert all(layout is not None for layout in layouts.values())
    # joined on encode, on this little-endian machine
    assert [layout.join_le for layout in layouts.values()] == [False, True, True, False]  # type: ignore[union-attr]
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
            fresh = pa.array(got.to_pylist(), type=codec.arrow_type)
            assert layout.encode(fresh) == canonical
        # a zero-row slice of a one-row array still has one row's buffers: never a message
        one = codec.decode(b"\x00\x01\x00\x00" + bytes(layout.cdr_size))
        assert layout.encode(one.slice(0, 0)) is None
        with pytest.raises(msgconv.MsgConvError, match="got 0 rows"):
            codec.encode(one.slice(0, 0))


# --- the arena (decode writes each message into a slot of a shared N-row array) -----------------

ARENA_TYPES = (
    "geometry_msgs/msg/Twist",  # doubles only
    "geometry_msgs/msg/PoseWithCovariance",  # a fixed array (float64[36])
    "builtin_interfaces/msg/Time",  # int32 and uint32
)


def _distinct_blobs(codec: msgconv.Codec, count: int, order: str) -> list[bytes]:
    """`count` messages whose every element differs from every other message's."""
    fixed = codec._fixed
    assert fixed is not None
    cdr = fixed.cdr_le if order == "<" else fixed.cdr_be
    header = b"\x00\x01\x00\x00" if order == "<" else b"\x00\x00\x00\x00"
    width = len(fixed.cdr_le.unpack(bytes(fixed.cdr_size)))
    return [header + cdr.pack(*range(i * width + 1, (i + 1) * width + 1)) for i in range(count)]


@pytest.mark.parametrize("name", ARENA_TYPES)
@pytest.mark.parametrize("order", ["<", ">"])
def test_kept_decodes_keep_their_values_past_three_arenas(name: str, order: str) -> None:
    # A slot written twice (a ring that wraps around, a slot reused) would change the messages
    # kept from the first arenas; each message here differs from all others in every element.
    codec = msgconv.default_registry().codec(name)
    fixed = codec._fixed
    assert fixed is not None
    count = fixed.slots * 3 + 7
    blobs = _distinct_blobs(codec, count, order)
    want = [_general(codec, blob).to_pylist() for blob in blobs]
    kept = [codec.decode(blob) for blob in blobs]
    assert [k.to_pylist() for k in kept] == want
    more = [codec.decode(blob) for blob in reversed(blobs)]  # three more arenas' worth
    assert [k.to_pylist() for k in kept] == want
    assert [k.to_pylist() for k in reversed(more)] == want
    for k in kept[:: max(1, count // 20)]:
        assert k.type == codec.arrow_type and len(k) == 1 and k.null_count == 0
        assert codec.encode(k) == codec.encode_tree(k.to_pylist()[0])
    # at most 4 KiB pinned by a kept message (one row's bytes if a row is larger)
    assert fixed.arena_bytes <= max(4 * 1024, fixed.leaf_bytes) + 8 * len(fixed.leaves)
    assert fixed.slots == min(256, max(1, 4 * 1024 // fixed.leaf_bytes))


@pytest.mark.parametrize("name", ARENA_TYPES)
def test_a_kept_decode_pins_at_most_4_kib_and_concat_arrays_copies_it_alone(name: str) -> None:
    # issue 11's review: a kept Twist pinned its whole 16 KiB arena (17 KB pickled)
    codec = msgconv.default_registry().codec(name)
    assert codec._fixed is not None
    blob = _distinct_blobs(codec, 1, "<")[0]
    kept = codec.decode(blob)
    assert kept.get_total_buffer_size() <= 4 * 1024 + 8 * len(codec._fixed.leaves)
    assert len(pickle.dumps(kept)) <= 6 * 1024  # the pinned bytes and each node's framing
    # the compact copy docs/msgconv.md tells users to keep (long-lived histories, pickling)
    compact = pa.concat_arrays([kept])
    assert compact.get_total_buffer_size() == codec._fixed.leaf_bytes
    assert compact.equals(kept) and compact.type == codec.arrow_type
    assert codec.encode(compact) == blob
    assert not any(
        a is not None and b is not None and a.address == b.address
        for a, b in zip(compact.buffers(), kept.buffers(), strict=True)
    )


def test_arena_slots_are_distinct_and_never_shared_with_a_later_arena() -> None:
    codec = msgconv.default_registry().codec("geometry_msgs/msg/Twist")
    fixed = codec._fixed
    assert fixed is not None
    blobs = _distinct_blobs(codec, fixed.slots * 2 + 1, "<")
    got = [codec.decode(blob) for blob in blobs]
    # where each message's linear.x lives: (the leaf's buffer address, the row's offset)
    where = {(g.buffers()[3].address, g.offset) for g in got}
    assert len(where) == len(got)
    assert len({g.buffers()[3].address for g in got}) == 3  # a new arena when one is full


def test_nan_payloads_and_every_bit_survive_both_byte_orders() -> None:
    # float32 signalling NaNs lose their quiet bit when passed through a C double (struct's 'f'
    # code, a float memoryview): decode must move bits, never floats
    codec = _registry().codec("fx/msg/Outer")
    fixed = codec._fixed
    assert fixed is not None
    snan32, qnan32_payload, neg_zero32 = 0x7F800001, 0xFFC0BEEF, 0x80000000
    snan64 = 0x7FF0000000000001
    # fields: head int8, inner (a uint8, b float64, c int16, d int32, e int8, f float32[3],
    # g uint64, h char, i byte), tail float32
    values = (0x81, 0xAB, snan64, 0x8001, 0x80000001, 0x7F, snan32, qnan32_payload, neg_zero32)
    values += (2**64 - 1, 0xFF, 0x01, snan32)
    for order, header in (("<", b"\x00\x01\x00\x00"), (">", b"\x00\x00\x00\x00")):
        cdr = fixed.cdr_le if order == "<" else fixed.cdr_be
        got = codec.decode(header + cdr.pack(*values))
        inner = got.field("inner")
        assert np.asarray(inner.field("b")).view(np.uint64)[0] == snan64
        f = inner.field("f").flatten()
        assert list(np.asarray(f).view(np.uint32)) == [snan32, qnan32_payload, neg_zero32]
        assert np.asarray(got.field("tail")).view(np.uint32)[0] == snan32
        assert np.asarray(got.field("head")).view(np.uint8)[0] == 0x81
        assert np.asarray(inner.field("g"))[0] == 2**64 - 1
        # and back to the same bits (little-endian CDR)
        assert codec.encode(got) == b"\x00\x01\x00\x00" + fixed.cdr_le.pack(*values)


def test_big_endian_decode_of_a_fixed_array_and_mixed_sizes() -> None:
    registry = msgconv.default_registry()
    pose = registry.codec("geometry_msgs/msg/PoseWithCovariance")
    value = {
        "pose": {
            "position": {"x": 1.5, "y": -2.0, "z": 3.25},
            "orientation": {"x": 0.0, "y": 0.5, "z": -0.5, "w": 1.0},
        },
        "covariance": [float(i) - 17.5 for i in range(36)],
    }
    le = pose.encode_tree(value)
    values = struct.unpack_from("<43d", le, 4)
    be = b"\x00\x00\x00\x00" + struct.pack(">43d", *values)
    assert pose.decode(be).to_pylist() == [value] == pose.decode(le).to_pylist()
    time = registry.codec("builtin_interfaces/msg/Time")
    be_time = b"\x00\x00\x00\x00" + struct.pack(">iI", -(2**31), 2**32 - 1)
    assert time.decode(be_time).to_pylist() == [{"sec": -(2**31), "nanosec": 2**32 - 1}]
    assert time.encode(time.decode(be_time)) == b"\x00\x01\x00\x00" + struct.pack(
        "<iI", -(2**31), 2**32 - 1
    )


def test_encode_of_rows_rebuilt_from_decoded_messages_reads_every_offset() -> None:
    # Children taken from different decoded messages (slices of one arena) carry their own
    # offsets under a parent whose offset is 0: each leaf must be read at its own offset.
    registry = msgconv.default_registry()
    twist = registry.codec("geometry_msgs/msg/Twist")
    first, second = (twist.decode(b) for b in _distinct_blobs(twist, 2, "<"))
    mixed = pa.StructArray.from_arrays(
        [second.field("linear"), first.field("angular")], fields=list(twist.arrow_type)
    )
    want = {"linear": second.to_pylist()[0]["linear"], "angular": first.to_pylist()[0]["angular"]}
    assert mixed.offset == 0 and mixed.field(0).offset != mixed.field(1).offset
    assert twist.encode(mixed) == twist.encode_tree(want)
    pose = registry.codec("geometry_msgs/msg/PoseWithCovariance")
    kept = [pose.decode(b) for b in _distinct_blobs(pose, 3, ">")]
    # a fixed-size list over the arena's whole covariance column, sliced to message 2's row
    # (message 2's own arena: with 11 slots an arena may fill between two of these decodes)
    column = kept[2].field("covariance").values
    covariance = pa.FixedSizeListArray.from_arrays(column, 36).slice(kept[2].offset, 1)
    rebuilt = pa.StructArray.from_arrays(
        [kept[1].field("pose"), covariance], fields=list(pose.arrow_type)
    )
    want_pose = {
        "pose": kept[1].to_pylist()[0]["pose"],
        "covariance": kept[2].to_pylist()[0]["covariance"],
    }
    assert pose.encode(rebuilt) == pose.encode_tree(want_pose)


@pytest.mark.parametrize(
    "text",
    [
        "float64[600] v\nuint8 k\n",  # > 255 elements before a uint8
        "int16[200] a\nint8 b\nuint8[300] c\nbyte d\nchar e\n",  # > 127 before an int8
        "fx/Numbers[1] no_array_of_messages\n",  # (not fixed: an array of messages)
    ],
)
def test_long_arrays_before_a_narrow_field_keep_the_fast_path(text: str) -> None:
    # the self-check's sentinel values once ran 1..N over every element and overflowed an 8-bit
    # field after 255 (127) elements: the type silently lost its fixed layout
    registry = _registry()
    registry.add_definition("fx/msg/Long", text)
    codec = registry.codec("fx/msg/Long")
    if "[1]" in text:
        assert codec._fixed is None
        return
    fixed = codec._fixed
    assert fixed is not None
    rng = random.Random(3)
    for order, header in (("<", b"\x00\x01\x00\x00"), (">", b"\x00\x00\x00\x00")):
        cdr = fixed.cdr_le if order == "<" else fixed.cdr_be
        for _ in range(5):
            # random bits, but the second-highest clear: no NaN (never equal to itself) in a float
            values = [
                rng.getrandbits(8 * size) & ~(1 << (8 * size - 2))
                for _, size, count in fixed.leaves
                for _ in range(count)
            ]
            blob = header + cdr.pack(*values)
            got = fixed.decode(memoryview(blob))
            assert got is not None
            assert got.equals(_general(codec, blob))
            assert codec.decode(blob).to_pylist() == _general(codec, blob).to_pylist()
            assert codec.encode(got) == codec._encode(_general(codec, blob).to_pylist()[0])
