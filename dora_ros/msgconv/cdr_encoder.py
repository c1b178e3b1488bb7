"""The generated CDR encoder of a message type: dict tree -> CDR bytes (see `cdr_codegen`)."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .cdr_alignment import _fn_name, _Generator
from .definitions import PRIMITIVES, Field, FieldType, MessageDefinition

if TYPE_CHECKING:
    from .registry import TypeSource

__all__ = ["Fallback", "generate_encoder"]


class Fallback(Exception):
    """Raised inside a generated encoder: let the reference encoder decide (error or lenient)."""


_ZEROS = tuple(b"\x00" * i for i in range(8))


def _bool(x: Any) -> int:
    """A bool field's byte; anything but True / False goes to the reference (which takes numpy
    bools and the integers 0 and 1, and refuses floats: 1.0 == True, so no dict lookup here)."""
    if x is True:
        return 1
    if x is False:
        return 0
    raise Fallback


_U32 = struct.Struct("<I")
#: The encapsulation header of little-endian CDR (what every encoder writes first).
HEADER_LE = b"\x00\x01\x00\x00"


def generated_namespace(**extra: Any) -> dict[str, Any]:
    """The names the generated encoders use (the dict tree's and the buffer encoder's), plus
    `extra`; the generators' own names are added by `_Source.name`, never over these."""
    return {
        "ZEROS": _ZEROS,
        "BOOL": _bool,
        "U32": _U32,
        "NUL": b"\x00",
        "NULCHAR": "\x00",
        "Fallback": Fallback,
        "HEADER": HEADER_LE,
        "np": np,  # wstrings
        **extra,
    }


def _prim_array(prim_name: str) -> Callable[[Any], Any]:
    """A converter of one primitive array value to a little-endian contiguous buffer (or Fallback)."""
    prim = PRIMITIVES[prim_name]
    dtype = np.dtype("<" + prim.dtype) if prim.size > 1 else np.dtype(prim.dtype)
    kind = dtype.kind
    code = prim.code if prim.name != "bool" else "?"
    low, high = prim.low, prim.high
    # The first float above an integer type's range: high + 1 is a power of two, exact as a
    # float, while high itself may round up to it (float(2**63 - 1) == 2.0**63, which wraps).
    float_above = float(high + 1) if high is not None else math.inf

    # The common case (a numpy array of the exact dtype, or bytes for uint8[]) is returned as is
    # and `b"".join` copies it once into the message; lists go through one `struct.pack`, which
    # also range-checks every element. Anything needing a check numpy cannot do cheaply falls back.
    def convert(x: Any) -> Any:
        if type(x) is np.ndarray:
            if x.dtype == dtype and x.ndim == 1:
                return x if x.flags.c_contiguous else np.ascontiguousarray(x)
            if x.ndim != 1:
                raise Fallback
            src = x.dtype.kind
            if kind == "b":
                raise Fallback
            if kind == "f":
                if src not in "biuf":
                    raise Fallback
                with np.errstate(over="ignore", invalid="ignore"):
                    y = x.astype(dtype)  # overflow to inf is checked just below
                if prim.size == 4 and src == "f" and np.any(np.isinf(y) & np.isfinite(x)):
                    raise Fallback
                return y
            if src in "biu":
                if len(x) and (x.min() < low or x.max() > high):
                    raise Fallback
                return x.astype(dtype)
            if src == "f" and np.all(np.mod(x, 1) == 0):
                if len(x) and (x.min() < low or x.max() >= float_above):
                    raise Fallback
                return x.astype(dtype)
            raise Fallback
        if prim.size == 1 and kind == "u" and type(x) in (bytes, bytearray):
            return x
        if type(x) in (list, tuple):
            if kind == "b":
                for item in x:
                    if item is not True and item is not False:
                        raise Fallback
            return struct.pack(f"<{len(x)}{code}", *x)
        raise Fallback

    return convert


