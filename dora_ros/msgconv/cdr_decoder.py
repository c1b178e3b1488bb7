"""The generated CDR decoder of a message type: CDR bytes -> dict tree (see `cdr_codegen`)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .cdr_alignment import _fn_name, _Generator
from .definitions import PRIMITIVES, Field, FieldType, MessageDefinition

if TYPE_CHECKING:
    from .registry import TypeSource

__all__ = ["Truncated", "generate_decoder"]


class Truncated(Exception):
    """Raised inside a generated decoder: a length points past the end of the data."""


def _array_view(dtype_name: str, order: str) -> Callable[[Any, int, int], Any]:
    """`view(body, n, pos)`: n primitives at pos as a native little-endian numpy array.

    A view into `body` (zero copy) when the byte order is little-endian and the address is aligned
    for the element; a single copy otherwise (numpy and Arrow want aligned memory).
    """
    if dtype_name == "?":
        u1 = np.dtype("u1")

        def bools(body: Any, n: int, pos: int) -> Any:
            return np.frombuffer(body, u1, n, pos) != 0

        return bools
    dtype = np.dtype(order + dtype_name)
    if dtype.itemsize == 1:

        def bytes_view(body: Any, n: int, pos: int) -> Any:
            return np.frombuffer(body, dtype, n, pos)

        return bytes_view
    native = np.dtype("<" + dtype_name)
    if order == ">":

        def swapped(body: Any, n: int, pos: int) -> Any:
            return np.frombuffer(body, dtype, n, pos).astype(native)

        return swapped

    def view(body: Any, n: int, pos: int) -> Any:
        a = np.frombuffer(body, dtype, n, pos)
        return a if a.flags.aligned else a.copy()

    return view


class _DecoderGen(_Generator):
    """Writes `def D(body, pos) -> (dict, pos)` for one type and one byte order."""

    def __init__(
        self,
        definition: MessageDefinition,
        registry: TypeSource,
        top: bool,
        namespace: dict[str, Any],
        order: str,
    ) -> None:
        super().__init__(registry, top, namespace)
        self.definition = definition
        self.order = order
        self.targets: list[str] = []

    def flush(self) -> None:
        if not self.fmt:
            return
        s = struct.Struct(self.order + self.fmt)
        name = self.src.name("S", s)
        if self.targets:
            self.emit(f"{', '.join(self.targets)}, = {name}.unpack_from(body, pos)")
        else:
            self.emit(f"if pos + {s.size} > len(body): raise Truncated")
        self.emit(f"pos += {s.size}")
        self.fmt, self.targets = "", []

    def runtime_pad(self, n: int, condition: str | None = None) -> None:
        pad = f"pos += -pos & {n - 1}"
        self.emit(f"if {condition}: {pad}" if condition else pad)

    def static_pad(self, pad: int, condition: str) -> None:
        self.emit(f"if {condition}: pos += {pad}")

    def scalar(self, prim_name: str) -> str:
        prim = PRIMITIVES[prim_name]
        self.align(prim.size)
        var = self.src.name("f")
        self.fmt += prim.code
        self.targets.append(var)
        self.at.advance(prim.size)
        return var

    def length(self) -> str:
        """Read a uint32 length (of a string or sequence) into a fresh variable; flushes the run."""
        n = self.scalar("uint32")
        self.flush()
        return n

    def count(self) -> str:
        """Read a uint32 sequence length into a fresh variable (checked against the data left)."""
        n = self.length()
        self.emit(f"if {n} > len(body) - pos: raise Truncated")
        return n

    def struct_body(self, definition: MessageDefinition) -> str:
        """Emit code for the fields; return the dict expression that holds them."""
        if not definition.fields:
            self.align(1)
            self.fmt += "x"
            self.at.advance(1)
            return "{}"
        items = [f"{f.name!r}: {self.field(f)}" for f in definition.fields]
        return "{" + ", ".join(items) + "}"

    def field(self, f: Field) -> str:
        t = f.type
        if not t.array:
            if t.is_nested:
                return self.struct_body(self.registry.message(t.name))
            if t.is_string:
                return self.string(t)
            return self.scalar(t.name)
        if t.is_primitive:
            return self.prim_array(t)
        n = str(t.length) if t.array == "fixed" else self.count()
        self.flush()
        out = self.src.name("L")
        self.emit(f"{out} = []")
        self.emit(f"for _ in range({n}):")
        self.ind += "    "
        self.at.forget()  # the loop body runs at offsets of every alignment
        if t.is_string:
            var = self.string(t.element)
            self.emit(f"{out}.append({var})")
        else:
            self.needs.add(t.name)
            self.emit(f"d, pos = {_fn_name(t.name)}(body, pos)")
            self.emit(f"{out}.append(d)")
        self.ind = self.ind[:-4]
        self.at.forget()
        return out

    def string(self, t: FieldType) -> str:
        n = self.length()
        var = self.src.name("s")
        if t.name == "string":
            self.emit(f"e = pos + {n}")
            self.emit("if e > len(body): raise Truncated")
            # ROS strings are C strings: read up to the first NUL (a peer may omit the
            # terminator from the count; rclpy then still reads every character). Invalid UTF-8
            # becomes U+FFFD, as rclpy's generated code decodes it.
            self.emit(f"{var} = str(body[pos:e], 'utf-8', 'replace').partition(NULCHAR)[0]")
            self.emit("pos = e")
            self.at.advance_unknown(1)
        else:
            view = self.src.name("W", _array_view("u4", self.order))
            self.emit(f"{var} = wstring({view}(body, {n}, pos))")
            self.emit(f"pos += 4 * {n}")
            self.at.advance_unknown(4)
        return var

    def prim_array(self, t: FieldType) -> str:
        prim = PRIMITIVES[t.name]
        view = self.src.name("V", _array_view(prim.dtype, self.order))
        var = self.src.name("a")
        if t.array == "fixed":
            assert t.length is not None
            self.align(prim.size)
            self.flush()
            self.emit(f"{var} = {view}(body, {t.length}, pos)")
            self.emit(f"pos += {t.length * prim.size}")
            self.at.advance(t.length * prim.size)
            return var
        n = self.count()
        self.elements(prim.size, n)
        self.emit(f"{var} = {view}(body, {n}, pos)")
        self.emit(f"pos += {n} * {prim.size}")
        return var

    def build(self, fn: str) -> str:
        expr = self.struct_body(self.definition)
        self.flush()
        return "\n".join([f"def {fn}(body, pos):", *self.src.lines, f"    return {expr}, pos"])


def _wstring(units: Any) -> str:
    if len(units) and int(units.max()) > 0xFFFF:
        raise ValueError("wstring unit above 0xFFFF")
    return units.astype("<u2").tobytes().decode("utf-16-le").partition("\x00")[0]


def generate_decoder(
    definition: MessageDefinition, registry: TypeSource, order: str
) -> tuple[Callable[[Any, int], tuple[dict[str, Any], int]], str]:
    """A fast `decode(body, pos) -> (dict_tree, pos)` for one byte order ('<' or '>').

    `body` is the data after the encapsulation header. Raises Truncated, struct.error, ValueError
    or UnicodeDecodeError on bad data; the `Codec` turns them into CdrError.
    """
    namespace: dict[str, Any] = {
        "Truncated": Truncated,
        "wstring": _wstring,
        "np": np,
        "NULCHAR": "\x00",
    }
    sources: list[str] = []
    done: set[str] = set()
    todo: list[tuple[MessageDefinition, bool]] = [(definition, True)]
    while todo:
        d, top = todo.pop()
        key = d.name if not top else "<top>"
        if key in done:
            continue
        done.add(key)
        gen = _DecoderGen(d, registry, top, namespace, order)
        sources.append(gen.build("decode" if top else _fn_name(d.name)))
        todo += [(registry.message(n), False) for n in gen.needs]
    source = "\n\n".join(sources)
    exec(compile(source, f"<msgconv decoder {definition.name} {order}>", "exec"), namespace)
    return namespace["decode"], source
