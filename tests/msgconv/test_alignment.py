"""CDR alignment: where padding goes, checked against rclpy and against the plain serializer.

Issue 11: a sequence of 64-bit elements whose count the generators knew to sit at 0 mod 8 was not
padded to 8 after its count (the encoder and both decoders shared the mistake, so round trips
passed). Here every primitive sequence is placed after prefixes that leave every offset mod 8,
statically known or not, nested or not, with 0..3 elements, and each case goes through every path:
the generated encoder, the row decoder, the column decoder (both byte orders) and the reference.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from dora_ros import msgconv
from dora_ros.msgconv import TypeRegistry

try:
    from . import cdr_reference as ref_cdr
    from .paths import decode_every_way, encode_every_way
    from .rclpy_reference import RclpyReference
except ImportError:  # tests/msgconv is not a package: pytest put this folder on sys.path
    import cdr_reference as ref_cdr  # type: ignore[no-redef]
    from paths import decode_every_way, encode_every_way  # type: ignore[no-redef]
    from rclpy_reference import RclpyReference  # type: ignore[no-redef]


@pytest.fixture(scope="module")
def reference() -> Iterator[RclpyReference]:
    with RclpyReference() as ref:
        yield ref


def test_joint_trajectory_point_pads_its_float64_sequence_as_rclpy(
    reference: RclpyReference,
) -> None:
    """The issue's case: positions' count sits at offset 0, its first double at 8, not 4."""
    name = "trajectory_msgs/msg/JointTrajectoryPoint"
    value = reference.default(name)
    value["positions"] = [1.0]
    (rclpy_blob,) = reference.serialize(name, [value])
    assert rclpy_blob[4:20].hex() == "01000000" + "00000000" + "000000000000f03f"
    codec = msgconv.default_registry().codec(name)
    ours = encode_every_way(codec, value)
    assert isinstance(ours, bytes)
    assert ours[:20] == rclpy_blob[:20]
    ref_cdr.assert_same(decode_every_way(codec, rclpy_blob), value, name)
    ref_cdr.assert_same(reference.deserialize(name, [ours])[0], value, f"{name} read by rclpy")


def test_joint_trajectory_points_of_every_length_match_rclpy(reference: RclpyReference) -> None:
    """Each of the four float64 sequences with 0..2 elements, in every combination."""
    name = "trajectory_msgs/msg/JointTrajectoryPoint"
    schema = reference.describe([name])
    codec = msgconv.default_registry().codec(name)
    rng = random.Random(11)
    values = []
    for combo in range(3**4):
        value = reference.default(name)
        for i, field in enumerate(("positions", "velocities", "accelerations", "effort")):
            value[field] = [rng.uniform(-9, 9) for _ in range(combo // 3**i % 3)]
        value["time_from_start"] = {"sec": rng.randint(-5, 5), "nanosec": rng.randint(0, 9)}
        values.append(value)
    rclpy_blobs = reference.serialize(name, values)
    ours = []
    for value, rclpy_blob in zip(values, rclpy_blobs, strict=True):
        want, padding = ref_cdr.serialize(schema, name, value)
        assert ref_cdr.differing_offsets(rclpy_blob, want, padding) == []
        blob = encode_every_way(codec, value)
        assert blob == want
        ours.append(blob)
        ref_cdr.assert_same(decode_every_way(codec, rclpy_blob), value, name)
    back = reference.deserialize(name, ours)
    ref_cdr.assert_same(back, values, f"{name} read by rclpy")
    ref_cdr.assert_same(msgconv.decode_many(name, rclpy_blobs).to_pylist(), values, name)


# `float64 t` + `int64[] v` with v = [7]: the count at offset 8 (0 mod 8), then 4 bytes of
# padding, then the int64 at offset 16. Read without the padding, [7] came out as 7 << 32.
FLOAT64_THEN_INT64_SEQUENCE = bytes.fromhex(
    "00010000"  # CDR_LE encapsulation header
    "0000000000000000"  # t = 0.0 (offset 0)
    "01000000"  # v: 1 element (offset 8)
    "00000000"  # padding to 8 for the int64
    "0700000000000000"  # v[0] = 7 (offset 16)
)


def test_a_user_type_with_an_int64_sequence_after_a_float64() -> None:
    registry = TypeRegistry(use_default_roots=False)
    registry.add_definition("user_pkg/msg/Stamped", "float64 t\nint64[] v\n")
    codec = registry.codec("user_pkg/msg/Stamped")
    assert decode_every_way(codec, FLOAT64_THEN_INT64_SEQUENCE) == {"t": 0.0, "v": [7]}
    assert encode_every_way(codec, {"t": 0.0, "v": [7]}) == FLOAT64_THEN_INT64_SEQUENCE
    # and the same type as the plain serializer (checked against rclpy) writes it
    schema = {
        "user_pkg/msg/Stamped": (
            ("t", ("prim", "float64")),
            ("v", ("sequence", ("prim", "int64"), None)),
        )
    }
    want, _ = ref_cdr.serialize(schema, "user_pkg/msg/Stamped", {"t": 0.0, "v": [7]})
    assert want == FLOAT64_THEN_INT64_SEQUENCE


_PRIMS = list(ref_cdr.PRIMITIVES)


def _layout_types(prim: str) -> tuple[TypeRegistry, dict[str, Any], list[str]]:
    """Types that put `prim[]` (and `prim[<=3]`, and a float64 after them) at every offset mod 8:
    after a fixed prefix (offset known while generating), after a string (known only at run time),
    as the element of a sequence and nested at the top."""
    registry = TypeRegistry(use_default_roots=False)
    schema: dict[str, Any] = {}
    names = []
    tail = (
        ("v", ("sequence", ("prim", prim), None)),
        ("after", ("prim", "float64")),
        ("b", ("sequence", ("prim", prim), 3)),
        ("small", ("prim", "int16")),
        ("w", ("sequence", ("prim", prim), None)),
    )
    tail_text = f"{prim}[] v\nfloat64 after\n{prim}[<=3] b\nint16 small\n{prim}[] w\n"
    for k in range(9):
        name = f"layout/msg/Fixed{k}"
        prefix = (("pre", ("array", ("prim", "uint8"), k)),) if k else ()
        registry.add_definition(name, (f"uint8[{k}] pre\n" if k else "") + tail_text)
        schema[name] = (*prefix, *tail)
        names.append(name)
    registry.add_definition("layout/msg/AfterString", "string s\n" + tail_text)
    schema["layout/msg/AfterString"] = (("s", ("string", None)), *tail)
    registry.add_definition(
        "layout/msg/Outer",
        "uint8 a\nlayout/Fixed3 one\nlayout/AfterString[] many\nlayout/Fixed4[2] two\n",
    )
    schema["layout/msg/Outer"] = (
        ("a", ("prim", "uint8")),
        ("one", ("struct", "layout/msg/Fixed3")),
        ("many", ("sequence", ("struct", "layout/msg/AfterString"), None)),
        ("two", ("array", ("struct", "layout/msg/Fixed4"), 2)),
    )
    names += ["layout/msg/AfterString", "layout/msg/Outer"]
    return registry, schema, names


@pytest.mark.parametrize("prim", _PRIMS)
def test_every_primitive_sequence_at_every_offset(prim: str) -> None:
    registry, schema, names = _layout_types(prim)
    rng = random.Random(prim)
    cases = 0
    for name in names:
        codec = registry.codec(name)
        values = [ref_cdr.random_value(schema, ("struct", name), rng, max_seq=3) for _ in range(40)]
        for value in values:
            want, _ = ref_cdr.serialize(schema, name, value)
            assert encode_every_way(codec, value, f"{name} {value}") == want
            ref_cdr.assert_same(decode_every_way(codec, want), value, name)
            big, _ = ref_cdr.serialize(schema, name, value, big_endian=True)
            ref_cdr.assert_same(decode_every_way(codec, big), value, f"{name} big-endian")
            cases += 1
        # many messages at once, mixed byte orders, column by column where the type allows
        blobs = [
            ref_cdr.serialize(schema, name, v, big_endian=i % 2 == 1)[0]
            for i, v in enumerate(values)
        ]
        ref_cdr.assert_same(codec.decode_many(blobs).to_pylist(), values, f"{name} decode_many")
        little = [ref_cdr.serialize(schema, name, v)[0] for v in values]
        ref_cdr.assert_same(codec.decode_many(little).to_pylist(), values, f"{name} columns")
    assert cases == 40 * len(names)


def test_a_fast_decoder_refusing_what_the_reference_reads_is_reported_as_a_msgconv_bug() -> None:
    """Before the fix, rclpy's JointTrajectoryPoint came back as 'malformed CDR (truncated)':
    the data was fine, the generated decoder was wrong. Such a refusal must say so."""
    from dora_ros.errors import MsgConvError
    from dora_ros.msgconv import CdrError
    from dora_ros.msgconv.cdr_codegen import Truncated

    registry = TypeRegistry(use_default_roots=False)
    registry.add_definition("user_pkg/msg/Stamped", "float64 t\nint64[] v\n")
    codec = registry.codec("user_pkg/msg/Stamped")

    def wrong(body: Any, pos: int) -> Any:  # what the old generated decoder did with these bytes
        raise Truncated

    codec._decode_le = wrong
    with pytest.raises(MsgConvError) as info:
        codec.decode(FLOAT64_THEN_INT64_SEQUENCE)
    assert not isinstance(info.value, CdrError)
    assert "msgconv bug" in str(info.value) and "user_pkg/msg/Stamped" in str(info.value)
    # truly malformed data is still a CdrError naming the field
    with pytest.raises(CdrError, match="'v'"):
        codec.decode(FLOAT64_THEN_INT64_SEQUENCE[:-3])


def test_the_alignment_model_keeps_only_what_holds_on_every_path() -> None:
    from dora_ros.msgconv.cdr_codegen import Alignment

    at = Alignment(8)  # the start of a message body
    at.advance(8)  # float64 t
    assert at.align(4) == 0  # the count of int64[] v, at 8
    at.advance(4)
    assert at.elements(8) == 4  # the case: 4 bytes of padding before the first int64
    # empty (offset 12) or filled (a multiple of 8): only 4-alignment is left
    assert (at.known, at.rest) == (4, 0)
    assert at.pad(8) is None  # so the next 64-bit value pads at run time

    at = Alignment(8, 4)  # a count written at 4 mod 8: the elements need no padding
    at.advance(4)
    assert at.elements(8) == 0 and (at.known, at.rest) == (8, 0)

    at = Alignment(8, 6)
    at.advance_unknown(1)  # past a string's bytes: nothing is known
    assert (at.known, at.rest) == (1, 0) and at.pad(2) is None
    at = Alignment(8, 4)
    at.advance_unknown(4)  # past a wstring's 4-byte units: still 4-aligned
    assert (at.known, at.rest) == (4, 0)
    assert at.align(8) is None and (at.known, at.rest) == (8, 0)  # padded at run time
