"""The slow, obviously correct CDR encoder, and the value checks every encoder shares.

`encode_reference` walks a definition field by field, converts each value leniently (an int64 or a
numpy number for an int32 field, a float list for `float32[]`) and strictly (no wrap-around, no
truncation), and raises the precise `MsgConvError` naming the type and the field path. The generated
fast encoders (`cdr_codegen`) skip these checks where `struct` does them anyway and fall back to
this one on any failure, so both always agree on errors; tests compare their bytes.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from .definitions import PRIMITIVES, FieldType, MessageDefinition, Primitive
from .errors import (
    ArrayLengthError,
    BoundError,
    CdrError,
    OutOfRangeError,
    UnknownFieldError,
    ValueKindError,
    field_error,
)

if TYPE_CHECKING:
    from .registry import TypeSource

__all__ = [
    "HEADER_LE",
    "check_array",
    "decode_reference",
    "encode_reference",
    "to_bool",
    "to_float",
    "to_int",
]

HEADER_LE = b"\x00\x01\x00\x00"
FLT_MAX = 3.4028234663852886e38
_ARRAYLIKE = (list, tuple, np.ndarray, bytes, bytearray, memoryview)


def _kind(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"[:80]


def to_bool(value: Any, type_name: str, path: str) -> bool:
    """A bool from bool, numpy bool, or the integers 0 and 1."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    raise field_error(ValueKindError, type_name, path, f"expected a bool, got {_kind(value)}")


def to_int(value: Any, prim: Primitive, type_name: str, path: str) -> int:
    """An int that fits `prim`, from any integer, an integral float, or a 1-byte bytes for bytes."""
    if isinstance(value, (bool, np.bool_)):
        result = int(value)
    elif isinstance(value, (int, np.integer)):
        result = int(value)
    elif isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or value != int(value):
            raise field_error(
                ValueKindError, type_name, path, f"{value!r} is not an integer ({prim.name})"
            )
        result = int(value)
    elif isinstance(value, (bytes, bytearray)) and len(value) == 1 and prim.size == 1:
        result = value[0]
    else:
        raise field_error(
            ValueKindError,
            type_name,
            path,
            f"expected an integer ({prim.name}), got {_kind(value)}",
        )
    assert prim.low is not None and prim.high is not None
    if not prim.low <= result <= prim.high:
        raise field_error(
            OutOfRangeError,
            type_name,
            path,
            f"{result} does not fit {prim.name} ({prim.low}..{prim.high})",
        )
    return result


def to_float(value: Any, prim: Primitive, type_name: str, path: str) -> float:
    """A float from any real number; a finite value beyond float32's range is an error."""
    if isinstance(value, (str, bytes, bytearray)) or not isinstance(
        value, (int, float, np.integer, np.floating, np.bool_)
    ):
        raise field_error(
            ValueKindError, type_name, path, f"expected a number ({prim.name}), got {_kind(value)}"
        )
    try:
        result = float(value)
    except OverflowError:
        raise field_error(
            OutOfRangeError, type_name, path, f"{value} does not fit {prim.name}"
        ) from None
    if prim.size == 4 and math.isfinite(result):
        try:
            struct.pack("<f", result)
        except OverflowError:
            raise field_error(
                OutOfRangeError,
                type_name,
                path,
                f"{value} does not fit float32 (max ±{FLT_MAX:.6g})",
            ) from None
    return result


