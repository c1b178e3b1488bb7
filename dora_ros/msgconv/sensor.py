"""numpy and Arrow views of the messages robots send most: images, point clouds and times.

What `cv_bridge` and `sensor_msgs_py` give a ROS node (neither is on pip for ROS 2), for the
values msgconv decodes and encodes:

- `image_to_numpy(image)`: a `sensor_msgs/Image` as an `(height, width, channels)` array that
  views the message's bytes (no copy), honouring `step` (row padding), `encoding` and
  `is_bigendian`; `image_from_numpy(array, encoding)` the other way, pointing at the array's
  memory. `compressed_image_bytes(msg)` gives a `sensor_msgs/CompressedImage`'s bytes.
- `pointcloud2_to_numpy(cloud)`: a `sensor_msgs/PointCloud2` as a numpy structured array, one
  record per point, named by `fields` at their `offset`s (padding between fields and at the end
  of a point is skipped by the dtype; padding at the end of a row by the strides), in the
  message's byte order; `pointcloud2_to_arrow(cloud)` as an Arrow table of one column per field;
  `pointcloud2_from_numpy(points)` and `pointcloud2_from_arrow(columns)` the other way.
- `builtin_interfaces/Time` and `Duration` <-> `pa.timestamp("ns")` / `pa.duration("ns")` columns,
  `datetime` and `timedelta`.

A message is given as msgconv gives it (a one-row `pa.StructArray`), or as a `pa.StructScalar` or
a dict; `*_from_*` return a one-row `pa.StructArray` of the message type, which `msgconv.encode`
and a dora node's `send_output` take as is. A value that is not the message a helper reads (a
decoded Twist given to `image_to_numpy`, `{"sec": 1}` as a Time, a field of the wrong kind) is a
`ValueKindError` naming the type expected and the field missing or wrong, never a KeyError.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import ArrayLengthError, ValueKindError, a_or_an
from .registry import default_registry

__all__ = [
    "POINT_FIELD_TYPES",
    "compressed_image_bytes",
    "duration_from_arrow",
    "duration_from_timedelta",
    "duration_to_arrow",
    "duration_to_timedelta",
    "image_from_numpy",
    "image_to_numpy",
    "pointcloud2_from_arrow",
    "pointcloud2_from_numpy",
    "pointcloud2_to_arrow",
    "pointcloud2_to_numpy",
    "time_from_arrow",
    "time_from_datetime",
    "time_to_arrow",
    "time_to_datetime",
]

IMAGE = "sensor_msgs/msg/Image"
CLOUD = "sensor_msgs/msg/PointCloud2"
TIME = "builtin_interfaces/msg/Time"
DURATION = "builtin_interfaces/msg/Duration"
NS = 1_000_000_000

# encoding -> (element type, channels); the names of sensor_msgs/image_encodings.hpp
_ENCODINGS: dict[str, tuple[str, int]] = {
    "rgb8": ("u1", 3),
    "bgr8": ("u1", 3),
    "rgba8": ("u1", 4),
    "bgra8": ("u1", 4),
    "rgb16": ("u2", 3),
    "bgr16": ("u2", 3),
    "rgba16": ("u2", 4),
    "bgra16": ("u2", 4),
    "mono8": ("u1", 1),
    "mono16": ("u2", 1),
    # two bytes a pixel (Y and alternately U or V), given as bytes: (h, w, 2) of uint8
    "yuv422": ("u1", 2),
    "uyvy": ("u1", 2),
    "yuv422_yuy2": ("u1", 2),
    "yuyv": ("u1", 2),
    **{f"bayer_{p}8": ("u1", 1) for p in ("rggb", "bggr", "gbrg", "grbg")},
    **{f"bayer_{p}16": ("u2", 1) for p in ("rggb", "bggr", "gbrg", "grbg")},
}
_GENERIC = re.compile(r"^(8|16|32|64)([USF])C([1-9][0-9]*)$")  # 8UC3, 16UC1, 32FC1, 64FC2 ...


def _encoding(encoding: str) -> tuple[np.dtype[Any], int]:
    """The element dtype (native order) and channel count of an image encoding."""
    known = _ENCODINGS.get(encoding)
    if known is not None:
        return np.dtype(known[0]), known[1]
    m = _GENERIC.match(encoding)
    if m is not None:
        bits, kind, channels = int(m[1]), m[2], int(m[3])
        code = {"U": "u", "S": "i", "F": "f"}[kind]
        if (kind == "F" and bits in (32, 64)) or (kind != "F" and bits != 64):
            return np.dtype(f"{code}{bits // 8}"), channels
    raise ValueKindError(
        f"{IMAGE}: field 'encoding': '{encoding}' is not an image encoding this converts "
        f"({', '.join(sorted(_ENCODINGS))}, or [8|16|32][U|S]Cn, [32|64]FCn)"
    )


# --- reading a message -----------------------------------------------------------------------


def _message(value: Any, type_name: str) -> Any:
    """A one-row StructArray, a StructScalar or a Mapping, as a StructScalar or the Mapping."""
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if isinstance(value, pa.StructArray):
        if len(value) != 1:
            raise ValueKindError(f"{type_name}: expected one message, got an array of {len(value)}")
        return value[0]
    if isinstance(value, (pa.StructScalar, Mapping)):
        return value
    raise ValueKindError(
        f"{type_name}: expected a message (a one-row pa.StructArray, a pa.StructScalar or a "
        f"dict), got {type(value).__name__}"
    )


def _field(message: Any, name: str, type_name: str) -> Any:
    """Field `name` of a message (a StructScalar or a Mapping), or a ValueKindError naming it."""
    try:
        return message[name]
    except (KeyError, IndexError, TypeError):
        try:
            have = ", ".join(f"'{k}'" for k in message.keys()) or "none"
        except (AttributeError, TypeError):
            have = "none"
        raise ValueKindError(
            f"{type_name}: field '{name}' is missing: expected {a_or_an(type_name)} message, got "
            f"one with fields {have}"
        ) from None


def _get(message: Any, name: str, type_name: str) -> Any:
    """A plain field of a message (a Python value)."""
    value = _field(message, name, type_name)
    return value.as_py() if isinstance(value, pa.Scalar) else value


def _int(message: Any, name: str, type_name: str) -> int:
    """An integer field of a message."""
    value = _get(message, name, type_name)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueKindError(
            f"{type_name}: field '{name}': expected an integer, got {value!r}"
        ) from None


def _bytes(message: Any, name: str, type_name: str) -> np.ndarray:
    """A `uint8[]` field as a read-only uint8 numpy array over the message's memory."""
    value = _field(message, name, type_name)
    if isinstance(value, pa.ListScalar):
        values = value.values
        if values is None:
            return np.empty(0, np.uint8)
        return values.to_numpy(zero_copy_only=True)
    if isinstance(value, np.ndarray):
        return value.reshape(-1).view(np.uint8) if value.flags.c_contiguous else value
    try:
        return np.frombuffer(value, np.uint8)
    except TypeError:
        pass
    try:
        array = np.asarray(value, np.uint8)
    except (TypeError, ValueError, OverflowError):
        array = None
    if array is None or array.ndim != 1:
        raise ValueKindError(
            f"{type_name}: field '{name}': expected bytes (uint8[]), got {type(value).__name__}"
        )
    return array