class _EncoderGen(_Generator):
    """Writes `def E(v, parts, pos) -> pos` for one type (see the module docstring)."""

    def __init__(
        self,
        definition: MessageDefinition,
        registry: TypeSource,
        top: bool,
        namespace: dict[str, Any],
    ) -> None:
        super().__init__(registry, top, namespace)
        self.vals: list[str] = []
        self.definition = definition

    def flush(self) -> None:
        if not self.fmt:
            return
        s = struct.Struct("<" + self.fmt)
        name = self.src.name("S", s)
        self.emit(f"parts.append({name}.pack({', '.join(self.vals)}))")
        self.emit(f"pos += {s.size}")
        self.fmt, self.vals = "", []

    def runtime_pad(self, n: int, condition: str | None = None) -> None:
        pad = f"p = -pos & {n - 1}; parts.append(ZEROS[p]); pos += p"
        self.emit(f"if {condition}: {pad}" if condition else pad)

    def static_pad(self, pad: int, condition: str) -> None:
        self.emit(f"if {condition}: parts.append(ZEROS[{pad}]); pos += {pad}")

    def scalar(self, prim_name: str, expr: str) -> None:
        prim = PRIMITIVES[prim_name]
        self.align(prim.size)
        self.fmt += "B" if prim.name == "bool" else prim.code
        self.vals.append(f"BOOL({expr})" if prim.name == "bool" else expr)
        self.at.advance(prim.size)

    def count(self, n: str) -> None:
        """Write a sequence's uint32 count `n`; flushes the run."""
        self.align(4)
        self.flush()
        self.emit(f"parts.append(U32.pack({n}))")
        self.emit("pos += 4")
        self.at.advance(4)

    def struct_body(self, definition: MessageDefinition, var: str) -> None:
        # Checks and lookups only read the dict, so they may sit before the pending run's pack:
        # a nested struct does not break a run (Twist encodes with one pack call).
        keys = self.src.name("K", frozenset(definition.field_names))
        self.emit(f"if not {var}.keys() <= {keys}: raise Fallback")
        if not definition.fields:
            self.scalar("uint8", "0")
            return
        for f in definition.fields:
            self.field(f, var)

    def default_expr(self, f: Field) -> str:
        from .arrow_schema import zero_value

        if f.default is not None:
            return self.src.const(f.default)
        if f.type.array == "fixed":
            assert f.type.length is not None
            return self.src.const(
                tuple([zero_value(f.type.element, self.registry)] * f.type.length)
            )
        if f.type.array:
            return "()"
        if f.type.is_nested:
            return "EMPTY"
        return self.src.const(zero_value(f.type, self.registry))

    def field(self, f: Field, var: str) -> None:
        t = f.type
        expr = f"{var}.get({f.name!r}, {self.default_expr(f)})"
        if not t.array:
            if t.is_nested:
                sub = self.src.name("v")
                self.emit(f"{sub} = {var}.get({f.name!r})")
                self.emit(f"if {sub} is None: {sub} = EMPTY")
                self.struct_body(self.registry.message(t.name), sub)
            elif t.is_string:
                self.string(t, expr)
            else:
                self.scalar(t.name, expr)
            return
        x = self.src.name("x")
        self.flush()
        self.emit(f"{x} = {expr}")
        if t.is_primitive:
            self.prim_array(t, x)
            return
        self.emit(f"n = len({x})")
        self.length_check(t, "n")
        if t.array != "fixed":
            self.count("n")
        it = self.src.name("it")
        self.emit(f"for {it} in {x}:")
        self.ind += "    "
        self.at.forget()  # the loop body runs at offsets of every alignment
        if t.is_string:
            self.string(t.element, it)
        else:
            fn = _fn_name(t.name)
            self.needs.add(t.name)
            self.emit(f"if {it} is None: {it} = EMPTY")
            self.emit(f"pos = {fn}({it}, parts, pos)")
        self.ind = self.ind[:-4]
        self.at.forget()

    def length_check(self, t: FieldType, n: str) -> None:
        if t.array == "fixed":
            self.emit(f"if {n} != {t.length}: raise Fallback")
        elif t.array == "bounded":
            self.emit(f"if {n} > {t.length}: raise Fallback")

    def string(self, t: FieldType, expr: str) -> None:
        self.align(4)
        self.flush()
        s = self.src.name("s")
        self.emit(f"{s} = {expr}")
        if t.string_bound is not None:
            self.emit(f"if len({s}) > {t.string_bound}: raise Fallback")
        self.emit(f"if NULCHAR in {s}: raise Fallback")
        if t.name == "string":
            self.emit(f"{s} = {s}.encode()")
            self.emit(f"parts += (U32.pack(len({s}) + 1), {s}, NUL)")
            self.emit(f"pos += len({s}) + 5")
            self.at.advance(4)
            self.at.advance_unknown(1)
        else:
            self.emit(f"{s} = {s}.encode('utf-16-le')")
            self.emit(f"{s} = np.frombuffer({s}, '<u2').astype('<u4')")
            self.emit(f"parts += (U32.pack(len({s})), {s})")
            self.emit(f"pos += 4 * len({s}) + 4")
            self.at.advance(4)
            self.at.advance_unknown(4)

    def prim_array(self, t: FieldType, x: str) -> None:
        prim = PRIMITIVES[t.name]
        conv = self.src.name("A", _prim_array(t.name))
        self.emit(f"n = len({x})")  # elements (the converted value may be bytes)
        self.length_check(t, "n")
        self.emit(f"{x} = {conv}({x})")
        if t.array != "fixed":
            self.count("n")
            self.elements(prim.size, "n")
            self.emit(f"parts.append({x})")
            self.emit(f"pos += n * {prim.size}")
        else:
            assert t.length is not None
            self.align(prim.size)
            self.flush()
            self.emit(f"parts.append({x})")
            self.emit(f"pos += {t.length * prim.size}")
            self.at.advance(t.length * prim.size)

    def build(self, fn: str) -> str:
        self.struct_body(self.definition, "v")
        self.flush()
        return "\n".join([f"def {fn}(v, parts, pos):", *self.src.lines, "    return pos"])


def generate_encoder(
    definition: MessageDefinition, registry: TypeSource
) -> tuple[Callable[[Any], bytes], Callable[[Any, list[Any], int], int], str]:
    """A fast `encode(dict_tree) -> bytes` for `definition` (raises Fallback), the function that
    appends one message's body to a list of parts (`body(dict_tree, parts, 0) -> body length`,
    for batches) and their source."""
    namespace = generated_namespace(EMPTY={})
    sources: list[str] = []
    done: set[str] = set()
    todo: list[tuple[MessageDefinition, bool]] = [(definition, True)]
    while todo:
        d, top = todo.pop()
        key = d.name if not top else "<top>"
        if key in done:
            continue
        done.add(key)
        gen = _EncoderGen(d, registry, top, namespace)
        sources.append(gen.build("_top" if top else _fn_name(d.name)))
        todo += [(registry.message(n), False) for n in gen.needs]
    sources.append(
        "def encode(v):\n    parts = [HEADER]\n    _top(v, parts, 0)\n    return b''.join(parts)\n"
    )
    source = "\n\n".join(sources)
    exec(compile(source, f"<msgconv encoder {definition.name}>", "exec"), namespace)
    return namespace["encode"], namespace["_top"], source
