"""Fuzzing `decode` / `decode_many`: random and mutated bytes give a valid one-row array of the
type, or a `MsgConvError`, never another exception (nor a hang or a huge allocation).

Seeds are rclpy's own encodings (with its uninitialised padding) of random values of a few types
with strings, sequences, nesting and wide primitives; mutations flip, overwrite, cut, extend and
splice them, and plant huge counts where sequence and string lengths live. `encode` gets values
of every kind (None, huge ints, NaN, bytes, numpy arrays of any shape, nested junk) in any field and
must give bytes that decode again, or a `MsgConvError`. Every case also checks that the fast
paths agree with the reference (`paths`): decoding the same value or refusing alike, encoding
the same bytes, and what was encoded decodes and encodes again to the same bytes. Hypothesis runs derandomized and without
its example database, so CI runs are reproducible.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dora_ros import msgconv
from dora_ros.errors import MsgConvError

try:
    from . import cdr_reference as ref_cdr
    from .paths import decode_every_way, encode_every_way
    from .rclpy_reference import RclpyReference
except ImportError:  # tests/msgconv is not a package: pytest put this folder on sys.path
    import cdr_reference as ref_cdr  # type: ignore[no-redef]
    from paths import decode_every_way, encode_every_way  # type: ignore[no-redef]
    from rclpy_reference import RclpyReference  # type: ignore[no-redef]

FUZZ_TYPES = [
    "std_msgs/msg/String",
    "geometry_msgs/msg/Twist",
    "sensor_msgs/msg/Image",
    "sensor_msgs/msg/PointCloud2",
    "nav_msgs/msg/Odometry",
    "test_msgs/msg/Arrays",
    "test_msgs/msg/BoundedSequences",
    "test_msgs/msg/UnboundedSequences",
    "test_msgs/msg/Strings",
    "test_msgs/msg/WStrings",
    "test_msgs/msg/MultiNested",
    "test_msgs/action/Fibonacci_FeedbackMessage",
]

FUZZ_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def seeds() -> Iterator[dict[str, list[bytes]]]:
    with RclpyReference() as reference:
        schema = reference.describe(FUZZ_TYPES)
        out = {}
        for name in FUZZ_TYPES:
            values = ref_cdr.random_values(schema, name, zlib.crc32(name.encode()), 3)
            out[name] = reference.serialize(name, values)
        yield out


def check_decode(type_name: str, data: bytes) -> None:
    """A valid one-row array or a MsgConvError, and the row, column and reference decoders agree
    (a fast path refusing what the reference reads is a bug, not malformed CDR)."""
    decode_every_way(msgconv.default_registry().codec(type_name), data)
    try:
        result = msgconv.decode(type_name, data)
    except MsgConvError:
        return
    assert isinstance(result, pa.StructArray) and len(result) == 1
    assert result.type == msgconv.arrow_type(type_name)
    result.validate(full=True)
    result.to_pylist()


def check_decode_many(type_name: str, blobs: list[bytes]) -> None:
    """decode_many agrees with decode: it fails iff one buffer fails, else row i == decode(i)."""
    try:
        result = msgconv.decode_many(type_name, blobs)
    except MsgConvError as err:
        singles_fail = []
        for blob in blobs:
            try:
                msgconv.decode(type_name, blob)
            except MsgConvError:
                singles_fail.append(blob)
        assert singles_fail, f"decode_many raised {err} but every buffer decodes on its own"
        return
    assert isinstance(result, pa.StructArray) and len(result) == len(blobs)
    result.validate(full=True)
    rows = [msgconv.decode(type_name, blob).to_pylist()[0] for blob in blobs]
    ref_cdr.assert_same(result.to_pylist(), rows, f"{type_name}: decode_many vs decode")


# A mutation is (kind, position fraction, payload).
mutation = st.tuples(
    st.sampled_from(["flip", "set", "cut", "extend", "insert", "delete", "huge_u32", "small_u32"]),
    st.floats(0, 1, allow_nan=False),
    st.binary(min_size=1, max_size=8),
)


def mutate(blob: bytes, mutations: list[tuple[str, float, bytes]]) -> bytes:
    data = bytearray(blob)
    for kind, where, payload in mutations:
        pos = int(where * len(data))
        if kind == "flip" and data:
            pos = min(pos, len(data) - 1)
            data[pos] ^= 1 << (payload[0] % 8)
        elif kind == "set" and data:
            data[pos : pos + len(payload)] = payload
        elif kind == "cut":
            del data[pos:]
        elif kind == "extend":
            data += payload
        elif kind == "insert":
            data[pos:pos] = payload
        elif kind == "delete":
            del data[pos : pos + len(payload)]
        elif kind in ("huge_u32", "small_u32"):  # lengths of strings and sequences are 4-aligned
            pos = 4 + (max(pos - 4, 0) // 4) * 4
            value = 0xFFFFFFF0 + payload[0] % 16 if kind == "huge_u32" else payload[0] % 8
            data[pos : pos + 4] = value.to_bytes(4, "little" if data[1:2] == b"\x01" else "big")
    return bytes(data)


@FUZZ_SETTINGS
@given(type_name=st.sampled_from(FUZZ_TYPES), data=st.binary(max_size=512))
def test_decode_random_bytes(type_name: str, data: bytes) -> None:
    check_decode(type_name, data)
    check_decode(type_name, b"\x00\x01\x00\x00" + data)  # past the header check
    check_decode(type_name, b"\x00\x00\x00\x00" + data)  # big-endian


@FUZZ_SETTINGS
@given(
    type_name=st.sampled_from(FUZZ_TYPES),
    which=st.integers(0, 2),
    mutations=st.lists(mutation, min_size=1, max_size=4),
)
def test_decode_mutated_rclpy_bytes(
    seeds: dict[str, list[bytes]], type_name: str, which: int, mutations: Any
) -> None:
    check_decode(type_name, mutate(seeds[type_name][which], mutations))


@FUZZ_SETTINGS
@given(
    type_name=st.sampled_from(FUZZ_TYPES),
    batch=st.lists(
        st.tuples(st.integers(0, 2), st.lists(mutation, max_size=2)), min_size=1, max_size=6
    ),
)
def test_decode_many_mutated_batches(
    seeds: dict[str, list[bytes]], type_name: str, batch: Any
) -> None:
    check_decode_many(type_name, [mutate(seeds[type_name][i], m) for i, m in batch])


@pytest.mark.parametrize("type_name", FUZZ_TYPES)
def test_seeds_decode(seeds: dict[str, list[bytes]], type_name: str) -> None:
    """The fuzz seeds themselves are valid: a fuzz run that only ever hits errors proves little."""
    for blob in seeds[type_name]:
        assert len(msgconv.decode(type_name, blob)) == 1


ENCODE_TYPES = [
    "test_msgs/msg/BasicTypes",
    "test_msgs/msg/Arrays",
    "test_msgs/msg/BoundedSequences",
    "test_msgs/msg/UnboundedSequences",
    "test_msgs/msg/Strings",
    "test_msgs/msg/WStrings",
    "test_msgs/msg/Nested",
    "sensor_msgs/msg/Image",
    "geometry_msgs/msg/Twist",
    "std_msgs/msg/Empty",
]
_JUNK_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.sampled_from(
        [
            np.int64(3),
            np.float32(2.5),
            np.uint8(7),
            np.array([1, 2, 3], dtype=np.uint8),
            np.array([[1.0, 2.0]]),
            np.array(["a", "b"]),
            (1, 2, 3),
            frozenset({1}),
        ]
    ),
)
_JUNK = st.recursive(
    _JUNK_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["x", "data", "linear", "int32_value"]), inner, max_size=3
        )
    ),
    max_leaves=8,
)


@FUZZ_SETTINGS
@given(type_name=st.sampled_from(ENCODE_TYPES), data=st.data())
def test_encode_random_python_values(type_name: str, data: st.DataObject) -> None:
    """Values of any kind in any field: bytes that decode again, or a MsgConvError."""
    names = msgconv.arrow_type(type_name).names or ["x"]
    value = data.draw(st.dictionaries(st.sampled_from(names), _JUNK, min_size=1, max_size=3))
    codec = msgconv.default_registry().codec(type_name)
    blob = encode_every_way(codec, value)  # the fast encoder and the reference agree
    if isinstance(blob, MsgConvError):
        return
    # what was encoded comes back: decoded (alike on every path) and encoded again, same bytes
    back = decode_every_way(codec, blob)
    assert not isinstance(back, MsgConvError), back
    assert msgconv.encode(type_name, back) == blob
    assert msgconv.encode(type_name, msgconv.decode(type_name, blob)) == blob