# --- Image -------------------------------------------------------------------------------------


def image_to_numpy(image: Any) -> np.ndarray:
    """A `sensor_msgs/Image` as an `(height, width, channels)` numpy array viewing its bytes.

    No copy: rows `step` bytes apart (padding at the end of a row is skipped by the strides), in
    the message's byte order (`is_bigendian`). Mono images have one channel (`[..., 0]` for 2-D).
    The array is read-only when the message's memory is (as a decoded message's is).

    Raises:
        ValueKindError: not an Image (a field missing or of the wrong kind), or an encoding it
            does not know.
        ArrayLengthError: `data` is shorter than `height` rows of `step` bytes, or `step` is
            shorter than a row of `width` pixels.
    """
    message = _message(image, IMAGE)
    height, width = _int(message, "height", IMAGE), _int(message, "width", IMAGE)
    step, encoding = _int(message, "step", IMAGE), str(_get(message, "encoding", IMAGE))
    element, channels = _encoding(encoding)
    if _get(message, "is_bigendian", IMAGE):
        element = element.newbyteorder(">")
    else:
        element = element.newbyteorder("<")
    data = _bytes(message, "data", IMAGE)
    row = width * channels * element.itemsize
    if step < row:
        raise ArrayLengthError(
            f"{IMAGE}: field 'step': {step} bytes is shorter than a row of {width} {encoding} "
            f"pixels ({row} bytes)"
        )
    needed = step * (height - 1) + row if height else 0
    if len(data) < needed:
        raise ArrayLengthError(
            f"{IMAGE}: field 'data': {len(data)} bytes, but {height} rows of step {step} need "
            f"{needed}"
        )
    return np.ndarray(
        (height, width, channels),
        element,
        buffer=data,
        strides=(step, channels * element.itemsize, element.itemsize),
    )


