"""How dora outputs become MCAP channels and messages, and back: shared by record and replay.

One MCAP channel per recorded output, its topic the output's `node/output` name:

- a value that is one ROS 2 message (a one-row struct array of exactly msgconv's Arrow type for
  the `ros2.type` its metadata names: what a `ros2:` bridge node sends) is written as CDR,
  `message_encoding: cdr`, under a `ros2msg` schema holding the message definition text as rosbag2
  writes it (the .msg file, then `MSG: pkg/msg/Dep` sections), so Foxglove, rosbag2's MCAP storage
  and `mcap-ros2-support` read it;
- any other value is one Arrow IPC stream (its schema, one record batch with a column `value`),
  `message_encoding: arrow.ipc`, with the message's dora metadata as JSON in the schema metadata
  (`dora.metadata`); pyarrow reads it with `pa.ipc.open_stream`. The MCAP schema of such a channel
  (`arrow.ipc.schema`) is the serialized Arrow schema of the value's type.

A channel's value type is fixed, so an output whose values change type gets one channel per type
(same topic). The dora timestamp of a message becomes its `publish_time`; `log_time` is when the
recorder received it. A CDR message keeps its value and `ros2.type`, not other per-message
metadata (MCAP messages have none); a channel whose type came from the graph rather than the
values' metadata says so (`ros2.type.source: graph`), and replay then sends no `ros2.type`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa

__all__ = [
    "ARROW_ENCODING",
    "ARROW_SCHEMA_ENCODING",
    "CDR_ENCODING",
    "METADATA_KEY",
    "ROS2MSG_ENCODING",
    "arrow_message",
    "arrow_schema_bytes",
    "read_arrow_message",
    "ros2msg_text",
    "ros_type_of",
]

CDR_ENCODING = "cdr"
ROS2MSG_ENCODING = "ros2msg"
ARROW_ENCODING = "arrow.ipc"
ARROW_SCHEMA_ENCODING = "arrow.ipc.schema"
METADATA_KEY = b"dora.metadata"
ROS_TYPE_KEY = "ros2.type"  # msgconv.ROS_TYPE_KEY, without importing msgconv for Arrow outputs
TYPE_SOURCE_KEY = "ros2.type.source"  # channel metadata: "graph" when no value named its type
_SEPARATOR = "=" * 80


def ros_type_of(value: Any, metadata: dict[str, Any], graph_type: str | None = None) -> str | None:
    """The ROS 2 type to write `value` as CDR, or None to write it as Arrow IPC.

    The type is the one its metadata names (`ros2.type`), else `graph_type` (what a `ros2:` node
    publishes it as). CDR only when the value is exactly one message of msgconv's Arrow type, so a
    replay decodes it back to the same array; anything else (several rows, another Arrow type)
    stays Arrow.
    """
    type_name = metadata.get(ROS_TYPE_KEY) or graph_type
    if not isinstance(type_name, str) or not isinstance(value, pa.StructArray) or len(value) != 1:
        return None
    from .. import msgconv

    try:
        expected = msgconv.arrow_type(type_name)
    except msgconv.MsgConvError:
        return None
    return type_name if value.type == expected and value.null_count == 0 else None


def ros2msg_text(type_name: str) -> str:
    """The `ros2msg` schema text of a message type, as rosbag2 writes it.

    The type's .msg file, then for each message it uses a line of 80 `=`, `MSG: pkg/msg/Type` and
    that file. A type defined in an .idl (no .msg text) is written from msgconv's definition.
    """
    from .. import msgconv

    registry = msgconv.default_registry()
    main = registry.message(type_name)
    parts = [_definition_text(main)]
    for used in registry.messages_used(main.name):
        if used.name != main.name:
            parts.append(f"{_SEPARATOR}\nMSG: {used.name}\n{_definition_text(used)}")
    return "\n".join(parts)


def _definition_text(definition: Any) -> str:
    source = definition.source
    if source and source.endswith(".msg"):
        return Path(source).read_text(encoding="utf-8").rstrip("\n")
    lines = [
        f"{constant.type} {constant.name}={_constant(constant.value)}"
        for constant in definition.constants
    ]
    for field in definition.fields:
        text = str(field.type).replace("/msg/", "/")
        lines.append(f"{text} {field.name}")
    return "\n".join(lines)


def _constant(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _metadata_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray)):
        return list(value)
    raise TypeError(f"metadata value {value!r} is not JSON")


def arrow_schema_bytes(value_type: pa.DataType) -> bytes:
    """The MCAP schema data of an Arrow channel: the serialized schema of a `value` column."""
    return bytes(pa.schema([pa.field("value", value_type)]).serialize())


def arrow_message(value: pa.Array, metadata: dict[str, Any]) -> bytes:
    """One value as an Arrow IPC stream, its dora metadata (without `timestamp`) in the schema."""
    kept = {k: v for k, v in metadata.items() if k != "timestamp"}
    encoded = json.dumps(kept, default=_metadata_default).encode()
    schema = pa.schema([pa.field("value", value.type)], metadata={METADATA_KEY: encoded})
    batch = pa.RecordBatch.from_arrays([value], schema=schema)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as stream:
        stream.write_batch(batch)
    return bytes(sink.getvalue())


def read_arrow_message(data: bytes | memoryview) -> tuple[pa.Array, dict[str, Any]]:
    """The value and metadata of an `arrow_message`."""
    table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    raw = (table.schema.metadata or {}).get(METADATA_KEY, b"{}")
    column = table.column("value")
    value = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return value, json.loads(raw)
