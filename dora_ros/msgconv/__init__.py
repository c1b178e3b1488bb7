"""ROS 2 interface types <-> Arrow schemas and CDR bytes, at run time, for every installed type.

Public API (module level, on a shared `TypeRegistry`):

- `arrow_type(type_name) -> pa.StructType`; `arrow_field(type_name)` -> a `pa.Field` of it whose
  metadata names the ROS type (`b"ros2.type"`)
- `default_value(type_name) -> pa.StructArray` (one row of ROS default values)
- `encode(type_name, value) -> bytes`, `encode_many(type_name, struct_array) -> list[bytes]` (or `pa.BinaryArray`)
- `decode(type_name, data) -> pa.StructArray`, `decode_many(type_name, buffers) -> pa.StructArray`
- `resolve(type_name, context=None)`: the parsed definition (fields, bounds, constants, keys) of a
  message, service or action; `message_definition(type_name)` for a message only;
  `add_search_path(folder)` for folders of the user's own .msg files; `default_registry()`.

See docs/msgconv.md for the Arrow mapping, the type-name forms, errors and zero-copy rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, overload

import pyarrow as pa

from .arrow_schema import default_dict
from .definitions import (
    PRIMITIVES,
    ActionDefinition,
    Constant,
    Field,
    FieldType,
    MessageDefinition,
    ServiceDefinition,
)
from .errors import (
    ArrayLengthError,
    BoundError,
    CdrError,
    DefinitionError,
    MsgConvError,
    OutOfRangeError,
    UnknownFieldError,
    UnknownTypeError,
    ValueKindError,
)
from .registry import Definition, TypeRegistry, add_search_path, default_registry

__all__ = [
    "PRIMITIVES",
    "ROS_TYPE_KEY",
    "ActionDefinition",
    "ArrayLengthError",
    "BoundError",
    "CdrError",
    "Constant",
    "Definition",
    "DefinitionError",
    "Field",
    "FieldType",
    "MessageDefinition",
    "MsgConvError",
    "OutOfRangeError",
    "ServiceDefinition",
    "TypeRegistry",
    "UnknownFieldError",
    "UnknownTypeError",
    "ValueKindError",
    "add_search_path",
    "arrow_field",
    "arrow_type",
    "constants",
    "decode",
    "decode_many",
    "default_registry",
    "default_value",
    "encode",
    "encode_many",
    "message_definition",
    "resolve",
]


def resolve(type_name: str, context: str | None = None) -> Definition:
    """The parsed definition of a message, service or action (see `TypeRegistry.resolve`)."""
    return default_registry().resolve(type_name, context)


def message_definition(type_name: str, context: str | None = None) -> MessageDefinition:
    """The parsed definition of a message type (a part, for services and actions)."""
    return default_registry().message(type_name, context)


def constants(type_name: str) -> dict[str, bool | int | float | str]:
    """The constants of a message type by name (`sensor_msgs/NavSatStatus` -> {'STATUS_FIX': 0, ...})."""
    return default_registry().message(type_name).constants_dict


def arrow_type(type_name: str) -> pa.StructType:
    """The Arrow struct type of a ROS 2 message type (UnknownTypeError with close matches)."""
    return default_registry().arrow_type(type_name)


ROS_TYPE_KEY = "ros2.type"
"""The key of the Arrow field metadata that names a value's ROS 2 type (`arrow_field`)."""


def arrow_field(type_name: str, name: str | None = None) -> pa.Field:
    """A `pa.Field` of the message's struct type whose metadata names its ROS 2 type.

    A `pa.StructType` carries no name, so a schema or a dora output that must say which ROS type
    it holds uses this field: `metadata[b"ros2.type"]` is the canonical name
    (`geometry_msgs/msg/Twist`). `name` is the field's name (default: the canonical type name).
    """
    registry = default_registry()
    canonical = registry.message(type_name).name
    return pa.field(
        canonical if name is None else name,
        registry.arrow_type(type_name),
        metadata={ROS_TYPE_KEY: canonical},
    )


def default_value(type_name: str) -> pa.StructArray:
    """A one-row struct array holding the message's ROS default values."""
    registry = default_registry()
    definition = registry.message(type_name)
    return pa.array([default_dict(definition, registry)], type=registry.arrow_type(type_name))


def encode(type_name: str, value: Any) -> bytes:
    """Serialize one message to CDR (little-endian, with the 4-byte encapsulation header).

    `value`: a one-row `pa.StructArray`, a `pa.StructScalar`, a dict, or `pa.array([{...}])`;
    missing fields get their defaults; numbers may come as any Arrow/numpy/Python type that holds
    the value exactly (an int64 for an int32 field), but a value that does not fit is an error.
    """
    return default_registry().codec(type_name).encode(value)


@overload
def encode_many(
    type_name: str, struct_array: Any, *, as_arrow: Literal[False] = False
) -> list[bytes]: ...


@overload
def encode_many(
    type_name: str, struct_array: Any, *, as_arrow: Literal[True]
) -> pa.BinaryArray: ...


def encode_many(
    type_name: str, struct_array: Any, *, as_arrow: bool = False
) -> list[bytes] | pa.BinaryArray:
    """Serialize every row of a struct array (or a list of dicts) to one CDR message each.

    A null row is an error. With `as_arrow=True` the messages come as one `pa.BinaryArray`
    (one data buffer, no copy per message), ready for a dora node's `send_output`.
    """
    codec = default_registry().codec(type_name)
    return (
        codec.encode_many(struct_array, as_arrow=True)
        if as_arrow
        else codec.encode_many(struct_array)
    )


def decode(type_name: str, data: bytes | bytearray | memoryview) -> pa.StructArray:
    """Deserialize one CDR message into a one-row struct array (CdrError if malformed)."""
    return default_registry().codec(type_name).decode(data)


def decode_many(
    type_name: str, buffers: Sequence[bytes | bytearray | memoryview]
) -> pa.StructArray:
    """Deserialize many CDR messages of one type into one N-row struct array, column by column."""
    return default_registry().codec(type_name).decode_many(buffers)