def image_from_numpy(
    array: np.ndarray,
    encoding: str,
    frame_id: str = "",
    stamp: Any = None,
) -> pa.StructArray:
    """A one-row `sensor_msgs/Image` of an `(height, width[, channels])` array, pointing at the
    array's memory when it is C-contiguous (else one copy). `stamp`: a `datetime`, a
    `pa.TimestampScalar` or a `{"sec", "nanosec"}` dict (default zero).

    Raises:
        ValueKindError: an unknown encoding, or an array whose dtype or channels do not match it.
    """
    element, channels = _encoding(encoding)
    array = np.asarray(array)
    if array.ndim == 2 and channels == 1:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] != channels:
        raise ValueKindError(
            f"{IMAGE}: encoding '{encoding}' needs an (height, width, {channels}) array, got shape "
            f"{array.shape}"
        )
    if array.dtype.newbyteorder("=") != element.newbyteorder("="):
        raise ValueKindError(
            f"{IMAGE}: encoding '{encoding}' needs {element.name} elements, got {array.dtype}"
        )
    big = array.dtype.byteorder == ">" or (array.dtype.byteorder == "=" and not _LITTLE)
    array = np.ascontiguousarray(array)
    height, width = array.shape[:2]
    row = {
        "header": {"stamp": _time_dict(stamp), "frame_id": frame_id},
        "height": height,
        "width": width,
        "encoding": encoding,
        "is_bigendian": int(big and element.itemsize > 1),
        "step": width * channels * element.itemsize,
        "data": array.reshape(-1).view(np.uint8),
    }
    return default_registry().codec(IMAGE).to_arrow([row])


_LITTLE = np.little_endian


def compressed_image_bytes(image: Any) -> np.ndarray:
    """The `data` of a `sensor_msgs/CompressedImage` (its `format` says jpeg or png) as a uint8
    array viewing the message's memory, for `cv2.imdecode` or `PIL.Image.open(io.BytesIO(...))`."""
    compressed = "sensor_msgs/msg/CompressedImage"
    return _bytes(_message(image, compressed), "data", compressed)


# --- PointCloud2 -------------------------------------------------------------------------------

# sensor_msgs/PointField datatypes
POINT_FIELD_TYPES: dict[int, str] = {
    1: "i1",
    2: "u1",
    3: "i2",
    4: "u2",
    5: "i4",
    6: "u4",
    7: "f4",
    8: "f8",
}
_POINT_FIELD_CODES = {np.dtype("<" + v): k for k, v in POINT_FIELD_TYPES.items()}


def _cloud_dtype(fields: list[dict[str, Any]], point_step: int, big: bool) -> np.dtype[Any]:
    order = ">" if big else "<"
    names, formats, offsets = [], [], []
    point_field = "sensor_msgs/msg/PointField"
    for f in fields:
        if not isinstance(f, Mapping):
            raise ValueKindError(
                f"{CLOUD}: field 'fields': expected {point_field} messages, got {type(f).__name__}"
            )
        datatype = _int(f, "datatype", point_field)
        code = POINT_FIELD_TYPES.get(datatype)
        if code is None:
            raise ValueKindError(
                f"{CLOUD}: field 'fields': '{f.get('name')}' has datatype {datatype}, not one of "
                "sensor_msgs/PointField's 1..8"
            )
        count = _int(f, "count", point_field)
        element = np.dtype(order + code)
        formats.append(element if count == 1 else np.dtype((element, (count,))))
        names.append(str(_get(f, "name", point_field)))
        offsets.append(_int(f, "offset", point_field))
    try:
        return np.dtype(
            {"names": names, "formats": formats, "offsets": offsets, "itemsize": point_step}
        )
    except ValueError as err:  # overlapping or past point_step, a name twice
        raise ValueKindError(f"{CLOUD}: fields do not fit point_step {point_step}: {err}") from None


