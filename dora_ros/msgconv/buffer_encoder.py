"""Encode a one-row Arrow struct array to CDR straight from its buffers (public pyarrow only).

The general way to encode from Arrow reads the row into a dict tree (the C helpers through
pyarrow's `__arrow_c_array__` export, else pyarrow's wrappers) and runs the generated encoder on
it. For a large message most of the time is the one copy of its big arrays into the message, and
the rest matters only in that context: right after a copy of 1.6 MB, pyarrow's export of a
`sensor_msgs/PointCloud2` row (its C++ code and allocations cold in the cache again) cost ~30-40 us
where it takes ~8 us in a warm loop, and put the encode level with rosbags' `serialize_cdr`
(0.97-1.04x, docs/benchmarks.md).

This path needs one `buffers()` call (every node's buffers, depth first) and reads each leaf
where it lies, in one straight-line function generated per type like the encoder (it *is* the
encoder's generator, `_EncoderGen`, given other value expressions, so alignment and padding come
from the one model, `Alignment`). It is taken only when every offset in the tree is provably 0,
which is decided from the buffers themselves:

- the row's own `offset` is 0, its length 1, and no node has a validity buffer (no nulls);
- a leaf's data buffer is exactly as long as the rows it must hold (one row: exactly one value,
  read by `struct.unpack`, which refuses any other length; under an array of messages: the
  list's end offset times the element size). A child of a struct holds at least the struct's
  offset + length rows, so an exact length leaves no room for an offset in the leaf or in any
  struct above it; likewise a string's or a list's offsets buffer of exactly rows + 1 entries;
- a bool's bit offset cannot be told from its one byte, so a bool asks its node for it
  (`StructArray.field`, which applies every parent's offset); bools inside arrays of messages,
  arrays of bools or strings, and arrays inside arrays of messages are not taken here;
- so does a fixed-size list, and any offset makes the function give up: one made by
  `pa.Array.from_buffers(..., offset=1, children=[one row's values])` passes pyarrow's validation
  though it reaches past its values, and its values buffer is still exactly one row long.

Anything else (a slice with an offset, a null, a buffer of another length, a string with a NUL or
over its bound, invalid UTF-8) makes the function give up, and the general path encodes the row
or names the problem. Numeric arrays are copied once, by the final `b"".join`, from the Arrow
buffer itself (CDR little-endian is Arrow's memory on a little-endian host; on a big-endian host
this path is not made). Output is byte for byte the general path's (tests/msgconv/
test_buffer_encoder.py compares both, and rosbags, on generated PointCloud2 rows and on random
types).
"""

from __future__ import annotations

import operator
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .cdr_encoder import Fallback, _EncoderGen, generated_namespace
from .definitions import PRIMITIVES, Field, MessageDefinition

if TYPE_CHECKING:
    from .registry import TypeSource

__all__ = ["BufferEncoder", "buffer_encoder"]

# What a generated function raises when the row is not one it takes (the general path decides).
_GIVES_UP = (
    Fallback,
    struct.error,
    TypeError,
    ValueError,
    IndexError,
    OverflowError,
    UnicodeDecodeError,
)


class _Unsupported(Exception):
    """The type has a part this path does not read; the codec has no buffer encoder."""


def _bool_at(bitmap: Any, node: Any, path: tuple[int, ...]) -> bool:
    """The bool of a one-row bool leaf: its bit in `bitmap`, at the offset that
    `node.field(path[0]).field(path[1])...` has (IndexError past the bitmap's end).

    A one-byte bitmap of all zeros or all ones gives the value whatever the offset (0-7), and
    saves the `field` calls: right after a large copy, each costs ~7 us (benchmarks/msgconv.py).
    """
    if len(bitmap) == 1:
        byte = bitmap[0]
        if byte == 0:
            return False
        if byte == 255:
            return True
    for i in path:
        node = node.field(i)
    offset: int = node.offset
    return (bitmap[offset >> 3] >> (offset & 7)) & 1 == 1


@dataclass(frozen=True)
class _Rows:
    """Where the generated code is: the whole row (`index` None) or inside an array of messages,
    at element `index` of `count` elements (the array's end offset), setting up its buffer
    views in `setup` before the loop."""

    index: str | None = None
    count: str = "1"
    setup: list[str] | None = None
    path: tuple[int, ...] = ()  # the field indices from the row to this struct (for a bool)


