"""Every user mistake of issue 4 raises its MsgConvError subclass naming the type and field path."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from dora_ros import msgconv
from dora_ros.errors import DoraRosError
from dora_ros.msgconv import (
    ArrayLengthError,
    BoundError,
    CdrError,
    MsgConvError,
    OutOfRangeError,
    UnknownFieldError,
    UnknownTypeError,
    ValueKindError,
    native,
)


def test_unknown_type_suggests_close_matches() -> None:
    with pytest.raises(UnknownTypeError) as err:
        msgconv.arrow_type("geometry_msgs/Twistt")
    assert "unknown ROS 2 type 'geometry_msgs/Twistt'" in str(err.value)
    assert "did you mean 'geometry_msgs/msg/Twist'" in str(err.value)
    with pytest.raises(UnknownTypeError, match="no interface package 'geometri_msgs' found"):
        msgconv.encode("geometri_msgs/Twist", {})
    with pytest.raises(UnknownTypeError, match="'Twist' is not a ROS 2 type name"):
        msgconv.decode("Twist", b"")
    assert issubclass(UnknownTypeError, MsgConvError) and issubclass(MsgConvError, DoraRosError)


CASES: list[tuple[str, Any, type[MsgConvError], str]] = [
    # unknown fields, at the top and nested, from dicts and from Arrow
    (
        "geometry_msgs/Pose",
        {"positio": {}},
        UnknownFieldError,
        "geometry_msgs/msg/Pose: field 'positio': geometry_msgs/msg/Pose has no field 'positio' (fields: position, orientation)",
    ),
    (
        "geometry_msgs/Pose",
        {"position": {"q": 1.0}},
        UnknownFieldError,
        "field 'position.q': geometry_msgs/msg/Point has no field 'q'",
    ),
    (
        "geometry_msgs/Pose",
        pa.array([{"position": {"x": 1.0, "w": 2.0}}]),
        UnknownFieldError,
        "field 'position.w'",
    ),
    # a value of a kind that cannot convert
    (
        "geometry_msgs/Pose",
        {"position": {"x": "1.0"}},
        ValueKindError,
        "geometry_msgs/msg/Pose: field 'position.x': expected a number (float64), got str '1.0'",
    ),
    (
        "geometry_msgs/Pose",
        pa.array([{"position": {"x": "abc"}}]),
        ValueKindError,
        "field 'position.x': expected a number",
    ),
    (
        "std_msgs/Int32",
        {"data": 1.5},
        ValueKindError,
        "std_msgs/msg/Int32: field 'data': 1.5 is not an integer (int32)",
    ),
    (
        "std_msgs/Bool",
        {"data": "yes"},
        ValueKindError,
        "field 'data': expected a bool, got str 'yes'",
    ),
    ("std_msgs/String", {"data": 5}, ValueKindError, "field 'data': expected a string, got int 5"),
    (
        "geometry_msgs/Pose",
        {"position": 5},
        ValueKindError,
        "field 'position': expected a struct/dict for geometry_msgs/msg/Point, got int 5",
    ),
    (
        "std_msgs/Float64MultiArray",
        {"data": 3.0},
        ValueKindError,
        "field 'data': expected a list (float64[])",
    ),
    (
        "nav_msgs/Path",
        {"poses": [{"pose": {"position": {"x": "bad"}}}]},
        ValueKindError,
        "nav_msgs/msg/Path: field 'poses[0].pose.position.x'",
    ),
    (
        "std_msgs/String",
        {"data": "\ud800"},
        ValueKindError,
        "field 'data': string is not valid Unicode",
    ),
    (
        "std_msgs/String",
        {"data": "a\x00b"},
        ValueKindError,
        "field 'data': 'a\\x00b' contains a NUL character",
    ),
    # out of range: never a wrap-around
    (
        "sensor_msgs/Image",
        {"is_bigendian": 300},
        OutOfRangeError,
        "sensor_msgs/msg/Image: field 'is_bigendian': 300 does not fit uint8 (0..255)",
    ),
    (
        "sensor_msgs/Image",
        pa.array([{"height": -1}]),
        OutOfRangeError,
        "field 'height': -1 does not fit uint32",
    ),
    (
        "sensor_msgs/Image",
        {"height": 70000000000},
        OutOfRangeError,
        "field 'height': 70000000000 does not fit uint32",
    ),
    ("std_msgs/UInt64", {"data": 2**64}, OutOfRangeError, "does not fit uint64"),
    (
        "std_msgs/Float32",
        {"data": 1e40},
        OutOfRangeError,
        "std_msgs/msg/Float32: field 'data': 1e+40 does not fit float32",
    ),
    (
        "std_msgs/Float32",
        pa.array([{"data": 1e40}]),
        OutOfRangeError,
        "field 'data': 1e+40 does not fit float32",
    ),
    (
        "sensor_msgs/Image",
        {"data": [1, 2, 300]},
        OutOfRangeError,
        "field 'data[2]': 300 does not fit uint8",
    ),
    (
        "sensor_msgs/Image",
        {"data": np.array([1, -2])},
        OutOfRangeError,
        "field 'data[1]': -2 does not fit uint8",
    ),
    (
        "std_msgs/Float32MultiArray",
        {"data": np.array([0.0, 1e300])},
        OutOfRangeError,
        "field 'data[1]': 1e+300 does not fit float32",
    ),
    # bounds and fixed lengths
    (
        "test_msgs/Strings",
        {"bounded_string_value": "x" * 23},
        BoundError,
        "test_msgs/msg/Strings: field 'bounded_string_value': string of 23 characters is longer than its bound 22",
    ),
    (
        "test_msgs/BoundedSequences",
        {"int32_values": [1, 2, 3, 4]},
        BoundError,
        "field 'int32_values': 4 elements exceed the bound of int32[<=3] (3)",
    ),
    (
        "test_msgs/BoundedSequences",
        {"int32_values": np.arange(4)},
        BoundError,
        "field 'int32_values': 4 elements exceed the bound",
    ),
    (
        "sensor_msgs/Imu",
        {"orientation_covariance": [0.0] * 8},
        ArrayLengthError,
        "sensor_msgs/msg/Imu: field 'orientation_covariance': fixed array float64[9] needs exactly 9 elements, got 8",
    ),
    (
        "sensor_msgs/Imu",
        {"orientation_covariance": np.zeros(10)},
        ArrayLengthError,
        "needs exactly 9 elements, got 10",
    ),
]


@pytest.mark.parametrize(("type_name", "value", "error", "message"), CASES)
def test_value_errors(type_name: str, value: Any, error: type[MsgConvError], message: str) -> None:
    with pytest.raises(error) as err:
        msgconv.encode(type_name, value)
    assert message in str(err.value)


def test_encode_takes_one_row() -> None:
    rows = pa.array([{"data": "a"}, {"data": "b"}])
    with pytest.raises(ValueKindError, match="encode takes one message, got 2 rows"):
        msgconv.encode("std_msgs/String", rows)
    with pytest.raises(ValueKindError, match="cannot encode an int;"):
        msgconv.encode("std_msgs/String", 5)


@pytest.mark.parametrize(
    ("type_name", "value"),
    [
        ("sensor_msgs/Imu", {"header": {"frame_id": "imu"}, "orientation": {"w": 1.0}}),
        ("sensor_msgs/Image", {"encoding": "rgb8", "data": list(range(30))}),
        ("test_msgs/Strings", {"string_value": "héllo"}),
        ("test_msgs/WStrings", {"wstring_value": "hé😀", "unbounded_sequence_of_wstrings": ["a"]}),
        ("nav_msgs/Path", {"poses": [{"header": {"frame_id": "x"}}, {}]}),
    ],
)
def test_truncated_cdr_is_a_cdr_error(type_name: str, value: dict[str, Any]) -> None:
    blob = msgconv.encode(type_name, value)
    for end in range(len(blob)):
        with pytest.raises(CdrError, match=type_name.split("/")[-1]) as err:
            msgconv.decode(type_name, blob[:end])
        if end >= 4:  # past the header, the error names the field being read
            assert "field '" in str(err.value), str(err.value)
        with pytest.raises(CdrError):
            msgconv.decode_many(type_name, [blob, blob[:end]])


def test_malformed_cdr_messages() -> None:
    with pytest.raises(
        CdrError, match=r"encapsulation header 0007 is not CDR_LE \(0001\) or CDR_BE"
    ):
        msgconv.decode("std_msgs/String", b"\x00\x07\x00\x00\x01\x00\x00\x00\x00")
    # a sequence count far past the end
    with pytest.raises(CdrError, match="field 'data': malformed CDR: length 2147483647 runs past"):
        msgconv.decode(
            "sensor_msgs/Image", msgconv.encode("sensor_msgs/Image", {})[:-4] + b"\xff\xff\xff\x7f"
        )
    with pytest.raises(
        CdrError, match="message 1: std_msgs/msg/String: field 'data': malformed CDR: truncated"
    ):
        msgconv.decode_many(
            "std_msgs/String", [b"\x00\x01\x00\x00\x01\x00\x00\x00\x00", b"\x00\x01\x00\x00\x09"]
        )
    with pytest.raises(CdrError, match="expected bytes-like CDR data, got str"):
        msgconv.decode("std_msgs/String", "abc")  # type: ignore[arg-type]


def _registry_of(**texts: str) -> msgconv.TypeRegistry:
    registry = msgconv.TypeRegistry(use_default_roots=False)
    for name, text in texts.items():
        registry.add_definition(f"t/msg/{name}", text)
    return registry


def _row(codec: Any, **columns: pa.Array) -> pa.StructArray:
    arrow = codec.arrow_type
    return pa.StructArray.from_arrays([columns[f.name] for f in arrow], fields=list(arrow))


NATIVE_WAYS = [True, False] if native.AVAILABLE else [False]


@pytest.mark.parametrize("c_helpers", NATIVE_WAYS)
def test_a_fixed_size_list_past_its_values_is_refused_naming_the_field(
    c_helpers: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyarrow 26 validates `pa.Array.from_buffers(fixed_size_list, offset=1, children=[one
    row's values])` and then reads past the values: the buffer encoder wrote the values, the
    general path raised a bare ValueError from a reshape (numbers), read garbage (messages) or
    raised SystemError (strings)."""
    monkeypatch.setattr(native, "AVAILABLE", c_helpers)
    registry = _registry_of(
        E="int32 k\n",
        Q="string s\nfloat64[3] q\n",
        M="string s\nt/E[2] q\n",
        S="string s\nstring[2] q\n",
        L="t/Q[] items\n",
    )
    values = {
        "Q": pa.array([1.0, 2.0, 3.0]),
        "M": pa.array([{"k": 1}, {"k": 2}], registry.codec("t/msg/E").arrow_type),
        "S": pa.array(["a", "b"]),
    }
    for name, child in values.items():
        codec = registry.codec(f"t/msg/{name}")
        kind = codec.arrow_type.field("q").type
        past = pa.Array.from_buffers(kind, 1, [None], offset=1, children=[child])
        row = _row(codec, s=pa.array(["a"]), q=past)
        row.validate(full=True)  # pyarrow takes it
        fast = codec._buffer_encoder()
        assert fast is None or fast.encode(row) is None, name  # S: none (string arrays)
        for encode in (codec.encode, codec.encode_many):
            with pytest.raises(ValueKindError, match=rf"^t/msg/{name}: field 'q': .*malformed"):
                encode(row)
        # the same list in bounds (a slice of two rows' values) is read as pyarrow reads it
        inside = pa.Array.from_buffers(
            kind, 1, [None], offset=1, children=[pa.concat_arrays([child, child])]
        )
        row = _row(codec, s=pa.array(["a"]), q=inside)
        assert codec.encode(row) == codec.encode(row.to_pylist()[0]) == codec.encode_many(row)[0]
    # inside an array of messages, in the second of two rows
    codec = registry.codec("t/msg/L")
    q_type = registry.codec("t/msg/Q").arrow_type
    # two elements' lists from offset 1 over two elements' values: the second reaches past them
    six = pa.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    past = pa.Array.from_buffers(q_type.field("q").type, 2, [None], offset=1, children=[six])
    items = pa.StructArray.from_arrays([pa.array(["a", "b"]), past], fields=list(q_type))
    rows = _row(codec, items=pa.ListArray.from_arrays(pa.array([0, 1, 2], pa.int32()), items))
    rows.validate(full=True)
    assert codec.encode(rows[:1]) == codec.encode({"items": [{"s": "a", "q": [4, 5, 6]}]})
    with pytest.raises(ValueKindError, match=r"^t/msg/L: field 'items\[0\]\.q': .*malformed"):
        codec.encode(rows[1:])
    with pytest.raises(ValueKindError, match=r"^t/msg/L: row 1: field 'items\[0\]\.q': "):
        codec.encode_many(rows)