def pointcloud2_to_numpy(cloud: Any) -> np.ndarray:
    """The points of a `sensor_msgs/PointCloud2` as a 1-D numpy structured array
    (`height * width` records; `points["x"]`), viewing the message's bytes.

    Fields are read at their `offset`s in the message's byte order (`is_bigendian`); padding in a
    point is skipped by the dtype (its itemsize is `point_step`). Rows padded beyond
    `width * point_step` (`row_step`) are gathered with one copy; otherwise there is none.

    Raises:
        ValueKindError: not a PointCloud2 (a field missing or of the wrong kind), an unknown
            datatype, or fields that do not fit `point_step`.
        ArrayLengthError: `data` shorter than `height` rows of `row_step` bytes.
    """
    message = _message(cloud, CLOUD)
    height, width = _int(message, "height", CLOUD), _int(message, "width", CLOUD)
    point_step, row_step = _int(message, "point_step", CLOUD), _int(message, "row_step", CLOUD)
    fields = _get(message, "fields", CLOUD)
    try:
        fields = list(fields)
    except TypeError:
        raise ValueKindError(
            f"{CLOUD}: field 'fields': expected a list of sensor_msgs/msg/PointField, got "
            f"{type(fields).__name__}"
        ) from None
    dtype = _cloud_dtype(fields, point_step, bool(_get(message, "is_bigendian", CLOUD)))
    data = _bytes(message, "data", CLOUD)
    row = width * point_step
    if row_step < row:
        raise ArrayLengthError(
            f"{CLOUD}: field 'row_step': {row_step} is shorter than {width} points of "
            f"{point_step} bytes"
        )
    needed = row_step * (height - 1) + row if height else 0
    if len(data) < needed:
        raise ArrayLengthError(
            f"{CLOUD}: field 'data': {len(data)} bytes, but {height} rows of row_step {row_step} "
            f"need {needed}"
        )
    if height <= 1 or row_step == row:
        return np.ndarray((height * width,), dtype, buffer=data)
    rows = np.ndarray((height, width), dtype, buffer=data, strides=(row_step, point_step))
    return rows.reshape(-1)  # a copy: the rows are not contiguous


def pointcloud2_to_arrow(cloud: Any) -> pa.Table:
    """The points of a `sensor_msgs/PointCloud2` as an Arrow table, one column per field (a
    field with `count` > 1 becomes a fixed-size list column). Each column is one copy of its
    values, in the machine's byte order."""
    points = pointcloud2_to_numpy(cloud)
    assert points.dtype.names is not None
    columns = {}
    for name in points.dtype.names:
        column = np.ascontiguousarray(points[name]).astype(
            points.dtype[name].base.newbyteorder("="), copy=False
        )
        if column.ndim == 1:
            columns[name] = pa.array(column)
        else:
            flat = pa.array(column.reshape(-1))
            columns[name] = pa.FixedSizeListArray.from_arrays(flat, column.shape[1])
    return pa.table(columns)


def pointcloud2_from_numpy(
    points: np.ndarray,
    frame_id: str = "",
    stamp: Any = None,
    height: int = 1,
    is_dense: bool = True,
) -> pa.StructArray:
    """A one-row `sensor_msgs/PointCloud2` of a numpy structured array of points (`fields` from
    its dtype's names, offsets and element types; `point_step` its itemsize, so padding is kept
    as it is), pointing at the array's memory when it is C-contiguous (else one copy).

    `height` > 1 makes an organized cloud of `len(points) // height` points a row. A field may be
    a sub-array (`("normal", "f4", 3)` gives `count` 3). All fields must share one byte order.

    Raises:
        ValueKindError: not a structured array, a field type PointField has no code for (int64,
            float16, ...), mixed byte orders, or a length that `height` does not divide.
    """
    points = np.asarray(points)
    if points.dtype.names is None:
        raise ValueKindError(
            f"{CLOUD}: expected a numpy structured array (dtype with named fields), got "
            f"{points.dtype}"
        )
    points = points.reshape(-1)
    names: tuple[str, ...] = points.dtype.names or ()
    fields, orders = [], set()
    for name in names:
        ftype, offset = points.dtype.fields[name][:2]  # type: ignore[index]
        base, shape = ftype.base, ftype.shape
        code = _POINT_FIELD_CODES.get(base.newbyteorder("<"))
        if code is None:
            raise ValueKindError(
                f"{CLOUD}: field '{name}': {base} has no sensor_msgs/PointField datatype "
                "(int8..uint32, float32, float64)"
            )
        if base.itemsize > 1:
            orders.add(base.byteorder if base.byteorder != "=" else ("<" if _LITTLE else ">"))
        count = int(np.prod(shape)) if shape else 1
        fields.append({"name": name, "offset": offset, "datatype": code, "count": count})
    if len(orders) > 1:
        raise ValueKindError(f"{CLOUD}: fields of mixed byte orders ({points.dtype})")
    if height < 1 or len(points) % height:
        raise ValueKindError(f"{CLOUD}: height {height} does not divide {len(points)} points")
    width = len(points) // height
    point_step = points.dtype.itemsize
    points = np.ascontiguousarray(points)
    row = {
        "header": {"stamp": _time_dict(stamp), "frame_id": frame_id},
        "height": height,
        "width": width,
        "fields": fields,
        "is_bigendian": orders == {">"},
        "point_step": point_step,
        "row_step": point_step * width,
        "data": points.view(np.uint8).reshape(-1),
        "is_dense": bool(is_dense),
    }
    return default_registry().codec(CLOUD).to_arrow([row])