class _BufferEncoderGen(_EncoderGen):
    """Writes `def encode(a) -> bytes` reading a one-row struct array's buffers (`b`)."""

    def __init__(self, definition: MessageDefinition, registry: TypeSource) -> None:
        # Names this generator adds (R, P, o, m, d, i, V + a number) must never spell one of these:
        # an unpack named U32 once replaced the count's struct.
        super().__init__(definition, registry, True, generated_namespace(BOOL_AT=_bool_at))
        self.next_buffer = 0
        self.validity: list[int] = []
        self.pair: str | None = None

    def two_offsets(self) -> str:
        """The name of the unpack of a one-row offsets buffer: exactly two int32 (no offset
        fits), named through `_Source.name` like every other."""
        if self.pair is None:
            self.pair = self.src.name("P", struct.Struct("=ii").unpack)
        return self.pair

    def take(self, count: int) -> int:
        """The position in `buffers()` of a node with `count` buffers (its validity first)."""
        at = self.next_buffer
        self.validity.append(at)
        self.next_buffer += count
        return at

    def setup(self, rows: _Rows, line: str) -> None:
        assert rows.setup is not None
        rows.setup.append(line)

    def body(self, definition: MessageDefinition, arrow: pa.StructType, rows: _Rows) -> None:
        """The fields of one struct node (its validity buffer already taken)."""
        if tuple(f.name for f in arrow) != definition.field_names:
            raise _Unsupported(f"{definition.name}: Arrow fields differ from the definition")
        if not definition.fields:
            self.scalar("uint8", "0")
            return
        for i, (f, af) in enumerate(zip(definition.fields, arrow, strict=True)):
            self.leaf(f, af.type, rows, i)

    def leaf(self, f: Field, arrow: pa.DataType, rows: _Rows, index: int) -> None:
        t = f.type
        if not t.array:
            if t.is_nested:
                self.take(1)
                sub = _Rows(rows.index, rows.count, rows.setup, (*rows.path, index))
                self.body(self.registry.message(t.name), arrow, sub)
            elif t.is_string:
                self.string(t, self.string_value(rows))
            elif t.name == "bool":
                if rows.index is not None:
                    raise _Unsupported(f"{f.name}: a bool inside an array of messages")
                at = self.take(2) + 1
                self.scalar("bool", f"BOOL_AT(b[{at}], a, {(*rows.path, index)!r})")
            else:
                self.scalar(t.name, self.number_value(t.name, rows))
            return
        if t.is_primitive and not t.is_string:
            self.numbers(f, arrow, rows, index)
        elif t.is_nested and rows.index is None:
            self.messages(f, arrow, (*rows.path, index))
        else:
            raise _Unsupported(f"{f.name}: {t.name} array here")

    def number_value(self, prim_name: str, rows: _Rows) -> str:
        code = PRIMITIVES[prim_name].code
        at = self.take(2) + 1
        if rows.index is None:  # `unpack` takes exactly one value's bytes: no offset fits
            unpack = self.src.name("R", struct.Struct("=" + code).unpack)
            return f"{unpack}(b[{at}])[0]"
        view = self.src.name("m")
        self.setup(rows, f"{view} = memoryview(b[{at}]).cast({code!r})")
        self.setup(rows, f"if len({view}) != {rows.count}: raise Fallback")
        return f"{view}[{rows.index}]"

    def string_value(self, rows: _Rows) -> str:
        at = self.take(3) + 1
        if rows.index is None:
            ends = self.src.name("o")
            # `=ii` takes exactly two offsets: no offset fits
            self.emit(f"{ends} = {self.two_offsets()}(b[{at}])")
            return f"str(memoryview(b[{at + 1}])[{ends}[0]:{ends}[1]], 'utf-8')"
        ends, data = self.src.name("o"), self.src.name("d")
        self.setup(rows, f"{ends} = memoryview(b[{at}]).cast('i')")
        self.setup(rows, f"if len({ends}) != {rows.count} + 1: raise Fallback")
        self.setup(rows, f"{data} = memoryview(b[{at + 1}])")
        i = rows.index
        return f"str({data}[{ends}[{i}]:{ends}[{i} + 1]], 'utf-8')"

    def fixed_list_offset(self, path: tuple[int, ...]) -> None:
        """Give up on a fixed-size list with an offset.

        Its values buffer of exactly one row's length does not rule one out: a list made by
        `pa.Array.from_buffers(..., offset=1, children=[values])` passes pyarrow's validation
        (pyarrow 26) though it reaches past its values; the general path names it.
        """
        node = "a" + "".join(f".field({i})" for i in path)
        self.emit(f"if {node}.offset: raise Fallback")

    def numbers(self, f: Field, arrow: pa.DataType, rows: _Rows, index: int) -> None:
        """A numeric array of the whole row: its Arrow values are its CDR elements."""
        t = f.type
        prim = PRIMITIVES[t.name]
        if prim.name == "bool" or rows.index is not None:
            raise _Unsupported(f"{f.name}: {t.name} array here")
        self.flush()
        size = prim.size
        data = self.src.name("x")
        if t.array == "fixed":
            assert t.length is not None
            self.take(1)  # the fixed-size list node, then its values: validity, data
            self.fixed_list_offset((*rows.path, index))
            at = self.take(2) + 1
            self.emit(f"{data} = b[{at}]")
            self.emit(f"if len({data}) != {t.length * size}: raise Fallback")
            self.align(size)
            self.flush()
            self.emit(f"parts.append({data})")
            self.emit(f"pos += {t.length * size}")
            self.at.advance(t.length * size)
            return
        at = self.take(2) + 1  # the list node: validity, offsets; then its values
        values = self.take(2) + 1
        ends = self.src.name("o")
        self.emit(f"{ends} = {self.two_offsets()}(b[{at}])")
        self.emit(f"{data} = b[{values}]")
        self.emit(f"if len({data}) != {ends}[1] * {size}: raise Fallback")
        self.emit(f"n = {ends}[1] - {ends}[0]")
        self.length_check(t, "n")
        self.count("n")
        self.elements(size, "n")
        self.emit(f"parts.append(memoryview({data})[{ends}[0] * {size}:])")
        self.emit(f"pos += n * {size}")

    def messages(self, f: Field, arrow: pa.DataType, path: tuple[int, ...]) -> None:
        """An array of nested messages of the whole row: a loop over its elements."""
        t = f.type
        self.flush()
        if t.array == "fixed":
            assert t.length is not None
            self.take(1)
            self.fixed_list_offset(path)
            first, end = "0", str(t.length)
        else:
            at = self.take(2) + 1
            ends = self.src.name("o")
            self.emit(f"{ends} = {self.two_offsets()}(b[{at}])")
            first, end = f"{ends}[0]", f"{ends}[1]"
            self.emit(f"n = {end} - {first}")
            self.length_check(t, "n")
            self.count("n")
        self.take(1)  # the elements' struct node
        i = self.src.name("i")
        setup: list[str] = []
        rows = _Rows(i, end, setup)
        mark = len(self.src.lines)
        self.emit(f"for {i} in range({first}, {end}):")
        self.ind += "    "
        self.at.forget()  # the loop body runs at offsets of every alignment
        self.body(self.registry.message(t.name), arrow.value_type, rows)
        self.flush()
        self.ind = self.ind[:-4]
        self.at.forget()
        self.src.lines[mark:mark] = [self.ind + line for line in setup]

    def generate(self, arrow: pa.StructType) -> str:
        self.take(1)
        self.body(self.definition, arrow, _Rows())
        self.flush()
        validity = self.src.name("V", _getter(self.validity))
        self.src.ns["NONES"] = (None,) * len(self.validity)
        return "\n".join(
            [
                "def encode(a):",
                "    if len(a) != 1 or a.offset: raise Fallback",
                "    b = a.buffers()",
                f"    if len(b) != {self.next_buffer}: raise Fallback",
                # a Buffer compared with None raises TypeError: given up as well
                f"    if {validity}(b) != NONES: raise Fallback",
                "    parts = [HEADER]",
                "    pos = 0",
                *self.src.lines,
                "    return b''.join(parts)",
            ]
        )