def check_string(value: Any, ftype: FieldType, type_name: str, path: str) -> str:
    """A str (bytes must be UTF-8) within the field's bound (in characters, as rclpy counts)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise field_error(ValueKindError, type_name, path, "bytes are not UTF-8") from None
    if not isinstance(value, str):
        raise field_error(ValueKindError, type_name, path, f"expected a string, got {_kind(value)}")
    if "\x00" in value:
        raise field_error(
            ValueKindError,
            type_name,
            path,
            f"{value!r} contains a NUL character; ROS strings are C strings and every peer "
            "would cut it there",
        )
    if ftype.string_bound is not None and len(value) > ftype.string_bound:
        raise field_error(
            BoundError,
            type_name,
            path,
            f"string of {len(value)} characters is longer than its bound {ftype.string_bound}",
        )
    return value


def check_array(value: Any, ftype: FieldType, type_name: str, path: str) -> Any:
    """An array value of the right length or within the bound (returned as a sequence)."""
    if hasattr(value, "to_pylist") and not isinstance(value, np.ndarray):
        value = value.to_pylist()  # a pyarrow array or list scalar
    if isinstance(value, np.ndarray) and value.ndim != 1:
        value = value.reshape(-1)
    if not isinstance(value, _ARRAYLIKE):
        raise field_error(
            ValueKindError, type_name, path, f"expected a list ({ftype}), got {_kind(value)}"
        )
    n = len(value)
    if ftype.array == "fixed" and n != ftype.length:
        raise field_error(
            ArrayLengthError,
            type_name,
            path,
            f"fixed array {ftype} needs exactly {ftype.length} elements, got {n}",
        )
    if ftype.array == "bounded" and ftype.length is not None and n > ftype.length:
        raise field_error(
            BoundError,
            type_name,
            path,
            f"{n} elements exceed the bound of {ftype} ({ftype.length})",
        )
    return value


class _Writer:
    """Appends aligned values; offsets count from the end of the encapsulation header."""

    def __init__(self) -> None:
        self.buf = bytearray(HEADER_LE)

    def align(self, n: int) -> None:
        self.buf += b"\x00" * (-(len(self.buf) - 4) % n)

    def prim(self, code: str, size: int, value: Any) -> None:
        self.align(size)
        self.buf += struct.pack("<" + code, value)


def _element(
    w: _Writer, ftype: FieldType, value: Any, registry: TypeSource, type_name: str, path: str
) -> None:
    if isinstance(value, pa.Scalar):
        value = value.as_py()
    if ftype.is_nested:
        _struct(w, registry.message(ftype.name), value, registry, type_name, path)
    elif ftype.is_string:
        text = check_string(value, ftype, type_name, path)
        try:
            data = text.encode("utf-8" if ftype.name == "string" else "utf-16-le")
        except UnicodeEncodeError as err:
            raise field_error(
                ValueKindError, type_name, path, f"string is not valid Unicode ({err.reason})"
            ) from None
        if ftype.name == "string":
            w.prim("I", 4, len(data) + 1)
            w.buf += data + b"\x00"
            return
        units = data
        w.prim("I", 4, len(units) // 2)
        w.buf += np.frombuffer(units, "<u2").astype("<u4").tobytes()
    else:
        prim = PRIMITIVES[ftype.name]
        if prim.name == "bool":
            w.prim("?", 1, to_bool(value, type_name, path))
        elif prim.low is None:
            w.prim(prim.code, prim.size, to_float(value, prim, type_name, path))
        else:
            w.prim(prim.code, prim.size, to_int(value, prim, type_name, path))


def _struct(
    w: _Writer,
    definition: MessageDefinition,
    value: Any,
    registry: TypeSource,
    type_name: str,
    path: str,
) -> None:
    from .arrow_schema import zero_value

    if isinstance(value, pa.Scalar):
        value = value.as_py()
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise field_error(
            ValueKindError,
            type_name,
            path,
            f"expected a struct/dict for {definition.name}, got {_kind(value)}",
        )
    names = definition.field_names
    for key in value:
        if key not in names:
            where = f"{path}.{key}" if path else str(key)
            raise field_error(
                UnknownFieldError,
                type_name,
                where,
                f"{definition.name} has no field '{key}' (fields: {', '.join(names) or 'none'})",
            )
    if not definition.fields:
        w.prim("B", 1, 0)  # structure_needs_at_least_one_member
        return
    for f in definition.fields:
        sub = f"{path}.{f.name}" if path else f.name
        v = value.get(f.name)
        if v is None:
            if f.default is not None:
                v = list(f.default) if isinstance(f.default, tuple) else f.default
            elif f.type.array == "fixed":
                assert f.type.length is not None
                v = [zero_value(f.type.element, registry)] * f.type.length
            elif f.type.array:
                v = []
            else:
                v = zero_value(f.type, registry)
        if not f.type.array:
            _element(w, f.type, v, registry, type_name, sub)
            continue
        if isinstance(v, pa.Scalar):
            v = v.as_py()
        items = check_array(v, f.type, type_name, sub)
        if f.type.array != "fixed":
            w.prim("I", 4, len(items))
        element = f.type.element
        for i, item in enumerate(items):
            _element(w, element, item, registry, type_name, f"{sub}[{i}]")


def encode_reference(definition: MessageDefinition, value: Any, registry: TypeSource) -> bytes:
    """CDR (little-endian, with header) of one message given as a dict tree; the slow reference."""
    w = _Writer()
    _struct(w, definition, value, registry, definition.name, "")
    return bytes(w.buf)


class _Reader:
    """Reads aligned values from a CDR body; errors name the type and the field path."""

    def __init__(self, body: memoryview, order: str, type_name: str) -> None:
        self.body = body
        self.order = order
        self.pos = 0
        self.type_name = type_name

    def fail(self, path: str, message: str) -> CdrError:
        where = f"{self.type_name}: field '{path}': " if path else f"{self.type_name}: "
        return CdrError(f"{where}malformed CDR: {message}")

    def take(self, size: int, align: int, path: str, what: str) -> memoryview:
        self.pos += -self.pos % align
        end = self.pos + size
        if end > len(self.body):
            raise self.fail(
                path,
                f"truncated: {what} needs {size} bytes at offset {self.pos}, "
                f"{max(0, len(self.body) - self.pos)} left",
            )
        chunk = self.body[self.pos : end]
        self.pos = end
        return chunk

    def prim(self, code: str, size: int, path: str, what: str) -> Any:
        return struct.unpack(self.order + code, self.take(size, size, path, what))[0]

    def count(self, path: str, element_size: int) -> int:
        n = int(self.prim("I", 4, path, "a length"))
        if n * element_size > len(self.body) - self.pos:
            raise self.fail(path, f"length {n} runs past the end of the data")
        return n


def _read_element(r: _Reader, ftype: FieldType, registry: TypeSource, path: str) -> Any:
    if ftype.is_nested:
        return _read_struct(r, registry.message(ftype.name), registry, path)
    if ftype.name == "string":
        n = r.count(path, 1)
        raw = bytes(r.take(n, 1, path, "a string"))
        return raw.decode("utf-8", "replace").partition("\x00")[0]  # U+FFFD, as rclpy reads it
    if ftype.name == "wstring":
        n = r.count(path, 4)
        units = np.frombuffer(r.take(4 * n, 4, path, "a wstring"), r.order + "u4")
        if n and int(units.max()) > 0xFFFF:
            raise r.fail(path, "wstring unit above 0xFFFF")
        try:
            return units.astype("<u2").tobytes().decode("utf-16-le").partition("\x00")[0]
        except UnicodeDecodeError:
            raise r.fail(path, "wstring is not UTF-16") from None
    prim = PRIMITIVES[ftype.name]
    return r.prim(prim.code, prim.size, path, ftype.name)


def _read_struct(
    r: _Reader, definition: MessageDefinition, registry: TypeSource, path: str
) -> dict[str, Any]:
    if not definition.fields:
        r.take(1, 1, path, "an empty struct's byte")
        return {}
    out: dict[str, Any] = {}
    for f in definition.fields:
        sub = f"{path}.{f.name}" if path else f.name
        if not f.type.array:
            out[f.name] = _read_element(r, f.type, registry, sub)
            continue
        prim = PRIMITIVES.get(f.type.name)
        if f.type.array == "fixed":
            n = f.type.length or 0
        else:
            n = r.count(sub, prim.size if prim else 1)
        if prim is not None:  # in one piece; a sequence aligns only when it has elements
            chunk = r.take(n * prim.size, prim.size if n else 1, sub, f"{n} x {f.type.name}")
            values = np.frombuffer(chunk, r.order + prim.dtype if prim.size > 1 else prim.dtype)
            out[f.name] = (values != 0).tolist() if prim.name == "bool" else values.tolist()
            continue
        element = f.type.element
        out[f.name] = [_read_element(r, element, registry, f"{sub}[{i}]") for i in range(n)]
    return out


def decode_reference(
    definition: MessageDefinition, data: bytes | memoryview, registry: TypeSource
) -> dict[str, Any]:
    """One message as plain Python (lists for arrays); the slow reference of the fast decoders.

    Raises:
        CdrError: naming the field being read where the data is truncated or malformed.
    """
    view = memoryview(data).cast("B") if not isinstance(data, memoryview) else data
    name = definition.name
    if len(view) < 4:
        raise CdrError(f"{name}: {len(view)} bytes are too few for a CDR message")
    if view[0] != 0 or view[1] not in (0, 1):
        raise CdrError(
            f"{name}: encapsulation header {bytes(view[:2]).hex()} is not CDR_LE (0001) or "
            "CDR_BE (0000)"
        )
    reader = _Reader(view[4:], "<" if view[1] == 1 else ">", name)
    return _read_struct(reader, definition, registry, "")
