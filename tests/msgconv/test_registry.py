"""The registry's derived caches follow a redefinition of any type they were built from.

A parent's Arrow type, codec, fixed layout and arenas are built from the definitions of the types
nested in it; redefining a nested type at run time must not leave the parent's old ones in place
(issue 11's review: the old Arrow type and decoder stayed while the reference encoder read the new
nested definition, so a round trip gave a float64 read from an int32's bytes). Run by `make test`
with and without the C helpers (DORA_ROS_NO_NATIVE=1).
"""

from __future__ import annotations

import struct

import pyarrow as pa
import pytest

from dora_ros.msgconv import TypeRegistry, UnknownFieldError


def _general(registry: TypeRegistry, name: str, blob: bytes) -> pa.StructArray:
    codec = registry.codec(name)
    return codec.to_arrow([codec.decode_tree(blob)])


def test_redefining_a_nested_type_rebuilds_its_parent() -> None:
    registry = TypeRegistry(use_default_roots=False)
    registry.add_definition("p/msg/In", "float64 a")
    registry.add_definition("p/msg/Out", "p/In i\nstring s")
    old = registry.codec("p/Out")
    assert old.decode(old.encode({"i": {"a": 1.5}, "s": "x"})).to_pylist() == [
        {"i": {"a": 1.5}, "s": "x"}
    ]
    registry.add_definition("p/msg/In", "int32 a\nint32 b")
    for name in ("p/Out", "p/msg/Out", "/p/msg/Out"):
        codec = registry.codec(name)
        assert codec is not old
        assert codec.arrow_type == pa.struct(
            [("i", pa.struct([("a", pa.int32()), ("b", pa.int32())])), ("s", pa.string())]
        )
        assert registry.arrow_type(name) == codec.arrow_type
        value = {"i": {"a": 1, "b": 2}, "s": "x"}
        blob = codec.encode(value)
        assert blob == b"\x00\x01\x00\x00" + b"\x01\x00\x00\x00\x02\x00\x00\x00" + (
            b"\x02\x00\x00\x00x\x00"
        )
        assert codec.decode(blob).to_pylist() == [value]


def test_redefining_a_type_two_levels_down_rebuilds_every_level() -> None:
    registry = TypeRegistry(use_default_roots=False)
    registry.add_definition("q/msg/Leaf", "uint8 v")
    registry.add_definition("q/msg/Mid", "q/Leaf leaf\nstring tag")
    registry.add_definition("q/msg/Top", "q/Mid mid\nq/Leaf[] leaves")
    top = {"mid": {"leaf": {"v": 3}, "tag": "t"}, "leaves": [{"v": 4}]}
    assert registry.codec("q/Top").decode(registry.codec("q/Top").encode(top)).to_pylist() == [top]
    assert registry.codec("q/Mid").arrow_type.field("leaf").type == pa.struct([("v", pa.uint8())])

    registry.add_definition("q/msg/Leaf", "string name\nfloat64 v")
    leaf = pa.struct([("name", pa.string()), ("v", pa.float64())])
    assert registry.arrow_type("q/Mid") == pa.struct([("leaf", leaf), ("tag", pa.string())])
    assert registry.arrow_type("q/Top").field("leaves").type == pa.list_(leaf)
    top = {
        "mid": {"leaf": {"name": "n", "v": 0.25}, "tag": "t"},
        "leaves": [{"name": "m", "v": -1}],
    }
    codec = registry.codec("q/Top")
    blob = codec.encode(top)
    assert codec.decode(blob).to_pylist() == [top]
    assert codec.decode(blob).equals(_general(registry, "q/Top", blob))
    mid = {"leaf": {"name": "k", "v": 2.0}, "tag": "u"}
    assert registry.codec("q/Mid").decode(registry.codec("q/Mid").encode(mid)).to_pylist() == [mid]


def test_redefining_a_nested_numbers_only_type_rebuilds_the_fixed_layout() -> None:
    registry = TypeRegistry(use_default_roots=False)
    registry.add_definition("f/msg/In", "float64 a")
    registry.add_definition("f/msg/Mid", "f/In i\nfloat32 t")
    registry.add_definition("f/msg/Out", "uint8 h\nf/Mid m")
    old = registry.codec("f/Out")
    assert old._fixed is not None
    # decode a few messages so the old layout's arena holds slots
    kept = [old.decode(old.encode({"h": k, "m": {"i": {"a": k / 2}, "t": 1.0}})) for k in range(3)]

    registry.add_definition("f/msg/In", "int32 a\nint16[2] b")
    codec = registry.codec("f/Out")
    fixed = codec._fixed
    assert fixed is not None and fixed is not old._fixed
    assert fixed.arrow_type == codec.arrow_type == registry.arrow_type("f/Out")
    assert codec.arrow_type.field("m").type.field("i").type == pa.struct(
        [("a", pa.int32()), ("b", pa.list_(pa.int16(), 2))]
    )
    for k in range(5):
        value = {"h": k, "m": {"i": {"a": -k, "b": [k, 7]}, "t": 0.5}}
        blob = codec.encode(value)
        # uint8 h, pad 3, int32 a, int16[2] b, float32 t
        assert len(blob) == 4 + 16
        got = codec.decode(blob)
        assert got.to_pylist() == [value]
        assert got.equals(_general(registry, "f/Out", blob))
        assert fixed.decode(memoryview(blob)) is not None  # the fixed path took it
        assert codec.encode(got) == blob
    # messages decoded before the redefinition keep their own (old) type and values
    assert [m.to_pylist()[0]["m"]["i"]["a"] for m in kept] == [0.0, 0.5, 1.0]


def test_a_codec_held_across_a_redefinition_keeps_its_own_types() -> None:
    # a codec someone holds (a bridge endpoint, a node) was built from the old nested type: its
    # reference encoder (the fallback for a dict with a key the old type lacks), its big-endian
    # decoder and its columnar decoder (both made on first use) must read the old type too
    registry = TypeRegistry(use_default_roots=False)
    registry.add_definition("h/msg/In", "float64 a")
    registry.add_definition("h/msg/Out", "h/In i\nstring s")
    held = registry.codec("h/Out")
    registry.add_definition("h/msg/In", "int32 a\nint32 b")
    new = registry.codec("h/Out")
    assert new is not held
    old_type = pa.struct([("i", pa.struct([("a", pa.float64())])), ("s", pa.string())])
    assert held.arrow_type == old_type and held.registry.arrow_type("h/msg/Out") == old_type
    # 'b' sends it to the reference encoder, which once read the new In and wrote two int32s
    with pytest.raises(UnknownFieldError, match=r"field 'i\.b': h/msg/In has no field 'b'"):
        held.encode({"i": {"a": 1, "b": 2}, "s": "x"})
    blob = held.encode({"i": {"a": 1}, "s": "x"})
    assert blob == b"\x00\x01\x00\x00" + struct.pack("<d", 1.0) + b"\x02\x00\x00\x00x\x00"
    assert held.decode(blob).to_pylist() == [{"i": {"a": 1.0}, "s": "x"}]
    big = b"\x00\x00\x00\x00" + struct.pack(">d", 2.5) + b"\x00\x00\x00\x02y\x00"
    assert held.decode(big).to_pylist() == [{"i": {"a": 2.5}, "s": "y"}]
    assert held.decode_many([blob, blob]).to_pylist() == [{"i": {"a": 1.0}, "s": "x"}] * 2
    assert new.decode(new.encode({"i": {"a": 1, "b": 2}, "s": "x"})).to_pylist() == [
        {"i": {"a": 1, "b": 2}, "s": "x"}
    ]