def _getter(positions: list[int]) -> Callable[[list[Any]], tuple[Any, ...]]:
    """The items at `positions` as a tuple, in one C call."""
    if len(positions) == 1:
        only = positions[0]
        return lambda items: (items[only],)
    return operator.itemgetter(*positions)


class BufferEncoder:
    """The buffer encoder of one type: `encode(array)` gives CDR bytes, or None to say the general
    path must encode this row (see the module docstring)."""

    def __init__(self, arrow_type: pa.StructType, source: str, function: Any) -> None:
        self.arrow_type = arrow_type
        self.source = source
        self._encode = function

    def encode(self, array: pa.StructArray) -> bytes | None:
        """CDR (little-endian) of a one-row struct array of exactly `arrow_type`, or None."""
        try:
            blob: bytes = self._encode(array)
        except _GIVES_UP:
            return None
        return blob


def buffer_encoder(
    definition: MessageDefinition, arrow_type: pa.StructType, registry: TypeSource
) -> BufferEncoder | None:
    """The buffer encoder of a type, or None where it has a part this path does not read."""
    if sys.byteorder != "little":  # numeric arrays are copied as Arrow holds them
        return None
    gen = _BufferEncoderGen(definition, registry)
    try:
        source = gen.generate(arrow_type)
    except _Unsupported:
        return None
    namespace = gen.src.ns
    exec(compile(source, f"<msgconv buffer encoder {definition.name}>", "exec"), namespace)
    return BufferEncoder(arrow_type, source, namespace["encode"])