def pointcloud2_from_arrow(
    columns: Any,
    frame_id: str = "",
    stamp: Any = None,
    height: int = 1,
    is_dense: bool = True,
) -> pa.StructArray:
    """A one-row `sensor_msgs/PointCloud2` of Arrow columns (a `pa.Table`, `pa.RecordBatch` or
    `pa.StructArray` of numeric and fixed-size list columns), packed without padding in the
    machine's byte order (one copy, as the interleaving needs)."""
    if isinstance(columns, pa.StructArray):
        columns = pa.RecordBatch.from_struct_array(columns)
    if not isinstance(columns, (pa.Table, pa.RecordBatch)):
        raise ValueKindError(
            f"{CLOUD}: expected a pa.Table, pa.RecordBatch or pa.StructArray of columns, got "
            f"{type(columns).__name__}"
        )
    formats: list[Any] = []
    values: list[np.ndarray] = []
    for name, column in zip(columns.column_names, columns.columns, strict=True):
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if pa.types.is_fixed_size_list(column.type):
            size = column.type.list_size
            flat = column.flatten().to_numpy(zero_copy_only=False).reshape(-1, size)
            formats.append((name, flat.dtype, (size,)))
            values.append(flat)
        else:
            array = column.to_numpy(zero_copy_only=False)
            formats.append((name, array.dtype))
            values.append(array)
    points = np.empty(columns.num_rows, np.dtype(formats))
    for (name, *_), array in zip(formats, values, strict=True):
        points[name] = array
    return pointcloud2_from_numpy(points, frame_id, stamp, height, is_dense)


# --- Time and Duration -------------------------------------------------------------------------


def _struct_column(value: Any, type_name: str) -> pa.StructArray:
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if isinstance(value, pa.StructScalar):
        value = pa.array([value.as_py()], type=value.type)
    if isinstance(value, Mapping):
        value = pa.array([dict(value)])
    if not isinstance(value, pa.StructArray):
        raise ValueKindError(
            f"{type_name}: expected a pa.StructArray of {{sec, nanosec}}, got {type(value).__name__}"
        )
    return value


def _int64_column(column: pa.StructArray, name: str, type_name: str) -> pa.Int64Array:
    """Field `name` of a struct column as int64, or a ValueKindError naming it."""
    try:
        child = column.field(name)
    except KeyError:
        have = ", ".join(f"'{f.name}'" for f in column.type) or "none"
        raise ValueKindError(
            f"{type_name}: field '{name}' is missing: expected {type_name} values (a struct of "
            f"sec, nanosec), got one with fields {have}"
        ) from None
    if not pa.types.is_integer(child.type):
        raise ValueKindError(f"{type_name}: field '{name}': expected integers, got {child.type}")
    return pc.cast(child, pa.int64())


def _nanoseconds(value: Any, type_name: str) -> pa.Int64Array:
    column = _struct_column(value, type_name)
    sec = _int64_column(column, "sec", type_name)
    nanosec = _int64_column(column, "nanosec", type_name)
    return pc.add(pc.multiply(sec, NS), nanosec)


def _cast(value: Any, to: pa.DataType, test: Any, type_name: str, what: str) -> pa.Array:
    """`value` (an Arrow array of `what`, for which `test(type)` holds) cast to `to`."""
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if not isinstance(value, pa.Array) or not test(value.type):
        kind = value.type if isinstance(value, pa.Array) else type(value).__name__
        raise ValueKindError(f"{type_name}: expected an Arrow array of {what}, got {kind}")
    return pc.cast(value, to)


