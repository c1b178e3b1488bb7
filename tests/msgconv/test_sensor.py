"""`dora_ros.msgconv.sensor` against messages made and read by rclpy (in its own process).

Images of every listed encoding with padded rows and both byte orders, point clouds with padding in
points and rows, and Time/Duration values go rclpy -> CDR -> msgconv -> numpy/Arrow, and back
numpy -> msgconv -> CDR -> rclpy; views are checked to share the message's memory.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from dora_ros import msgconv
from dora_ros.msgconv import sensor
from tests.msgconv.rclpy_reference import RclpyReference

IMAGE = "sensor_msgs/msg/Image"
CLOUD = "sensor_msgs/msg/PointCloud2"
PAD = 0xEE


@pytest.fixture(scope="module")
def rclpy_ref() -> Iterator[RclpyReference]:
    with RclpyReference() as ref:
        yield ref


def _header(sec: int = 0, nanosec: int = 0, frame_id: str = "") -> dict[str, Any]:
    return {"stamp": {"sec": sec, "nanosec": nanosec}, "frame_id": frame_id}


def _aligned(blob: bytes) -> tuple[np.ndarray, memoryview]:
    raw = np.zeros(len(blob) + 16, np.uint8)
    start = (-(raw.ctypes.data + 4)) % 8
    view = raw[start : start + len(blob)]
    view[:] = np.frombuffer(blob, np.uint8)
    return view, memoryview(view)


ENCODINGS = [
    ("rgb8", "u1", 3),
    ("bgr8", "u1", 3),
    ("rgba8", "u1", 4),
    ("bgra8", "u1", 4),
    ("mono8", "u1", 1),
    ("mono16", "u2", 1),
    ("16UC1", "u2", 1),
    ("32FC1", "f4", 1),
    ("yuv422", "u1", 2),
]


@pytest.mark.parametrize(("encoding", "element", "channels"), ENCODINGS)
@pytest.mark.parametrize("big", [False, True])
def test_image_from_rclpy_is_a_view_of_the_bytes(
    rclpy_ref: RclpyReference, encoding: str, element: str, channels: int, big: bool
) -> None:
    height, width = 3, 5
    rng = np.random.default_rng(1)
    pixels = (rng.random((height, width, channels)) * 200).astype(element)
    order = ">" if big else "<"
    row = width * channels * pixels.itemsize
    step = row + 6  # padding at the end of every row
    data = b"".join(
        pixels[r].astype(order + element).tobytes() + bytes([PAD] * 6) for r in range(height)
    )
    value = {
        "header": _header(1, 2, "cam"),
        "height": height,
        "width": width,
        "encoding": encoding,
        "is_bigendian": int(big),
        "step": step,
        "data": list(data),
    }
    (blob,) = rclpy_ref.serialize(IMAGE, [value])
    memory, view = _aligned(blob)
    image = msgconv.decode(IMAGE, view)
    array = sensor.image_to_numpy(image)
    assert array.shape == (height, width, channels)
    assert np.array_equal(array, pixels)
    assert np.shares_memory(array, memory)  # no copy: a view of the received bytes
    assert array.strides[0] == step
    # the same from a StructScalar and from a dict
    assert np.array_equal(sensor.image_to_numpy(image[0]), pixels)
    as_dict = dict(value, data=np.frombuffer(data, np.uint8))
    assert np.array_equal(sensor.image_to_numpy(as_dict), pixels)


@pytest.mark.parametrize(("encoding", "element", "channels"), ENCODINGS)
def test_image_from_numpy_reads_back_in_rclpy(
    rclpy_ref: RclpyReference, encoding: str, element: str, channels: int
) -> None:
    rng = np.random.default_rng(2)
    pixels = (rng.random((4, 6, channels)) * 200).astype(element)
    stamp = dt.datetime(2025, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone.utc)
    image = sensor.image_from_numpy(pixels, encoding, frame_id="cam", stamp=stamp)
    assert image.type == msgconv.arrow_type(IMAGE)
    # the data points at the array's memory
    assert image.field("data").flatten().buffers()[1].address == pixels.ctypes.data
    (got,) = rclpy_ref.deserialize(IMAGE, [msgconv.encode(IMAGE, image)])
    assert got["height"] == 4 and got["width"] == 6 and got["encoding"] == encoding
    assert got["step"] == 6 * channels * pixels.itemsize
    assert got["is_bigendian"] == int(not np.little_endian and pixels.itemsize > 1)
    assert bytes(got["data"]) == pixels.tobytes()
    assert got["header"] == _header(int(stamp.timestamp()), 123456000, "cam")
    if channels == 1:  # a 2-D array is a one-channel image
        again = sensor.image_from_numpy(pixels[:, :, 0], encoding)
        assert np.array_equal(sensor.image_to_numpy(again), pixels)


def test_image_mistakes_are_named() -> None:
    with pytest.raises(msgconv.ValueKindError, match="'rgb9' is not an image encoding"):
        sensor.image_from_numpy(np.zeros((2, 2, 3), np.uint8), "rgb9")
    with pytest.raises(msgconv.ValueKindError, match=r"needs an \(height, width, 3\) array"):
        sensor.image_from_numpy(np.zeros((2, 2, 4), np.uint8), "rgb8")
    with pytest.raises(msgconv.ValueKindError, match="needs uint16 elements, got uint8"):
        sensor.image_from_numpy(np.zeros((2, 2), np.uint8), "mono16")
    short = {"height": 2, "width": 2, "encoding": "mono8", "is_bigendian": 0, "step": 3}
    with pytest.raises(msgconv.ArrayLengthError, match="field 'data': 4 bytes, but 2 rows"):
        sensor.image_to_numpy(dict(short, data=b"\0" * 4))
    with pytest.raises(msgconv.ArrayLengthError, match="field 'step': 1 bytes is shorter"):
        sensor.image_to_numpy(dict(short, step=1, data=b"\0" * 4))


def test_compressed_image_bytes(rclpy_ref: RclpyReference) -> None:
    jpeg = b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9"
    value = {"header": _header(), "format": "jpeg", "data": list(jpeg)}
    (blob,) = rclpy_ref.serialize("sensor_msgs/msg/CompressedImage", [value])
    message = msgconv.decode("sensor_msgs/msg/CompressedImage", blob)
    data = sensor.compressed_image_bytes(message)
    assert data.tobytes() == jpeg
    assert np.shares_memory(data, message.field("data").flatten().to_numpy())


def _cloud_value(big: bool, height: int, width: int) -> tuple[dict[str, Any], list[tuple]]:
    """x, y, z float32 at 0, 4, 8, intensity uint16 at 12, ring uint8 at 14, a byte of padding
    in each point (point_step 16) and 8 at the end of each row."""
    order = ">" if big else "<"
    points = []
    data = b""
    for r in range(height):
        for c in range(width):
            point = (r + c * 0.5, -c, 2.25 * r, 100 * r + c, c % 7)
            points.append(point)
            data += struct.pack(order + "fffHB", *point) + bytes([PAD])
        data += bytes([PAD] * 8)
    fields = [
        {"name": "x", "offset": 0, "datatype": 7, "count": 1},
        {"name": "y", "offset": 4, "datatype": 7, "count": 1},
        {"name": "z", "offset": 8, "datatype": 7, "count": 1},
        {"name": "intensity", "offset": 12, "datatype": 4, "count": 1},
        {"name": "ring", "offset": 14, "datatype": 2, "count": 1},
    ]
    value = {
        "header": _header(3, 4, "lidar"),
        "height": height,
        "width": width,
        "fields": fields,
        "is_bigendian": big,
        "point_step": 16,
        "row_step": 16 * width + 8,
        "data": list(data),
        "is_dense": True,
    }
    return value, points


@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("height", [1, 3])
def test_cloud_from_rclpy_as_numpy_and_arrow(
    rclpy_ref: RclpyReference, big: bool, height: int
) -> None:
    value, points = _cloud_value(big, height, 4)
    if height == 1:
        value["row_step"] = 16 * 4  # rows without padding: a view, no copy
        value["data"] = value["data"][:-8]
    (blob,) = rclpy_ref.serialize(CLOUD, [value])
    memory, view = _aligned(blob)
    cloud = msgconv.decode(CLOUD, view)
    array = sensor.pointcloud2_to_numpy(cloud)
    assert array.dtype.names == ("x", "y", "z", "intensity", "ring")
    assert array.dtype.itemsize == 16
    assert len(array) == len(points)
    for name, column in zip(array.dtype.names, zip(*points, strict=True), strict=True):
        assert array[name].tolist() == list(column), name
    assert np.shares_memory(array, memory) == (height == 1)
    table = sensor.pointcloud2_to_arrow(cloud)
    assert table.column_names == ["x", "y", "z", "intensity", "ring"]
    assert table.schema.field("intensity").type == pa.uint16()
    assert table.column("z").to_pylist() == [p[2] for p in points]


def test_cloud_from_numpy_reads_back_in_rclpy(rclpy_ref: RclpyReference) -> None:
    # x, y, z, then intensity after 4 bytes of padding; point_step 32 with padding at the end
    dtype = np.dtype(
        {
            "names": ["x", "y", "z", "intensity", "normal"],
            "formats": ["<f4", "<f4", "<f4", "<f4", ("<f4", (3,))],
            "offsets": [0, 4, 8, 16, 20],
            "itemsize": 36,
        }
    )
    points = np.zeros(6, dtype)
    points["x"] = np.arange(6)
    points["intensity"] = np.linspace(0, 1, 6)
    points["normal"][:, 2] = 1
    cloud = sensor.pointcloud2_from_numpy(points, frame_id="lidar", height=2)
    assert cloud.field("data").flatten().buffers()[1].address == points.ctypes.data
    (got,) = rclpy_ref.deserialize(CLOUD, [msgconv.encode(CLOUD, cloud)])
    assert got["height"] == 2 and got["width"] == 3
    assert got["point_step"] == 36 and got["row_step"] == 108
    assert got["fields"] == [
        {"name": "x", "offset": 0, "datatype": 7, "count": 1},
        {"name": "y", "offset": 4, "datatype": 7, "count": 1},
        {"name": "z", "offset": 8, "datatype": 7, "count": 1},
        {"name": "intensity", "offset": 16, "datatype": 7, "count": 1},
        {"name": "normal", "offset": 20, "datatype": 7, "count": 3},
    ]
    assert bytes(got["data"]) == points.tobytes()
    assert got["is_bigendian"] is False and got["header"]["frame_id"] == "lidar"
    back = sensor.pointcloud2_to_numpy(msgconv.decode(CLOUD, msgconv.encode(CLOUD, cloud)))
    assert np.array_equal(back["normal"], points["normal"])
    # from Arrow columns: packed, no padding
    table = pa.table({"x": [1.0, 2.0], "i": pa.array([5, 6], pa.uint8())})
    packed = sensor.pointcloud2_from_arrow(table)
    (got,) = rclpy_ref.deserialize(CLOUD, [msgconv.encode(CLOUD, packed)])
    assert got["point_step"] == 9 and got["width"] == 2
    assert bytes(got["data"]) == struct.pack("<dBdB", 1.0, 5, 2.0, 6)


def test_cloud_mistakes_are_named() -> None:
    with pytest.raises(msgconv.ValueKindError, match="expected a numpy structured array"):
        sensor.pointcloud2_from_numpy(np.zeros(3))
    with pytest.raises(msgconv.ValueKindError, match="field 'n': int64 has no"):
        sensor.pointcloud2_from_numpy(np.zeros(3, [("n", "i8")]))
    with pytest.raises(msgconv.ValueKindError, match="height 2 does not divide 3 points"):
        sensor.pointcloud2_from_numpy(np.zeros(3, [("x", "f4")]), height=2)
    value, _ = _cloud_value(False, 1, 2)
    value["data"] = bytes(value["data"][:20])
    with pytest.raises(msgconv.ArrayLengthError, match="field 'data': 20 bytes"):
        sensor.pointcloud2_to_numpy(value)


def test_time_and_duration(rclpy_ref: RclpyReference) -> None:
    stamps = [{"sec": 1_700_000_000, "nanosec": 123_456_789}, {"sec": 0, "nanosec": 1}]
    blobs = rclpy_ref.serialize("builtin_interfaces/msg/Time", stamps)
    times = msgconv.decode_many("builtin_interfaces/msg/Time", blobs)
    arrow = sensor.time_to_arrow(times)
    assert arrow.type == pa.timestamp("ns", tz="UTC")
    assert arrow.cast(pa.int64()).to_pylist() == [1_700_000_000_123_456_789, 1]
    assert sensor.time_from_arrow(arrow).to_pylist() == stamps
    when = sensor.time_to_datetime(times[0])
    assert when == dt.datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=dt.timezone.utc)
    assert sensor.time_from_datetime(when) == {"sec": 1_700_000_000, "nanosec": 123_456_000}
    # a header's stamp column, straight from decode
    header = msgconv.decode("std_msgs/msg/Header", msgconv.encode("std_msgs/msg/Header", {}))
    assert sensor.time_to_arrow(header.field("stamp")).cast(pa.int64()).to_pylist() == [0]

    durations = [{"sec": -2, "nanosec": 500_000_000}, {"sec": 3, "nanosec": 0}]
    blobs = rclpy_ref.serialize("builtin_interfaces/msg/Duration", durations)
    decoded = msgconv.decode_many("builtin_interfaces/msg/Duration", blobs)
    arrow = sensor.duration_to_arrow(decoded)
    assert arrow.type == pa.duration("ns")
    assert arrow.cast(pa.int64()).to_pylist() == [-1_500_000_000, 3_000_000_000]
    assert sensor.duration_from_arrow(arrow).to_pylist() == durations
    assert sensor.duration_to_timedelta(decoded[0]) == dt.timedelta(seconds=-1.5)
    assert sensor.duration_from_timedelta(dt.timedelta(seconds=-1.5)) == durations[0]
    (back,) = rclpy_ref.deserialize(
        "builtin_interfaces/msg/Duration",
        [msgconv.encode("builtin_interfaces/msg/Duration", durations[0])],
    )
    assert back == durations[0]


def test_the_docs_examples_run() -> None:
    # docs/msgconv.md's three-line examples run as pasted: each block in an empty namespace (the
    # Image one given only the received `blob` it starts from), so a missing import fails here
    import re
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "msgconv.md").read_text()
    section = text[text.index("## Images, point clouds and times") :]
    first, second = re.findall(r"```python\n(.*?)```", section, re.DOTALL)[:2]
    for block in (first, second):
        code = [
            line
            for line in block.strip().splitlines()
            if line.strip() and not line.startswith(("import ", "from "))
        ]
        assert len(code) <= 3, block
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    blob = msgconv.encode(IMAGE, sensor.image_from_numpy(pixels, "rgb8"))
    names: dict[str, Any] = {"blob": blob}
    exec(first, names)
    assert np.array_equal(names["pixels"], pixels)
    # the comment's other case: a dora input's value for bytes a node sent is a uint8 array
    # (here a slice, as one of a batch); before, decode refused it ("got UInt8Array")
    padded = np.frombuffer(bytes(5) + blob, np.uint8)
    names = {"blob": pa.array(padded)[5:]}
    exec(first, names)
    assert np.array_equal(names["pixels"], pixels)
    assert np.shares_memory(names["pixels"], padded)  # read in place
    with pytest.raises(msgconv.CdrError, match="a message already decoded"):
        msgconv.decode(IMAGE, msgconv.decode(IMAGE, blob))  # a bridge output: use it as it is
    names = {}
    exec(second, names)
    cloud = msgconv.decode(CLOUD, names["blob"])
    assert cloud.field("width").to_pylist() == [1000]
    assert cloud.field("header").field("frame_id").to_pylist() == ["lidar"]
    assert len(sensor.pointcloud2_to_numpy(cloud)) == 1000


def test_image_from_numpy_of_other_byte_orders_and_strides(rclpy_ref: RclpyReference) -> None:
    # a big-endian array is sent as it is, marked is_bigendian; a strided view is copied once
    depth = (np.arange(12).reshape(3, 4) * 1000).astype(">u2")
    image = sensor.image_from_numpy(depth, "16UC1")
    assert image.field("data").flatten().buffers()[1].address == depth.ctypes.data
    (got,) = rclpy_ref.deserialize(IMAGE, [msgconv.encode(IMAGE, image)])
    assert got["is_bigendian"] == 1 and bytes(got["data"]) == depth.tobytes()
    assert np.array_equal(sensor.image_to_numpy(image)[:, :, 0], depth)
    rgb = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)[:, ::2]
    strided = sensor.image_from_numpy(rgb, "rgb8")
    (got,) = rclpy_ref.deserialize(IMAGE, [msgconv.encode(IMAGE, strided)])
    assert got["width"] == 3 and got["step"] == 9
    assert bytes(got["data"]) == np.ascontiguousarray(rgb).tobytes()


def test_cloud_from_big_endian_numpy(rclpy_ref: RclpyReference) -> None:
    points = np.zeros(3, [("x", ">f4"), ("i", ">u2")])
    points["x"] = [1.5, -2.0, 3.25]
    points["i"] = [1, 500, 65535]
    cloud = sensor.pointcloud2_from_numpy(points)
    (got,) = rclpy_ref.deserialize(CLOUD, [msgconv.encode(CLOUD, cloud)])
    assert got["is_bigendian"] is True and bytes(got["data"]) == points.tobytes()
    back = sensor.pointcloud2_to_numpy(cloud)
    assert back["x"].tolist() == [1.5, -2.0, 3.25] and back["i"].tolist() == [1, 500, 65535]
    with pytest.raises(msgconv.ValueKindError, match="mixed byte orders"):
        sensor.pointcloud2_from_numpy(np.zeros(2, [("x", ">f4"), ("y", "<f4")]))


def _twist() -> pa.StructArray:
    twist = "geometry_msgs/msg/Twist"
    return msgconv.decode(twist, msgconv.encode(twist, {"linear": {"x": 1.0}}))


TIME = "builtin_interfaces/msg/Time"
DURATION = "builtin_interfaces/msg/Duration"
POINT_FIELD = "sensor_msgs/msg/PointField"
CLOUD_FIELDS = {"height": 1, "width": 1, "point_step": 4, "row_step": 4, "is_bigendian": False}
MISSING = [
    # (helper, argument, expected type, missing field): each once a KeyError (issue 11's review)
    (sensor.image_to_numpy, _twist, IMAGE, "height"),
    (sensor.image_to_numpy, lambda: {"height": 1, "width": 1, "step": 3}, IMAGE, "encoding"),
    (sensor.compressed_image_bytes, _twist, "sensor_msgs/msg/CompressedImage", "data"),
    (sensor.pointcloud2_to_numpy, _twist, CLOUD, "height"),
    (sensor.pointcloud2_to_arrow, lambda: {**CLOUD_FIELDS, "fields": []}, CLOUD, "data"),
    (
        sensor.pointcloud2_to_numpy,
        lambda: {**CLOUD_FIELDS, "data": b"1234", "fields": [{"name": "x", "datatype": 7}]},
        POINT_FIELD,
        "count",
    ),
    (sensor.time_to_datetime, lambda: {"sec": 1}, TIME, "nanosec"),
    (sensor.time_to_datetime, _twist, TIME, "sec"),
    (sensor.duration_to_timedelta, lambda: {"nanosec": 1}, DURATION, "sec"),
    (sensor.time_to_arrow, _twist, TIME, "sec"),
    (sensor.time_to_arrow, lambda: pa.array([{"sec": 1}]), TIME, "nanosec"),
    (sensor.duration_to_arrow, lambda: {"sec": 1}, DURATION, "nanosec"),
    (
        lambda stamp: sensor.image_from_numpy(np.zeros((1, 1, 1), np.uint8), "mono8", stamp=stamp),
        lambda: {"sec": 1},
        TIME,
        "nanosec",
    ),
]


@pytest.mark.parametrize(("helper", "make", "type_name", "field"), MISSING)
def test_a_message_without_a_field_the_helper_reads_is_named(
    helper: Any, make: Any, type_name: str, field: str
) -> None:
    with pytest.raises(msgconv.ValueKindError) as info:
        helper(make())
    message = str(info.value)
    assert message.startswith(f"{type_name}: field '{field}' is missing: expected "), message
    assert type_name in message.split("expected", 1)[1], message


def test_values_of_the_wrong_kind_are_named() -> None:
    cases = [
        (
            lambda: sensor.image_to_numpy({"height": "a"}),
            r"Image: field 'height': expected an integ",
        ),
        (lambda: sensor.time_to_datetime({"sec": None, "nanosec": 0}), "field 'sec': expected an"),
        (lambda: sensor.duration_to_arrow({"sec": 1, "nanosec": "x"}), "'nanosec': expected integ"),
        (lambda: sensor.time_from_arrow([1, 2]), "Time: expected an Arrow array of timestamps"),
        (lambda: sensor.time_from_arrow(pa.array([1])), "array of timestamps, got int64"),
        (lambda: sensor.duration_from_arrow(pa.array([1.0])), "array of durations, got double"),
        (lambda: sensor.time_from_datetime(5), "Time: expected a datetime, got int"),  # type: ignore[arg-type]
        (lambda: sensor.duration_from_timedelta("1 s"), "expected a timedelta, got str"),  # type: ignore[arg-type]
        (
            lambda: sensor.pointcloud2_to_numpy({**CLOUD_FIELDS, "fields": 3}),
            "field 'fields': expected a list of sensor_msgs/msg/PointField, got int",
        ),
        (
            lambda: sensor.pointcloud2_to_numpy({**CLOUD_FIELDS, "fields": [], "data": 2.5}),
            r"field 'data': expected bytes \(uint8\[\]\), got float",
        ),
    ]
    for call, match in cases:
        with pytest.raises(msgconv.ValueKindError, match=match):
            call()
