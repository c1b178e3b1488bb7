"""Encoding is strict where ROS is strict, alike on every path (issue 11).

- a float array given to an integer field never wraps: a value past the type's range is an
  `OutOfRangeError` naming the field path (the fast path used to compare against float(high),
  which rounds up to 2**63 for int64, and cast 2.0**63 to -2**63);
- floats are refused for `bool` by the scalar and the array paths alike (a scalar took 1.0);
- a null row in `encode_many` is an error, never a default message;
- `encode_many(..., as_arrow=True)` gives one `pa.BinaryArray` with the same bytes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from dora_ros import msgconv
from dora_ros.msgconv import PRIMITIVES, OutOfRangeError, TypeRegistry, ValueKindError

try:
    from .paths import encode_every_way
except ImportError:  # tests/msgconv is not a package: pytest put this folder on sys.path
    from paths import encode_every_way  # type: ignore[no-redef]

INTS = [p.name for p in PRIMITIVES.values() if p.low is not None and p.name not in ("byte", "char")]


def _registry() -> TypeRegistry:
    registry = TypeRegistry(use_default_roots=False)
    text = "".join(f"{t}[] {t}_seq\n{t}[2] {t}_fixed\n{t} {t}_one\n" for t in INTS)
    registry.add_definition("strict/msg/Ints", text)
    registry.add_definition("strict/msg/Bools", "bool one\nbool[] seq\nbool[2] fixed\n")
    registry.add_definition("strict/msg/Outer", "uint8 pad\nstrict/Ints inner\n")
    return registry


@pytest.mark.parametrize("int_type", INTS)
def test_float_arrays_never_wrap_into_integer_fields(int_type: str) -> None:
    registry = _registry()
    codec = registry.codec("strict/msg/Outer")
    prim = PRIMITIVES[int_type]
    assert prim.low is not None and prim.high is not None
    above = float(prim.high + 1)  # exact: a power of two
    below = float(prim.low) - max(1.0, abs(float(prim.low)) * 2**-52) if prim.low else -1.0
    for bad in (above, below, above * 2):
        for field, value in (
            (f"{int_type}_seq", np.array([0.0, bad])),
            (f"{int_type}_fixed", np.array([0.0, bad])),
            (f"{int_type}_seq", [0.0, bad]),
        ):
            with pytest.raises(OutOfRangeError) as info:
                codec.encode({"inner": {field: value}})
            message = str(info.value)
            assert f"inner.{field}[1]" in message and "strict/msg/Outer" in message, message
            # and from Arrow (a float64 column for an integer field)
            ints = registry.arrow_type("strict/msg/Ints")
            arrow_inner = pa.array(
                [{field: list(value)}],
                type=pa.struct([pa.field(field, pa.list_(pa.float64()))]),
            )
            del ints
            with pytest.raises(OutOfRangeError) as info:
                codec.encode(pa.StructArray.from_arrays([arrow_inner], names=["inner"]))
            message = str(info.value)
            assert f"inner.{field}" in message and "strict/msg/Outer" in message, message
    # the largest floats inside the range encode exactly (float(high) itself is outside for 64 bits)
    top = float(prim.high) if float(prim.high) < above else float(np.nextafter(above, 0.0))
    value = {"inner": {f"{int_type}_seq": np.array([top, float(prim.low)])}}
    blob = encode_every_way(codec, value)
    assert isinstance(blob, bytes)
    got = codec.decode(blob).to_pylist()[0]["inner"][f"{int_type}_seq"]
    assert got == [int(top), prim.low]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("one", 1.0),
        ("one", 0.0),
        ("one", np.float64(1.0)),
        ("seq", [1.0]),
        ("seq", [True, 0.0]),
        ("seq", np.array([1.0, 0.0])),
        ("fixed", [1.0, 0.0]),
        ("fixed", np.array([0.0, 1.0])),
    ],
)
def test_floats_into_bool_are_refused_on_every_path(field: str, value: Any) -> None:
    codec = _registry().codec("strict/msg/Bools")
    with pytest.raises(ValueKindError) as info:
        codec.encode({field: value})
    assert f"field '{field}" in str(info.value)
    with pytest.raises(ValueKindError):
        codec.encode_many([{field: value}], as_arrow=True)
    assert isinstance(encode_every_way(codec, {field: value}), ValueKindError)
    # a float64 Arrow column (or list of float64) for the bool field
    if field == "one":
        column, kind = float(value), pa.float64()
    else:
        column, kind = [float(x) for x in value], pa.list_(pa.float64())
    arrow = pa.array([{field: column}], type=pa.struct([pa.field(field, kind)]))
    with pytest.raises(ValueKindError):
        codec.encode(arrow)


def test_bool_takes_bools_and_the_integers_0_and_1_on_every_path() -> None:
    codec = _registry().codec("strict/msg/Bools")
    want = codec.encode({"one": True, "seq": [True, False], "fixed": [False, True]})
    for value in (
        {"one": 1, "seq": [1, 0], "fixed": [0, 1]},
        {"one": np.bool_(True), "seq": np.array([True, False]), "fixed": np.array([0, 1])},
    ):
        assert encode_every_way(codec, value) == want


def test_a_null_row_is_an_error_not_a_default_message() -> None:
    name = "geometry_msgs/msg/Twist"
    array = pa.array(
        [{"linear": {"x": 1.0}}, None, {"angular": {"z": 2.0}}], type=msgconv.arrow_type(name)
    )
    for call in (
        lambda: msgconv.encode_many(name, array),
        lambda: msgconv.encode_many(name, array, as_arrow=True),
        lambda: msgconv.encode_many(name, pa.chunked_array([array.slice(0, 1), array.slice(1)])),
        lambda: msgconv.encode(name, array.slice(1, 1)),
        lambda: msgconv.encode(name, pa.chunked_array([array.slice(1, 1)])),
        lambda: msgconv.encode_many(name, [{}, None]),
    ):
        with pytest.raises(ValueKindError) as info:
            call()
        assert "null" in str(info.value) and "Twist" in str(info.value)
    with pytest.raises(ValueKindError, match="row 1 is null"):
        msgconv.encode_many(name, array)
    # a slice without the null row is fine
    assert len(msgconv.encode_many(name, array.slice(2))) == 1


@pytest.mark.parametrize(
    "name", ["geometry_msgs/msg/Twist", "sensor_msgs/msg/Image", "test_msgs/msg/Strings"]
)
def test_encode_many_as_a_binary_array(name: str) -> None:
    arrow = msgconv.arrow_type(name)
    rows: list[dict[str, Any]] = [{} for _ in range(5)]
    if name.endswith("Image"):
        rows = [{"height": i, "data": bytes(range(i * 3))} for i in range(5)]
    elif name.endswith("Strings"):
        rows = [{"string_value": "é" * i, "bounded_string_value": "x" * i} for i in range(5)]
    else:
        rows = [{"linear": {"x": float(i)}} for i in range(5)]
    array = pa.array(rows, type=arrow)
    want = msgconv.encode_many(name, array)
    for value in (
        array,
        rows,
        array.slice(1),
        pa.chunked_array([array.slice(0, 2), array.slice(2)]),
    ):
        got = msgconv.encode_many(name, value, as_arrow=True)
        assert isinstance(got, pa.BinaryArray) and got.type == pa.binary()
        got.validate(full=True)
        skip = 1 if isinstance(value, pa.Array) and value.offset else 0
        assert got.to_pylist() == want[skip:]
        # one data buffer holding exactly the messages, back to back
        assert got.buffers()[2].size == sum(len(b) for b in want[skip:])
        assert msgconv.decode_many(name, got).to_pylist() == [
            msgconv.decode(name, b).to_pylist()[0] for b in want[skip:]
        ]
    empty = msgconv.encode_many(name, array.slice(0, 0), as_arrow=True)
    assert isinstance(empty, pa.BinaryArray) and len(empty) == 0


def test_encode_many_as_arrow_mixes_fast_and_reference_rows() -> None:
    """A row the generated encoder hands to the reference (an int64 array for an int32 field
    needs a checked conversion) leaves no half-written parts behind."""
    codec = _registry().codec("strict/msg/Ints")
    rows = [
        {"int32_seq": [1, 2]},
        {"int32_seq": np.array([3, 4], dtype=np.int64), "int8_one": 5},
        {"int32_seq": np.array([5.0])},
        {"uint16_fixed": [7, 8]},
    ]
    got = codec.encode_many(rows, as_arrow=True)
    assert got.to_pylist() == [codec.encode(r) for r in rows]
    with pytest.raises(OutOfRangeError) as info:
        codec.encode_many([*rows, {"int8_seq": [1, 300]}], as_arrow=True)
    assert "int8_seq[1]" in str(info.value)
