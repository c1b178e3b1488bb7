"""`arrow_text`: how `topic echo` prints Arrow values (YAML-like and JSON), checked line by line."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa

from dora_ros import msgconv
from dora_ros.tools.arrow_text import to_json, to_yaml


def _cloud() -> pa.StructArray:
    row = msgconv.default_value("sensor_msgs/msg/PointCloud2").to_pylist()[0]
    row["fields"] = [
        {"name": "x", "offset": 0, "datatype": 7, "count": 1},
        {"name": "y", "offset": 4, "datatype": 7, "count": 1},
    ]
    row["data"] = list(range(40))
    row["header"]["frame_id"] = "lidar: front"
    return pa.array([row], msgconv.arrow_type("sensor_msgs/msg/PointCloud2"))


def test_a_message_prints_as_nested_blocks_with_long_lists_summarised() -> None:
    assert to_yaml(_cloud()).splitlines() == [
        "header:",
        "  stamp:",
        "    sec: 0",
        "    nanosec: 0",
        '  frame_id: "lidar: front"',
        "height: 0",
        "width: 0",
        "fields:",
        "  - name: x",
        "    offset: 0",
        "    datatype: 7",
        "    count: 1",
        "  - name: y",
        "    offset: 4",
        "    datatype: 7",
        "    count: 1",
        "is_bigendian: false",
        "point_step: 0",
        "row_step: 0",
        "data: <40 x uint8> [0, 1, 2, 3, 4, 5, 6, 7, ...]",
        "is_dense: false",
    ]
    raw = to_yaml(_cloud(), raw=True).splitlines()
    assert f"data: [{', '.join(str(i) for i in range(40))}]" in raw


def test_json_summarises_unless_raw_and_is_valid_json() -> None:
    short = to_json(_cloud())
    assert short["data"] == {"length": 40, "type": "uint8", "first": list(range(8))}
    assert short["fields"][1] == {"name": "y", "offset": 4, "datatype": 7, "count": 1}
    assert to_json(_cloud(), raw=True)["data"] == list(range(40))
    json.dumps(short)


def test_plain_values_nulls_and_special_floats() -> None:
    assert to_yaml(pa.array([1, 2, 3])) == "[1, 2, 3]"
    assert to_yaml(pa.array(np.arange(100, dtype=np.float32))).startswith(
        "<100 x float> [0.0, 1.0, "
    )
    value = pa.array(
        [{"a": None, "b": math.nan, "c": "true", "d": "12", "e": b"\x00\x01"}],
        pa.struct(
            [("a", pa.int32()), ("b", pa.float64()), ("c", pa.string()), ("d", pa.string()),
             ("e", pa.binary())]
        ),
    )  # fmt: skip
    assert to_yaml(value).splitlines() == [
        "a: null",
        "b: .nan",
        'c: "true"',  # quoted: it is a string, not YAML's true
        'd: "12"',
        'e: "\\u0000\\u0001"',
    ]
    assert to_json(value) == {"a": None, "b": "nan", "c": "true", "d": "12", "e": "AAE="}
