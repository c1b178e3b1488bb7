"""Arrow types and ROS default values of message definitions.

Mapping (also in docs/msgconv.md): bool -> bool; int8..uint64, float32, float64 -> the same width;
byte, char -> uint8; string, wstring (bounded or not) -> utf8; a nested message -> struct;
`T[]` and `T[<=N]` -> list<T>; `T[N]` -> fixed_size_list<T, N>. An empty message is an empty struct.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .definitions import PRIMITIVES, FieldType, MessageDefinition

if TYPE_CHECKING:
    from .registry import TypeSource

__all__ = ["default_dict", "element_arrow_type", "field_arrow_type", "struct_type", "zero_value"]


def element_arrow_type(ftype: FieldType, registry: TypeSource) -> pa.DataType:
    """Arrow type of one element of `ftype` (ignores the array part)."""
    if ftype.is_string:
        return pa.utf8()
    if ftype.is_nested:
        return registry.arrow_type(ftype.name)
    return getattr(pa, PRIMITIVES[ftype.name].arrow)()


def field_arrow_type(ftype: FieldType, registry: TypeSource) -> pa.DataType:
    """Arrow type of a field: the element type, in a list or fixed-size list for arrays."""
    element = element_arrow_type(ftype, registry)
    if ftype.array == "fixed":
        assert ftype.length is not None
        return pa.list_(element, ftype.length)
    if ftype.array:
        return pa.list_(element)
    return element


def struct_type(definition: MessageDefinition, registry: TypeSource) -> pa.StructType:
    """The Arrow struct type of a message (fields in definition order, all nullable)."""
    return pa.struct(
        [pa.field(f.name, field_arrow_type(f.type, registry)) for f in definition.fields]
    )


def zero_value(ftype: FieldType, registry: TypeSource) -> Any:
    """ROS's value of one element when nothing is given: False, 0, 0.0, '' or a default message."""
    if ftype.is_string:
        return ""
    if ftype.is_nested:
        return default_dict(registry.message(ftype.name), registry)
    if ftype.name == "bool":
        return False
    return 0.0 if ftype.name.startswith("float") else 0


def default_dict(definition: MessageDefinition, registry: TypeSource) -> dict[str, Any]:
    """The message's default value as plain Python (explicit defaults, else zeros/empty)."""
    out: dict[str, Any] = {}
    for f in definition.fields:
        if f.default is not None:
            out[f.name] = list(f.default) if isinstance(f.default, tuple) else f.default
        elif f.type.array == "fixed":
            assert f.type.length is not None
            out[f.name] = [zero_value(f.type.element, registry) for _ in range(f.type.length)]
        elif f.type.array:
            out[f.name] = []
        else:
            out[f.name] = zero_value(f.type, registry)
    return out
