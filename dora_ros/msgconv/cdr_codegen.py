"""Generated CDR encoders and decoders, one straight-line Python function per message type.

For each type we write Python source that does only what the type needs, compile it once and keep
it on the type's `Codec` (cached by the `TypeRegistry`):

- consecutive fixed-size fields (also inside nested structs, which are inlined) become one
  `struct.Struct.pack` / `unpack_from` call whose format already holds the alignment padding, as
  long as the offset modulo the alignment is known while generating; only after a string or a
  sequence is the padding computed at run time (`p = -pos & 7`). What is known is decided in one
  place, `Alignment`, which the encoder, the row decoder and the column decoder (`cdr_columns`)
  all use;
- primitive sequences go through numpy in one piece (`b"".join` copies them once when encoding;
  `np.frombuffer` views them when decoding, see `arrow_values` for the zero-copy rules);
- arrays of nested messages loop over a generated function of the element type.

Encoders are fast paths: they rely on `struct` to reject what does not fit (`'B' format requires
0 <= number <= 255`, `float too large to pack with f format`) and fall back to the slow, precise
`cdr_reference.encode_reference` on any failure, which raises the `MsgConvError` naming the field,
or encodes what needs a lenient conversion (an integral float for an int field). Both write zero
padding, so encoding is canonical. Offsets count from the end of the 4-byte encapsulation header.

Measured with benchmarks/msgconv.py on the 2-core test machine: Twist encode ~3-6 us (rosbags
~2.6 us; one `pack` of 6 doubles is 0.15 us, the rest is dict lookups and `b"".join`), Twist row
decode ~2.5 us before Arrow (building the one-row StructArray with `pa.array` is another ~20 us and
dominates `decode`), 1080p Image encode = one copy of the pixels (`b"".join`) + ~20 us.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .definitions import PRIMITIVES, Field, FieldType, MessageDefinition

if TYPE_CHECKING:
    from .registry import TypeRegistry

__all__ = ["Fallback", "generate_decoder", "generate_encoder"]


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


class _Source:
    """Lines of one generated function; names it refers to go in a namespace shared per module."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.lines: list[str] = []
        self.ns = namespace

    def name(self, prefix: str, value: Any = None) -> str:
        self.ns["__counter__"] = counter = self.ns.get("__counter__", 0) + 1
        key = f"{prefix}{counter}"
        if value is not None:
            self.ns[key] = value
        return key

    def const(self, value: Any) -> str:
        """Source text for `value`: a literal for bools, ints and finite floats, else a name."""
        if isinstance(value, (bool, int)):
            return repr(value)
        if isinstance(value, float) and math.isfinite(value):
            return repr(value)
        return self.name("C", value)


def _fn_name(type_name: str) -> str:
    return "_" + "".join(c if c.isalnum() else "_" for c in type_name)


class Alignment:
    """What generated code is sure of, at one point, about the CDR offset: `pos % known == rest`.

    The one model of CDR alignment: the encoder, the row decoder and the column decoder all ask it
    where padding goes, so they cannot disagree with each other (or, one rule at a time, with
    rclpy). Like rosbags' generator it keeps only what holds on every path the generated code can
    take: `known` is a power of two up to 8 (CDR aligns nothing beyond 8 bytes), 8 at the start of
    a message body, 1 where nothing is known (a string's end, the start of an element function).
    A padding it can tell becomes `x` bytes in a `struct` format; one it cannot is computed at run
    time (`-pos & (n - 1)`), after which the offset is aligned to n.
    """

    __slots__ = ("known", "rest")

    def __init__(self, known: int = 1, rest: int = 0) -> None:
        self.known = known
        self.rest = rest % known

    def __repr__(self) -> str:
        return f"Alignment(pos % {self.known} == {self.rest})"

    def pad(self, n: int) -> int | None:
        """Padding bytes before a value aligned to `n`, if known while generating (else None)."""
        return -self.rest % n if n <= self.known else None

    def align(self, n: int) -> int | None:
        """`pad(n)`; the offset is then a multiple of `n` (padded statically or at run time)."""
        pad = self.pad(n)
        if pad is None:
            self.known, self.rest = n, 0
        else:
            self.rest = (self.rest + pad) % self.known
        return pad

    def advance(self, size: int) -> None:
        """Past `size` bytes."""
        self.rest = (self.rest + size) % self.known

    def advance_unknown(self, unit: int) -> None:
        """Past a number, known only at run time, of `unit`-byte items (string bytes, wchars)."""
        known = self.known
        while unit % known:
            known //= 2
        self.known, self.rest = known, self.rest % known

    def meet(self, other: Alignment) -> None:
        """What still holds when the code may have taken either this path or `other`."""
        known = min(self.known, other.known)
        while self.rest % known != other.rest % known:
            known //= 2
        self.known, self.rest = known, self.rest % known

    def elements(self, size: int) -> int | None:
        """Past the elements of a primitive sequence, its count just read or written.

        Returns `pad(size)`: the padding before the first element, which the generated code must
        apply only when the sequence is not empty (Fast CDR, hence rclpy, aligns an empty one to
        nothing). Afterwards either nothing moved (empty) or the offset is a multiple of `size`.
        """
        pad = self.pad(size)
        self.meet(Alignment(size))
        return pad

    def forget(self) -> None:
        """Nothing is known (inside a loop over strings or nested messages, and after it)."""
        self.known, self.rest = 1, 0


