"""Columnar decoding of many CDR messages of one type (`decode_many`), without a dict per message.

The generated column decoder walks one message like the row decoder (`cdr_decoder`), but instead of
building values it records where they are: each run of fixed-size fields (numbers, fixed numeric
arrays, also inside nested structs) is appended as one memoryview slice of the input, a string or a
numeric sequence as one Python object into its column list. At the end every run's slices are
joined once and read with `np.frombuffer` and a structured dtype, so each numeric leaf becomes a
numpy column for all messages at once. 10,000 sensor_msgs/Imu: ~1.5 us per message instead of
~14 us with a dict per message (benchmarks/msgconv.py).

Types with arrays of nested messages keep the row path (one dict tree per message).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from .cdr_decoder import Truncated, _DecoderGen, _wstring
from .definitions import PRIMITIVES, Field, FieldType, MessageDefinition

if TYPE_CHECKING:
    from collections.abc import Callable

    from .registry import TypeSource

__all__ = ["ColumnDecoder", "columnar_ok"]

_U32 = {"<": struct.Struct("<I"), ">": struct.Struct(">I")}


def columnar_ok(definition: MessageDefinition, registry: TypeSource) -> bool:
    """True when no array of nested messages is reachable (the column decoder's domain)."""
    for f in definition.fields:
        if f.type.is_nested:
            if f.type.array or not columnar_ok(registry.message(f.type.name), registry):
                return False
    return True


class _ColumnGen(_DecoderGen):
    def __init__(
        self,
        definition: MessageDefinition,
        registry: TypeSource,
        namespace: dict[str, Any],
        order: str,
    ) -> None:
        super().__init__(definition, registry, True, namespace, order)
        self.layout: list[tuple[str, int, str, tuple[int, ...]]] = []
        self.runs: dict[int, np.dtype[Any]] = {}
        self.field_run: dict[str, int] = {}
        self.slots: dict[tuple[str, ...], tuple[str, Any]] = {}
        self.path: list[str] = []
        self.k = 0

    def new_k(self) -> int:
        self.k += 1
        return self.k - 1

    def flush(self) -> None:
        if not self.fmt:
            return
        size = struct.calcsize(self.order + self.fmt)
        self.emit(f"if pos + {size} > len(body): raise Truncated")
        if self.layout:
            dtype = np.dtype(
                {
                    "names": [n for n, _, _, _ in self.layout],
                    "formats": [(d, s) if s else d for _, _, d, s in self.layout],
                    "offsets": [o for _, o, _, _ in self.layout],
                    "itemsize": size,
                }
            )
            k = self.new_k()
            self.runs[k] = dtype
            for name, *_ in self.layout:
                self.field_run[name] = k
            self.emit(f"K[{k}].append(body[pos:pos + {size}])")
        self.emit(f"pos += {size}")
        self.fmt, self.layout, self.targets = "", [], []

    def leaf(self, prim_name: str, count: int | None) -> str:
        prim = PRIMITIVES[prim_name]
        self.align(prim.size)
        name = self.src.name("c")
        offset = struct.calcsize(self.order + self.fmt) if self.fmt else 0
        dtype = self.order + (prim.dtype if prim.name != "bool" else "u1")
        self.layout.append((name, offset, dtype, (count,) if count is not None else ()))
        self.fmt += f"{count}{prim.code}" if count is not None else prim.code
        self.at.advance(prim.size * (count or 1))
        return "@" + name

    def scalar(self, prim_name: str) -> str:
        return self.leaf(prim_name, None)

    def length(self) -> str:
        self.align(4)
        self.flush()
        var = self.src.name("n")
        u32 = self.src.name("U", _U32[self.order])
        self.emit(f"{var}, = {u32}.unpack_from(body, pos)")
        self.emit("pos += 4")
        self.at.advance(4)
        return var

    def prim_array(self, t: FieldType) -> str:
        if t.array == "fixed":
            assert t.length is not None
            return self.leaf(t.name, t.length)
        return super().prim_array(t)

    def field(self, f: Field) -> str:
        self.path.append(f.name)
        result = super().field(f)
        # a single nested message has no slot of its own: its fields have theirs
        if not (f.type.is_nested and not f.type.array):
            if result.startswith("@"):
                self.slots[tuple(self.path)] = ("run", result[1:])
            else:
                k = self.new_k()
                self.emit(f"K[{k}].append({result})")
                self.slots[tuple(self.path)] = ("list", k)
        self.path.pop()
        return result

    def build(self, fn: str) -> str:
        self.struct_body(self.definition)
        self.flush()
        return "\n".join([f"def {fn}(body, pos, K):", *self.src.lines, "    return pos"])


class ColumnDecoder:
    """Decodes many messages of one type and byte order into one struct array, column by column."""

    def __init__(
        self,
        definition: MessageDefinition,
        registry: TypeSource,
        arrow: pa.StructType,
        order: str,
    ) -> None:
        namespace: dict[str, Any] = {
            "Truncated": Truncated,
            "np": np,
            "wstring": _wstring,
            "NULCHAR": "\x00",
        }
        gen = _ColumnGen(definition, registry, namespace, order)
        self.source = gen.build("decode_columns")
        exec(
            compile(self.source, f"<msgconv columns {definition.name} {order}>", "exec"), namespace
        )
        self.decode: Callable[[Any, int, list[list[Any]]], int] = namespace["decode_columns"]
        self.width = gen.k
        self.runs = gen.runs
        self.field_run = gen.field_run
        self.slots = gen.slots
        self.definition = definition
        self.registry = registry
        self.arrow = arrow

    def finish(self, columns: list[list[Any]], n: int) -> pa.StructArray:
        """The struct array of `n` messages whose pieces the decoder put in `columns`."""
        runs = {
            k: np.frombuffer(b"".join(columns[k]), dtype=dtype) for k, dtype in self.runs.items()
        }
        return self._struct(self.definition, self.arrow, (), columns, runs, n)

    def _struct(
        self,
        definition: MessageDefinition,
        arrow: pa.StructType,
        prefix: tuple[str, ...],
        columns: list[list[Any]],
        runs: dict[int, Any],
        n: int,
    ) -> pa.StructArray:
        from .codec import _list_array

        if not definition.fields:
            return pa.array([{}] * n, type=arrow)
        children = []
        for f, af in zip(definition.fields, arrow, strict=True):
            path = (*prefix, f.name)
            if f.type.is_nested and not f.type.array:
                sub = self.registry.message(f.type.name)
                children.append(self._struct(sub, af.type, path, columns, runs, n))
                continue
            kind, where = self.slots[path]
            if kind == "run":
                col = runs[self.field_run[where]][where]
                if f.type.name == "bool":
                    col = col != 0
                col = np.ascontiguousarray(col, dtype=col.dtype.newbyteorder("="))
                if f.type.array == "fixed":
                    values = pa.array(col.reshape(-1), type=af.type.value_type)
                    children.append(pa.FixedSizeListArray.from_arrays(values, f.type.length))
                else:
                    children.append(pa.array(col, type=af.type))
            elif f.type.is_primitive and f.type.array and f.type.name != "bool":
                children.append(_list_array(columns[where], af.type))
            else:
                children.append(pa.array(columns[where], type=af.type))
        return pa.StructArray.from_arrays(children, fields=list(arrow))
