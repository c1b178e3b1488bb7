"""msgconv against the real rclpy serializer, for every installed msg, srv and action type
(the `test` extra installs every ROS 2 interface package with a Kilted pip wheel).

For each type (its own test id), seeded random values within the type's bounds, described by
rclpy's generated classes (never by msgconv's own parser):
- rclpy serializes them and `decode` / `decode_many` give the same values;
- `encode` / `encode_many` give exactly the bytes of the plain reference serializer
  (`cdr_reference`, itself checked against rclpy's bytes outside padding, which rclpy leaves
  uninitialised) and rclpy deserializes them to the same values;
- big-endian streams, garbage padding and trailing bytes decode to the same values;
- `arrow_type` follows issue 4's mapping and `default_value` equals a default-constructed rclpy
  message.
rclpy runs in one child process per pytest worker (`rclpy_reference`); values travel in batches.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from dora_ros import msgconv
from dora_ros.errors import MsgConvError

try:
    from . import cdr_reference as ref_cdr
    from .paths import decode_every_way, encode_every_way
    from .rclpy_reference import RclpyReference, ReferenceError, installed_type_names
except ImportError:  # tests/msgconv is not a package: pytest put this folder on sys.path
    import cdr_reference as ref_cdr  # type: ignore[no-redef]
    from paths import decode_every_way, encode_every_way  # type: ignore[no-redef]
    from rclpy_reference import (  # type: ignore[no-redef]
        RclpyReference,
        ReferenceError,
        installed_type_names,
    )

TYPES = installed_type_names()
VALUES_PER_TYPE = 8


# Every ROS 2 interface package with a Kilted pip wheel (the `test` extra installs them all), so
# a missing one fails here instead of shrinking the parametrized tests below without a word.
PIP_INTERFACE_PACKAGES = {
    "action_msgs",
    "actionlib_msgs",
    "builtin_interfaces",
    "diagnostic_msgs",
    "geometry_msgs",
    "lifecycle_msgs",
    "nav_msgs",
    "rcl_interfaces",
    "rosgraph_msgs",
    "sensor_msgs",
    "service_msgs",
    "shape_msgs",
    "std_msgs",
    "std_srvs",
    "stereo_msgs",
    "test_msgs",
    "trajectory_msgs",
    "type_description_interfaces",
    "unique_identifier_msgs",
    "visualization_msgs",
}


def test_the_index_lists_the_required_packages() -> None:
    packages = {name.split("/")[0] for name in TYPES}
    missing = PIP_INTERFACE_PACKAGES - packages
    assert not missing, f"not installed (pip install -e '.[test]'): {sorted(missing)}"
    for name in (
        "test_msgs/msg/KeyedLong",  # IDL only
        "test_msgs/srv/Arrays_Request",
        "test_msgs/action/Fibonacci_SendGoal_Request",
        "test_msgs/action/Fibonacci_FeedbackMessage",
        "test_msgs/action/Fibonacci_SendGoal_Event",  # introspection of an action's services
        "test_msgs/action/Fibonacci_GetResult_Event",
    ):
        assert name in TYPES


@pytest.fixture(scope="module")
def reference() -> Iterator[RclpyReference]:
    with RclpyReference() as ref:
        yield ref


@pytest.fixture(scope="module")
def schema(reference: RclpyReference) -> dict[str, Any]:
    return reference.describe(TYPES)


@pytest.fixture(scope="module")
def samples(reference: RclpyReference, schema: dict[str, Any]) -> Any:
    """type name -> (values, rclpy's bytes of them), made on first use."""
    cache: dict[str, tuple[list[Any], list[bytes]]] = {}

    def get(type_name: str) -> tuple[list[Any], list[bytes]]:
        if type_name not in cache:
            seed = zlib.crc32(type_name.encode())
            values = ref_cdr.random_values(schema, type_name, seed, VALUES_PER_TYPE)
            cache[type_name] = (values, reference.serialize(type_name, values))
        return cache[type_name]

    return get


# ---------------------------------------------------------------------------------------------
# Schema


_PRIMITIVE_ARROW = {
    "bool": pa.bool_(),
    "byte": pa.uint8(),
    "char": pa.uint8(),
    "int8": pa.int8(),
    "uint8": pa.uint8(),
    "int16": pa.int16(),
    "uint16": pa.uint16(),
    "int32": pa.int32(),
    "uint32": pa.uint32(),
    "int64": pa.int64(),
    "uint64": pa.uint64(),
    "float32": pa.float32(),
    "float64": pa.float64(),
}


def expected_arrow(schema: dict[str, Any], desc: tuple[Any, ...]) -> pa.DataType:
    """Issue 4's mapping, from rclpy's description of the type."""
    kind = desc[0]
    if kind == "prim":
        return _PRIMITIVE_ARROW[desc[1]]
    if kind in ("string", "wstring"):
        return pa.utf8()
    if kind == "struct":
        return pa.struct([pa.field(n, expected_arrow(schema, d)) for n, d in schema[desc[1]]])
    if kind == "array":
        return pa.list_(expected_arrow(schema, desc[1]), desc[2])
    return pa.list_(expected_arrow(schema, desc[1]))


def arrow_difference(got: pa.DataType, want: pa.DataType, path: str = "") -> str | None:
    """First difference between two Arrow types, ignoring list item names and nullability."""
    where = path or "<message>"
    if pa.types.is_struct(want):
        if not pa.types.is_struct(got):
            return f"{where}: {got} is not a struct"
        got_names = [got.field(i).name for i in range(got.num_fields)]
        want_names = [want.field(i).name for i in range(want.num_fields)]
        if got_names != want_names:
            return f"{where}: fields {got_names} != expected (ROS order) {want_names}"
        for i, name in enumerate(want_names):
            sub = f"{path}.{name}" if path else name
            diff = arrow_difference(got.field(i).type, want.field(i).type, sub)
            if diff:
                return diff
        return None
    if pa.types.is_fixed_size_list(want):
        if not pa.types.is_fixed_size_list(got) or got.list_size != want.list_size:
            return f"{where}: {got} is not {want}"
        return arrow_difference(got.value_type, want.value_type, f"{path}[]")
    if pa.types.is_list(want):
        if not pa.types.is_list(got):
            return f"{where}: {got} is not {want}"
        return arrow_difference(got.value_type, want.value_type, f"{path}[]")
    return None if got == want else f"{where}: {got} is not {want}"


@pytest.mark.parametrize("type_name", TYPES)
def test_arrow_type_follows_the_mapping(schema: dict[str, Any], type_name: str) -> None:
    got = msgconv.arrow_type(type_name)
    assert isinstance(got, pa.StructType)
    diff = arrow_difference(got, expected_arrow(schema, ("struct", type_name)))
    assert diff is None, f"{type_name}: {diff}"


@pytest.mark.parametrize("type_name", TYPES)
def test_default_value_is_rclpys_default(reference: RclpyReference, type_name: str) -> None:
    got = msgconv.default_value(type_name)
    assert isinstance(got, pa.StructArray) and len(got) == 1
    assert got.type == msgconv.arrow_type(type_name)
    default = reference.default(type_name)
    ref_cdr.assert_same(got.to_pylist()[0], default, type_name)
    # missing fields get their defaults
    (back,) = reference.deserialize(type_name, [msgconv.encode(type_name, {})])
    ref_cdr.assert_same(back, default, f"{type_name}: encode({{}}) read by rclpy")


# ---------------------------------------------------------------------------------------------
# Decoding rclpy's bytes


def placed(blob: bytes, shift: int) -> memoryview:
    """A copy of `blob` in memory whose CDR body (after the 4-byte header) is at 8k + shift."""
    raw = bytearray(len(blob) + 16)
    base = memoryview(raw)
    address = np.frombuffer(raw, dtype=np.uint8).ctypes.data
    start = (shift - (address + 4)) % 8
    base[start : start + len(blob)] = blob
    return base[start : start + len(blob)]


@pytest.mark.parametrize("type_name", TYPES)
def test_decode_reads_rclpy_bytes(samples: Any, type_name: str) -> None:
    values, blobs = samples(type_name)
    arrow_type = msgconv.arrow_type(type_name)
    for i, (value, blob) in enumerate(zip(values, blobs, strict=True)):
        got = msgconv.decode(type_name, blob)
        assert isinstance(got, pa.StructArray) and len(got) == 1, f"{type_name} sample {i}"
        assert got.type == arrow_type
        got.validate(full=True)
        ref_cdr.assert_same(got.to_pylist()[0], value, f"{type_name} sample {i} ({blob.hex()})")
        # the row, column and reference decoders read it alike
        codec = msgconv.default_registry().codec(type_name)
        ref_cdr.assert_same(decode_every_way(codec, blob), value, f"{type_name} sample {i}")
    # memoryviews whose CDR body starts 8-aligned (zero-copy path), 4-aligned and at an odd address
    for shift in (0, 4, 1):
        for i, (value, blob) in enumerate(zip(values, blobs, strict=True)):
            view = placed(blob, shift)
            got = msgconv.decode(type_name, view)
            context = f"{type_name} sample {i} from a memoryview, body at 8k+{shift}"
            ref_cdr.assert_same(got.to_pylist()[0], value, context)
    many = msgconv.decode_many(type_name, blobs)
    assert isinstance(many, pa.StructArray) and len(many) == len(values)
    assert many.type == arrow_type
    many.validate(full=True)
    ref_cdr.assert_same(many.to_pylist(), values, f"{type_name} decode_many")
    # a binary column of messages (as the runtime receives them), sliced
    column = pa.array([b"", *blobs], type=pa.binary()).slice(1)
    many = msgconv.decode_many(type_name, column)
    ref_cdr.assert_same(many.to_pylist(), values, f"{type_name} decode_many of a pa.BinaryArray")


@pytest.mark.parametrize("type_name", TYPES)
def test_decode_big_endian_garbage_padding_and_trailing_bytes(
    schema: dict[str, Any], samples: Any, type_name: str
) -> None:
    values, _ = samples(type_name)
    bigs = [ref_cdr.serialize(schema, type_name, v, big_endian=True)[0] for v in values]
    got_many = msgconv.decode_many(type_name, bigs)
    ref_cdr.assert_same(got_many.to_pylist(), values, f"{type_name} decode_many big-endian")
    mixed = [
        b if i % 2 else ref_cdr.serialize(schema, type_name, v)[0]
        for i, (v, b) in enumerate(zip(values, bigs, strict=True))
    ]
    got_many = msgconv.decode_many(type_name, mixed)
    ref_cdr.assert_same(got_many.to_pylist(), values, f"{type_name} decode_many, endianness mixed")
    for i, value in enumerate(values):
        big = bigs[i]
        got = msgconv.decode(type_name, big)
        ref_cdr.assert_same(got.to_pylist()[0], value, f"{type_name} sample {i} big-endian")

        little, padding = ref_cdr.serialize(schema, type_name, value)
        dirty = bytearray(little)
        for offset in padding:
            dirty[offset] = 0xA5
        dirty += b"\xde\xad\xbe\xef\x00\x11\x22"
        got = msgconv.decode(type_name, bytes(dirty))
        ref_cdr.assert_same(
            got.to_pylist()[0],
            value,
            f"{type_name} sample {i} with padding 0xA5 and 7 trailing bytes",
        )


# ---------------------------------------------------------------------------------------------
# Encoding for rclpy


def assert_canonical(ours: bytes, want: bytes, context: str) -> None:
    """`want` from the reference serializer; ours may add zero padding up to a multiple of 4."""
    if ours == want:
        return
    extra = ours[len(want) :]
    assert (
        ours[: len(want)] == want
        and extra == bytes(len(extra))
        and len(ours) % 4 == 0
        and len(extra) < 4
    ), (
        f"{context}: encode gave\n  {ours.hex()}\nexpected (zero padding, little-endian)\n  {want.hex()}"
        f"\nfirst difference at offset {next((i for i in range(min(len(ours), len(want))) if ours[i] != want[i]), min(len(ours), len(want)))}"
    )


@pytest.mark.parametrize("type_name", TYPES)
def test_encode_is_canonical_and_read_by_rclpy(
    reference: RclpyReference, schema: dict[str, Any], samples: Any, type_name: str
) -> None:
    values, rclpy_blobs = samples(type_name)
    array = pa.array(values, type=msgconv.arrow_type(type_name))
    ours = msgconv.encode_many(type_name, array)
    assert isinstance(ours, list) and len(ours) == len(values)
    for i, (value, blob, rclpy_blob) in enumerate(zip(values, ours, rclpy_blobs, strict=True)):
        assert isinstance(blob, bytes)
        want, padding = ref_cdr.serialize(schema, type_name, value)
        # the reference agrees with rclpy except where rclpy left padding uninitialised
        assert len(rclpy_blob) >= len(want)
        assert ref_cdr.differing_offsets(rclpy_blob, want, padding) == []
        assert_canonical(blob, want, f"{type_name} sample {i}")
        # the generated encoder writes the reference encoder's bytes
        assert encode_every_way(msgconv.default_registry().codec(type_name), value) == blob
    back = reference.deserialize(type_name, ours)
    for i, (got, value) in enumerate(zip(back, values, strict=True)):
        assert not (isinstance(got, tuple) and got[0] == "error"), (
            f"rclpy rejects sample {i}: {got[1]}"
        )
        ref_cdr.assert_same(got, value, f"{type_name} sample {i} read back by rclpy")
    # slices (offsets into every child), chunked arrays and decoded arrays give the same bytes
    assert msgconv.encode_many(type_name, array.slice(2)) == ours[2:], "sliced StructArray"
    chunked = pa.chunked_array([array.slice(0, 3), array.slice(3)])
    assert msgconv.encode_many(type_name, chunked) == ours, "ChunkedArray"
    decoded = msgconv.decode_many(type_name, rclpy_blobs)
    assert msgconv.encode_many(type_name, decoded.slice(1)) == ours[1:], "decode_many output"
    # the other accepted forms of a value give the same bytes
    assert msgconv.encode(type_name, array.slice(1, 1)) == ours[1], "one-row StructArray"
    assert msgconv.encode(type_name, array[2]) == ours[2], "StructScalar"
    assert msgconv.encode(type_name, values[3]) == ours[3], "dict"
    try:
        inferred = pa.array([values[4]])
    except (pa.ArrowException, OverflowError):  # pyarrow cannot infer e.g. [-1, 2**64 - 1]
        return
    assert msgconv.encode(type_name, inferred) == ours[4], "pa.array([{...}]) (inferred types)"


def _with_lengths(schema: dict[str, Any], desc: tuple[Any, ...], n: int, rng: random.Random) -> Any:
    """A random value whose every sequence has n elements (its bound, if smaller), at any depth."""
    kind = desc[0]
    if kind == "struct":
        return {name: _with_lengths(schema, d, n, rng) for name, d in schema[desc[1]]}
    if kind == "array":
        return [_with_lengths(schema, desc[1], n, rng) for _ in range(desc[2])]
    if kind == "sequence":
        count = n if desc[2] is None else min(n, desc[2])
        return [_with_lengths(schema, desc[1], n, rng) for _ in range(count)]
    return ref_cdr.random_value(schema, desc, rng)


@pytest.mark.parametrize("type_name", TYPES)
def test_every_sequence_length_0_to_3_both_ways(
    reference: RclpyReference, schema: dict[str, Any], type_name: str
) -> None:
    """Every sequence (nested ones too) empty, then with 1, 2 and 3 elements: each length moves
    what follows to another offset mod 8, where an alignment mistake shows."""
    rng = random.Random(type_name)
    values = [_with_lengths(schema, ("struct", type_name), n, rng) for n in range(4)]
    rclpy_blobs = reference.serialize(type_name, values)
    codec = msgconv.default_registry().codec(type_name)
    ours = []
    for n, (value, rclpy_blob) in enumerate(zip(values, rclpy_blobs, strict=True)):
        context = f"{type_name}, sequences of {n}"
        want, padding = ref_cdr.serialize(schema, type_name, value)
        assert len(rclpy_blob) >= len(want)
        assert ref_cdr.differing_offsets(rclpy_blob, want, padding) == [], context
        ref_cdr.assert_same(decode_every_way(codec, rclpy_blob), value, f"{context}: rclpy's")
        blob = encode_every_way(codec, value, context)
        assert blob == want, context
        ours.append(blob)
    ref_cdr.assert_same(reference.deserialize(type_name, ours), values, f"{type_name} by rclpy")
    ref_cdr.assert_same(msgconv.decode_many(type_name, rclpy_blobs).to_pylist(), values, type_name)


# ---------------------------------------------------------------------------------------------
# Targeted cases


def test_invalid_utf8_reads_as_rclpy_reads_it(reference: RclpyReference) -> None:
    # A C++ peer can send any bytes; rclpy substitutes U+FFFD, so do we (never an error)
    text = b"a\xffb\xc3"
    blob = b"\x00\x01\x00\x00" + (len(text) + 1).to_bytes(4, "little") + text + b"\x00"
    (rclpy_value,) = reference.deserialize("std_msgs/msg/String", [blob])
    assert rclpy_value == {"data": "a\ufffdb\ufffd"}
    assert msgconv.decode("std_msgs/msg/String", blob).to_pylist() == [rclpy_value]
    assert msgconv.decode_many("std_msgs/msg/String", [blob]).to_pylist() == [rclpy_value]


def test_wstrings_non_ascii_as_rclpy_writes_them(
    reference: RclpyReference, schema: dict[str, Any]
) -> None:
    name = "test_msgs/msg/WStrings"
    value = reference.default(name)
    value["wstring_value"] = "Hellö 😀ハ"  # 9 UTF-16 units: the emoji is a surrogate pair
    value["unbounded_sequence_of_wstrings"] = ["", "wörld", "🚀"]
    (rclpy_blob,) = reference.serialize(name, [value])
    # uint32 count of UTF-16 units, then each unit in 4 bytes, no terminator
    units = [0x48, 0x65, 0x6C, 0x6C, 0xF6, 0x20, 0xD83D, 0xDE00, 0x30CF]
    layout = (9).to_bytes(4, "little") + b"".join(u.to_bytes(4, "little") for u in units)
    assert rclpy_blob[4 : 4 + len(layout)] == layout
    got = msgconv.decode(name, rclpy_blob).to_pylist()[0]
    ref_cdr.assert_same(got, value, name)
    ours = msgconv.encode(name, value)
    assert ours[4 : 4 + len(layout)] == layout
    assert_canonical(ours, ref_cdr.serialize(schema, name, value)[0], name)
    assert reference.deserialize(name, [ours]) == [value]


def test_empty_message(reference: RclpyReference) -> None:
    (rclpy_blob,) = reference.serialize("std_msgs/msg/Empty", [{}])
    # rclpy: header, the C struct's one uint8 member (0), then padding to 4 bytes
    assert rclpy_blob[:5] == b"\x00\x01\x00\x00\x00" and len(rclpy_blob) == 8
    assert msgconv.arrow_type("std_msgs/msg/Empty").num_fields == 0
    got = msgconv.decode("std_msgs/msg/Empty", rclpy_blob)
    assert len(got) == 1 and got.to_pylist() == [{}]
    ours = msgconv.encode("std_msgs/msg/Empty", {})
    assert ours in (b"\x00\x01\x00\x00\x00", b"\x00\x01\x00\x00\x00\x00\x00\x00")
    assert reference.deserialize("std_msgs/msg/Empty", [ours]) == [{}]
    assert msgconv.decode_many("std_msgs/msg/Empty", [rclpy_blob] * 3).to_pylist() == [{}] * 3


def _at_bounds(schema: dict[str, Any], type_name: str) -> dict[str, Any]:
    """A value with every bounded sequence and string at exactly its bound."""

    def fill(desc: tuple[Any, ...]) -> Any:
        kind = desc[0]
        if kind == "prim":
            return {"bool": True, "float32": 1.5, "float64": -2.25}.get(desc[1], 7)
        if kind in ("string", "wstring"):
            return "é" * (desc[1] // 2) + "x" * (desc[1] % 2) if desc[1] else "ハロー"
        if kind == "struct":
            return {n: fill(d) for n, d in schema[desc[1]]}
        if kind == "array":
            return [fill(desc[1]) for _ in range(desc[2])]
        return [fill(desc[1]) for _ in range(desc[2] if desc[2] is not None else 2)]

    return fill(("struct", type_name))  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "type_name",
    [
        "test_msgs/msg/BoundedSequences",
        "test_msgs/msg/BoundedPlainSequences",
        "test_msgs/msg/Strings",
        "test_msgs/msg/WStrings",
        "test_msgs/msg/Arrays",
        "test_msgs/msg/MultiNested",
    ],
)
def test_values_exactly_at_their_bounds(
    reference: RclpyReference, schema: dict[str, Any], type_name: str
) -> None:
    value = _at_bounds(schema, type_name)
    (rclpy_blob,) = reference.serialize(type_name, [value])
    ref_cdr.assert_same(msgconv.decode(type_name, rclpy_blob).to_pylist()[0], value, type_name)
    ours = msgconv.encode(type_name, value)
    assert_canonical(ours, ref_cdr.serialize(schema, type_name, value)[0], type_name)
    ref_cdr.assert_same(reference.deserialize(type_name, [ours])[0], value, type_name)


@pytest.mark.parametrize(
    ("type_name", "field", "bad", "words"),
    [
        ("test_msgs/msg/BoundedSequences", "int32_values", [1, 2, 3, 4], ("int32_values", "3")),
        (
            "test_msgs/msg/BoundedSequences",
            "string_values",
            ["a", "b", "c", "d"],
            ("string_values",),
        ),
        ("test_msgs/msg/Strings", "bounded_string_value", "y" * 23, ("bounded_string_value", "22")),
        (
            "test_msgs/msg/WStrings",
            "bounded_sequence_of_wstrings",
            ["a"] * 4,
            ("bounded_sequence_of_wstrings",),
        ),
        ("test_msgs/msg/Arrays", "int32_values", [1, 2], ("int32_values", "3")),
        ("test_msgs/msg/Arrays", "string_values", ["a", "b", "c", "d"], ("string_values", "3")),
    ],
)
def test_encode_rejects_values_outside_bounds(
    reference: RclpyReference, type_name: str, field: str, bad: Any, words: tuple[str, ...]
) -> None:
    value = reference.default(type_name)
    value[field] = bad
    with pytest.raises(MsgConvError) as info:
        msgconv.encode(type_name, value)
    for word in (type_name.split("/")[-1], *words):
        assert word in str(info.value), f"{word!r} not in {str(info.value)!r}"


@pytest.mark.parametrize(
    "type_name",
    [
        "geometry_msgs/msg/Twist",
        "std_msgs/msg/String",
        "sensor_msgs/msg/Imu",
        "test_msgs/msg/Strings",
        "test_msgs/msg/WStrings",
        "test_msgs/msg/UnboundedSequences",
        "test_msgs/msg/Nested",
        "test_msgs/msg/KeyedString",
    ],
)
def test_decode_of_every_truncation_raises(
    schema: dict[str, Any], samples: Any, type_name: str
) -> None:
    values, _ = samples(type_name)
    for value in values[:2]:
        blob, _ = ref_cdr.serialize(schema, type_name, value)
        for cut in range(len(blob)):
            with pytest.raises(MsgConvError) as info:
                msgconv.decode(type_name, blob[:cut])
            assert type_name.split("/")[-1] in str(info.value)


@pytest.mark.parametrize("type_name", TYPES)
def test_constants_match_rclpy(reference: RclpyReference, type_name: str) -> None:
    """Constants are visible from Python with the values rclpy's classes carry."""
    want = reference.constants(type_name)
    got = msgconv.constants(type_name)
    ref_cdr.assert_same(dict(got), want, f"{type_name} constants")


def test_constants_of_every_primitive_type(reference: RclpyReference) -> None:
    want = reference.constants("test_msgs/msg/Constants")
    assert len(want) == 13  # one per primitive type: the comparison above cannot pass vacuously
    assert msgconv.constants("test_msgs/msg/Constants") == want


@pytest.mark.parametrize(
    ("type_name", "keys"),
    [
        ("test_msgs/msg/KeyedLong", ("key",)),
        ("test_msgs/msg/KeyedString", ("key",)),
        ("test_msgs/msg/ComplexNestedKey", ("uint32_key", "nested_keys")),
        ("test_msgs/msg/NonKeyedWithNestedKey", ()),
        ("std_msgs/msg/String", ()),
    ],
)
def test_idl_keys(type_name: str, keys: tuple[str, ...]) -> None:
    assert msgconv.message_definition(type_name).keys == keys


_LIMITS = {
    "int8_value": (-(2**7), 2**7 - 1),
    "uint8_value": (0, 2**8 - 1),
    "byte_value": (0, 255),
    "char_value": (0, 255),
    "int16_value": (-(2**15), 2**15 - 1),
    "uint16_value": (0, 2**16 - 1),
    "int32_value": (-(2**31), 2**31 - 1),
    "uint32_value": (0, 2**32 - 1),
    "int64_value": (-(2**63), 2**63 - 1),
    "uint64_value": (0, 2**64 - 1),
}
_EDGES = [
    *((f, v, True) for f, (lo, hi) in _LIMITS.items() for v in (lo, hi)),
    *((f, v, False) for f, (lo, hi) in _LIMITS.items() for v in (lo - 1, hi + 1)),
    # FLT_MAX itself (3.4028234663852886e38) is above rclpy's check (3.402823466e38): one below
    ("float32_value", 3.4028232635611926e38, True),
    ("float32_value", -math.inf, True),
    ("float32_value", math.nan, True),
    ("float32_value", 0.1, True),  # rounds to the nearest float32, as rclpy does
    ("float32_value", 1e40, False),
    ("float64_value", 1.7976931348623157e308, True),
    ("int32_value", "1", False),
    ("int32_value", 1.5, False),
    ("float64_value", "1.0", False),
    ("uint8_value", [1], False),
]


@pytest.mark.parametrize(
    ("field", "value", "accepted"), _EDGES, ids=[f"{f}={v!r}" for f, v, _ in _EDGES]
)
def test_encode_accepts_and_rejects_as_rclpy_does(
    reference: RclpyReference, field: str, value: Any, accepted: bool
) -> None:
    """At and just past each primitive's limits (inside a nested field, to check the path)."""
    name = "test_msgs/msg/Nested"
    message = reference.default(name)
    message["basic_types_value"][field] = value
    try:
        (rclpy_blob,) = reference.serialize(name, [message])
    except ReferenceError:
        rclpy_blob = None
    assert (rclpy_blob is not None) == accepted, "the expectation disagrees with rclpy itself"
    if not accepted:
        with pytest.raises(MsgConvError) as info:
            msgconv.encode(name, message)
        assert f"basic_types_value.{field}" in str(info.value)
        assert "Nested" in str(info.value)
        return
    ours = msgconv.encode(name, message)
    assert reference.deserialize(name, [ours]) == reference.deserialize(name, [rclpy_blob]) or (
        math.isnan(value)
        and math.isnan(reference.deserialize(name, [ours])[0]["basic_types_value"][field])
    )


def test_float32_max_encodes() -> None:
    """FLT_MAX is a float32 (rclpy's range check is a little short of it; we are exact)."""
    flt_max = 3.4028234663852886e38
    blob = msgconv.encode("test_msgs/msg/BasicTypes", {"float32_value": flt_max})
    assert (
        msgconv.decode("test_msgs/msg/BasicTypes", blob).to_pylist()[0]["float32_value"] == flt_max
    )


def test_encode_refuses_nul_inside_a_string(reference: RclpyReference) -> None:
    """ROS strings are C strings: rclpy (and every C/C++ peer) cuts 'a\\x00b' to 'a'. Sending it
    would be silent truncation, which issue 4 forbids: encode must raise, naming the field."""
    (rclpy_reads,) = reference.deserialize(
        "std_msgs/msg/String", [b"\x00\x01\x00\x00\x04\x00\x00\x00a\x00b\x00"]
    )
    assert rclpy_reads == {"data": "a"}  # what a peer would see
    with pytest.raises(MsgConvError) as info:
        msgconv.encode("std_msgs/msg/String", {"data": "a\x00b"})
    assert "data" in str(info.value)


def test_decode_string_whose_count_leaves_out_the_terminator(reference: RclpyReference) -> None:
    """A peer writing count 3 + 'abc' (no NUL): rclpy reads 'abc'. msgconv may read the same or
    refuse the message, but never drop the last character."""
    blob = b"\x00\x01\x00\x00\x03\x00\x00\x00abc"
    (want,) = reference.deserialize("std_msgs/msg/String", [blob])
    assert want == {"data": "abc"}
    try:
        got = msgconv.decode("std_msgs/msg/String", blob).to_pylist()[0]
    except MsgConvError:
        return
    assert got == want, (
        f"decoded {got!r}: the last character was dropped instead of read or refused"
    )


@pytest.mark.parametrize(
    ("type_name", "value", "cut_inside", "path"),
    [
        ("geometry_msgs/msg/Twist", {}, 4 + 3 * 8 + 4, "angular.x"),
        ("std_msgs/msg/String", {"data": "hello"}, 4 + 4 + 2, "data"),
        ("sensor_msgs/msg/Imu", {}, 4 + 16 + 4 * 8 + 8 * 4 + 4, "orientation_covariance"),
    ],
)
def test_truncated_cdr_error_names_the_field(
    type_name: str, value: dict[str, Any], cut_inside: int, path: str
) -> None:
    """Issue 4: every MsgConvError names the type and the field path, truncated CDR included."""
    blob = msgconv.encode(type_name, value)
    with pytest.raises(MsgConvError) as info:
        msgconv.decode(type_name, blob[:cut_inside])
    message = str(info.value)
    assert type_name in message or type_name.split("/")[-1] in message
    assert path in message, f"{message!r} does not name the field {path!r} being read"


def test_huge_sequence_count_error_names_the_field() -> None:
    image = bytearray(msgconv.encode("sensor_msgs/msg/Image", {"height": 1}))
    # the data count is the last 4 bytes (empty data)
    image[-4:] = (0xFFFFFFF0).to_bytes(4, "little")
    with pytest.raises(MsgConvError) as info:
        msgconv.decode("sensor_msgs/msg/Image", bytes(image))
    assert "data" in str(info.value).replace("sensor_msgs", ""), str(info.value)


# Types whose unbounded sequences take the numpy paths: primitive arrays, strings, structs.
SEQUENCE_TYPES = [
    "std_msgs/msg/Float32MultiArray",
    "std_msgs/msg/Float64MultiArray",
    "std_msgs/msg/Int8MultiArray",
    "std_msgs/msg/UInt16MultiArray",
    "std_msgs/msg/Int64MultiArray",
    "std_msgs/msg/ByteMultiArray",
    "sensor_msgs/msg/Image",
    "sensor_msgs/msg/PointCloud2",
    "sensor_msgs/msg/PointCloud",
    "sensor_msgs/msg/LaserScan",
    "sensor_msgs/msg/JointState",
    "geometry_msgs/msg/Polygon",
    "nav_msgs/msg/Path",
    "test_msgs/msg/UnboundedSequences",
]


@pytest.mark.parametrize("type_name", SEQUENCE_TYPES)
def test_long_sequences(reference: RclpyReference, schema: dict[str, Any], type_name: str) -> None:
    """Sequences of hundreds of elements (the numpy fast paths), little- and big-endian."""
    rng = random.Random(type_name)
    value = ref_cdr.random_value(schema, ("struct", type_name), rng, max_seq=600)
    (rclpy_blob,) = reference.serialize(type_name, [value])
    ref_cdr.assert_same(msgconv.decode(type_name, rclpy_blob).to_pylist()[0], value, type_name)
    big, _ = ref_cdr.serialize(schema, type_name, value, big_endian=True)
    ref_cdr.assert_same(msgconv.decode(type_name, big).to_pylist()[0], value, f"{type_name} BE")
    ours = msgconv.encode(type_name, pa.array([value], type=msgconv.arrow_type(type_name)))
    assert_canonical(ours, ref_cdr.serialize(schema, type_name, value)[0], type_name)
    ref_cdr.assert_same(reference.deserialize(type_name, [ours])[0], value, f"{type_name} by rclpy")