class _Generator:
    """What the generators share: source lines, the alignment model and the pending `struct` run.

    Consecutive fixed-size values collect in `fmt` (with their static padding as `x`) until
    something of run-time size comes; `flush` writes the run as one pack / unpack.
    """

    def __init__(self, registry: TypeRegistry, top: bool, namespace: dict[str, Any]) -> None:
        self.registry = registry
        self.src = _Source(namespace)
        self.at = Alignment(8 if top else 1)
        self.fmt = ""
        self.ind = "    "
        self.needs: set[str] = set()  # element types whose functions the generated one calls

    def emit(self, line: str) -> None:
        self.src.lines.append(self.ind + line)

    def flush(self) -> None:
        raise NotImplementedError

    def runtime_pad(self, n: int, condition: str | None = None) -> None:
        """Emit code that pads to `n` (only when `condition` holds at run time, if given)."""
        raise NotImplementedError

    def static_pad(self, pad: int, condition: str) -> None:
        """Emit code that pads `pad` bytes when `condition` holds at run time."""
        raise NotImplementedError

    def align(self, n: int) -> None:
        pad = self.at.align(n)
        if pad is None:
            self.flush()
            self.runtime_pad(n)
        else:
            self.fmt += "x" * pad

    def elements(self, size: int, count: str) -> None:
        """Pad before a primitive sequence's elements (none when `count` is 0), as the model says.

        The pending run must be flushed (the count was just written or read).
        """
        assert not self.fmt
        pad = self.at.elements(size)
        if pad is None:
            self.runtime_pad(size, count)
        elif pad:
            self.static_pad(pad, count)


# --- encoder ------------------------------------------------------------------------------------


class _EncoderGen(_Generator):
    """Writes `def E(v, parts, pos) -> pos` for one type (see the module docstring)."""

    def __init__(
        self,
        definition: MessageDefinition,
        registry: TypeRegistry,
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
    definition: MessageDefinition, registry: TypeRegistry
) -> tuple[Callable[[Any], bytes], Callable[[Any, list[Any], int], int], str]:
    """A fast `encode(dict_tree) -> bytes` for `definition` (raises Fallback), the function that
    appends one message's body to a list of parts (`body(dict_tree, parts, 0) -> body length`,
    for batches) and their source."""
    namespace: dict[str, Any] = {
        "ZEROS": _ZEROS,
        "BOOL": _bool,
        "U32": _U32,
        "NUL": b"\x00",
        "NULCHAR": "\x00",
        "EMPTY": {},
        "Fallback": Fallback,
        "np": np,
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
        gen = _EncoderGen(d, registry, top, namespace)
        sources.append(gen.build("_top" if top else _fn_name(d.name)))
        todo += [(registry.message(n), False) for n in gen.needs]
    sources.append(
        "def encode(v):\n    parts = [HEADER]\n    _top(v, parts, 0)\n    return b''.join(parts)\n"
    )
    namespace["HEADER"] = b"\x00\x01\x00\x00"
    source = "\n\n".join(sources)
    exec(compile(source, f"<msgconv encoder {definition.name}>", "exec"), namespace)
    return namespace["encode"], namespace["_top"], source


# --- decoder ------------------------------------------------------------------------------------


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
        registry: TypeRegistry,
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
    definition: MessageDefinition, registry: TypeRegistry, order: str
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
