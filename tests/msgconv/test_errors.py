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