@pytest.mark.parametrize("c_helpers", NATIVE_WAYS)
def test_a_fixed_layout_list_past_its_values_is_refused_naming_the_field(
    c_helpers: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same malformed list in a numbers-only type (fixed_layout.py's encode, which joins the
    buffers when their bytes add up to one row): it wrote the list's child values (1, 2, 3),
    which pyarrow does not read there. Also a fixed array of messages holding one."""
    monkeypatch.setattr(native, "AVAILABLE", c_helpers)
    registry = _registry_of(
        F="float64 a\nfloat64[3] q\n",
        V="float64[3] v\n",
        N="float64 a\nt/V[1] q\n",
    )
    for name, child in (
        ("F", pa.array([1.0, 2.0, 3.0])),
        ("N", pa.array([{"v": [1.0, 2.0, 3.0]}], registry.codec("t/msg/V").arrow_type)),
    ):
        codec = registry.codec(f"t/msg/{name}")
        kind = codec.arrow_type.field("q").type
        past = pa.Array.from_buffers(kind, 1, [None], offset=1, children=[child])
        row = _row(codec, a=pa.array([5.0]), q=past)
        row.validate(full=True)  # pyarrow takes it
        for encode in (codec.encode, codec.encode_many):
            with pytest.raises(ValueKindError, match=rf"^t/msg/{name}: field 'q': .*malformed"):
                encode(row)
        inside = pa.Array.from_buffers(
            kind, 1, [None], offset=1, children=[pa.concat_arrays([child, child])]
        )
        row = _row(codec, a=pa.array([5.0]), q=inside)
        assert codec.encode(row) == codec.encode(row.to_pylist()[0]) == codec.encode_many(row)[0]


def _not_utf8(*texts: bytes) -> pa.Array:
    """A string array of `texts` as they are (pa.array checks UTF-8; from_buffers does not)."""
    ends = np.cumsum([0, *map(len, texts)]).astype(np.int32)
    return pa.Array.from_buffers(
        pa.string(), len(texts), [None, pa.py_buffer(ends), pa.py_buffer(b"".join(texts))]
    )


@pytest.mark.parametrize("c_helpers", NATIVE_WAYS)
def test_a_string_that_is_not_utf8_is_refused_naming_the_field(
    c_helpers: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bad UTF-8 in an Arrow string: pyarrow's to_pylist raised a bare UnicodeDecodeError from
    encode and encode_many (with or without the C helpers, which leave it to Python)."""
    monkeypatch.setattr(native, "AVAILABLE", c_helpers)
    registry = _registry_of(S="string s\nint32 k\n", W="t/S inner\nt/S[] items\nfloat64[] v\n")
    codec = registry.codec("t/msg/S")
    row = _row(codec, s=_not_utf8(b"\xff\xfe"), k=pa.array([1], pa.int32()))
    for encode in (codec.encode, codec.encode_many):
        with pytest.raises(ValueKindError, match=r"^t/msg/S: field 's': .*not valid UTF-8"):
            encode(row)
    codec = registry.codec("t/msg/W")
    s_type = registry.codec("t/msg/S").arrow_type
    good = pa.array([{"s": "ok", "k": 1}], s_type)
    items = pa.StructArray.from_arrays(
        [_not_utf8(b"fine", "é".encode(), b"\xc3("), pa.array([1, 2, 3], pa.int32())],
        fields=list(s_type),
    )
    rows = _row(
        codec,
        inner=pa.concat_arrays([good, good]),
        items=pa.ListArray.from_arrays(pa.array([0, 1, 3], pa.int32()), items),
        v=pa.array([[1.0], [2.0, 3.0]]),
    )
    assert codec.encode(rows[:1]) == codec.encode(
        {"inner": {"s": "ok", "k": 1}, "items": [{"s": "fine", "k": 1}], "v": [1.0]}
    )
    with pytest.raises(ValueKindError, match=r"^t/msg/W: field 'items\[1\]\.s': .*UTF-8"):
        codec.encode(rows[1:])
    with pytest.raises(ValueKindError, match=r"^t/msg/W: row 1: field 'items\[1\]\.s': "):
        codec.encode_many(rows)
    with pytest.raises(ValueKindError, match=r"^t/msg/W: row 1: field 'items\[1\]\.s': "):
        codec.encode_many(rows, as_arrow=True)
    bad_inner = pa.StructArray.from_arrays(
        [_not_utf8(b"\x80"), pa.array([1], pa.int32())], fields=list(s_type)
    )
    row = _row(
        codec,
        inner=bad_inner,
        items=pa.array([[]], codec.arrow_type.field("items").type),
        v=pa.array([[1.0]]),
    )
    with pytest.raises(ValueKindError, match=r"^t/msg/W: field 'inner\.s': .*UTF-8"):
        codec.encode(row)