def _split(ns: pa.Array, type_name: str) -> pa.StructArray:
    values = ns.cast(pa.int64()).to_numpy(zero_copy_only=False)
    sec, nanosec = np.divmod(values, NS)
    if len(sec) and (sec.min() < -(2**31) or sec.max() >= 2**31):
        raise ValueKindError(f"{type_name}: field 'sec': a time beyond int32 seconds")
    return pa.StructArray.from_arrays(
        [pa.array(sec.astype(np.int32)), pa.array(nanosec.astype(np.uint32))],
        names=["sec", "nanosec"],
    )


def time_to_arrow(times: Any) -> pa.TimestampArray:
    """`builtin_interfaces/Time` values (a StructArray of `sec`, `nanosec`, e.g. a decoded
    header's `stamp` column) as a `pa.timestamp("ns", tz="UTC")` array."""
    return _nanoseconds(times, TIME).cast(pa.timestamp("ns", tz="UTC"))


def time_from_arrow(timestamps: Any) -> pa.StructArray:
    """A timestamp array (any unit; naive is read as UTC) as `builtin_interfaces/Time` values."""
    tz = getattr(getattr(timestamps, "type", None), "tz", None)
    ns = _cast(timestamps, pa.timestamp("ns", tz=tz), pa.types.is_timestamp, TIME, "timestamps")
    return _split(ns.cast(pa.int64()), TIME)


def duration_to_arrow(durations: Any) -> pa.DurationArray:
    """`builtin_interfaces/Duration` values as a `pa.duration("ns")` array."""
    return _nanoseconds(durations, DURATION).cast(pa.duration("ns"))


def duration_from_arrow(durations: Any) -> pa.StructArray:
    """A duration array (any unit) as `builtin_interfaces/Duration` values."""
    ns = _cast(durations, pa.duration("ns"), pa.types.is_duration, DURATION, "durations")
    return _split(ns.cast(pa.int64()), DURATION)


def _time_dict(stamp: Any) -> dict[str, int]:
    if stamp is None:
        return {"sec": 0, "nanosec": 0}
    if isinstance(stamp, _dt.datetime):
        return time_from_datetime(stamp)
    if isinstance(stamp, pa.TimestampScalar):
        return dict(time_from_arrow(pa.array([stamp.value], stamp.type))[0].as_py())
    if isinstance(stamp, Mapping):
        return {"sec": _int(stamp, "sec", TIME), "nanosec": _int(stamp, "nanosec", TIME)}
    raise ValueKindError(
        f"header.stamp: expected a datetime, a pa.TimestampScalar or {{sec, nanosec}}, got "
        f"{type(stamp).__name__}"
    )


def time_to_datetime(time: Any) -> _dt.datetime:
    """One `builtin_interfaces/Time` as an aware UTC `datetime` (microseconds: the nanoseconds
    below a microsecond are dropped, as datetime cannot hold them)."""
    message = _message(time, TIME)
    ns = _int(message, "sec", TIME) * NS + _int(message, "nanosec", TIME)
    return _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc) + _dt.timedelta(
        microseconds=ns // 1000
    )


def time_from_datetime(when: _dt.datetime) -> dict[str, int]:
    """A `datetime` (naive is read as UTC) as a `builtin_interfaces/Time` dict."""
    if not isinstance(when, _dt.datetime):
        raise ValueKindError(f"{TIME}: expected a datetime, got {type(when).__name__}")
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    delta = when - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
    us = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    sec, rest = divmod(us, 1_000_000)
    return {"sec": sec, "nanosec": rest * 1000}


def duration_to_timedelta(duration: Any) -> _dt.timedelta:
    """One `builtin_interfaces/Duration` as a `timedelta` (to the microsecond, rounded down)."""
    message = _message(duration, DURATION)
    ns = _int(message, "sec", DURATION) * NS + _int(message, "nanosec", DURATION)
    return _dt.timedelta(microseconds=ns // 1000)


def duration_from_timedelta(delta: _dt.timedelta) -> dict[str, int]:
    """A `timedelta` as a `builtin_interfaces/Duration` dict (`nanosec` in 0..999999999, `sec`
    negative for a negative duration, as ROS writes it)."""
    if not isinstance(delta, _dt.timedelta):
        raise ValueKindError(f"{DURATION}: expected a timedelta, got {type(delta).__name__}")
    us = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    sec, rest = divmod(us, 1_000_000)
    return {"sec": sec, "nanosec": rest * 1000}
