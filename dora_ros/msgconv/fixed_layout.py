"""One-call decode and encode of message types whose CDR has one fixed layout (public pyarrow only).

A type qualifies when every field, at any depth of nested (non-array) messages, is a number or a
fixed array of numbers (`geometry_msgs/Twist`, `Pose`, `PoseWithCovariance`, `builtin_interfaces/
Time`): then every value sits at an offset known in advance (`Alignment`, the one CDR model of
`cdr_alignment`), and no per-field Python work is needed. Bools are left to the generated code (a
CDR byte other than 0/1 must be refused there, not copied into an Arrow bitmap).

Decode writes into an arena. An arena is a new `bytearray` holding N slots of every leaf column
(leaf j's column at its own 8-aligned base, N * count_j elements), wrapped once by `pa.py_buffer`
and built once into an N-row struct array of exactly the registry's type (`pa.Array.from_buffers`
per node; fixed arrays as `FixedSizeList` children). A decode takes the arena's next free slot,
reads the message with one `struct.unpack_from` in the data's byte order (unsigned codes of each
value's size, so every bit, NaN payloads included, is carried over), writes each value into its
slot by item assignment into a memoryview of that unsigned code (a fixed array: a byte copy of its
slot when the data's byte order is the host's, else one `pack_into`), and returns
`arena.slice(slot, 1)`: one public call instead of building a 9-node tree (a Twist in ~0.65x
the time of rosbags' `deserialize_cdr` in benchmarks/msgconv.py, where `pa.ipc.read_record_batch`
alone took ~1.7-2.3x; docs/benchmarks.md). Rules that keep the arrays handed out immutable:

- a slot is written exactly once, before its slice exists, and never again: a full arena is
  replaced by a new one (no wrap-around); an old arena lives as long as a slice of it does;
- N is 4 KiB divided by the bytes of one row (at least 1, at most 256), so a kept message pins
  at most ~4 KiB (or one row, if a row is larger; `pa.concat_arrays([msg])` copies it alone, see
  docs/msgconv.md), and making an arena (~10 us) is shared by N decodes (a Twist's 85: ~0.1 us a
  decode; 16 KiB arenas were no faster in benchmarks/msgconv.py, and made a kept Twist pin 16 KiB);
- slots are taken without a lock: `next()` of the arena's `itertools.count()` is one C call,
  atomic under the GIL, so two threads never get the same slot; only replacing a full arena takes
  the layout's lock, and a thread that finds the arena already replaced takes a slot of the new
  one.

Encode from a one-row `pa.StructArray` of exactly the registry's type: `buffers()` (one call) gives
every leaf's data buffer; when no validity buffer exists and each leaf buffer holds exactly its one
value (so no offset can apply), their bytes are the CDR body: joined behind the header as they are
where CDR has no padding between them, else repacked by one unpack/pack. A row with offsets (a
decoded message, a slice, a row rebuilt from several messages' fields) is read by a generated
reader through `StructArray.field`, which applies each parent's offset, and each leaf's own
`offset` (bounds checked by `struct`).

Each layout checks itself once when made (its decode and encode must give what the generated code
gives on distinct sentinel values); a type whose check fails, or any input it does not take,
goes the general way, which also names every error.
"""

from __future__ import annotations

import itertools
import operator
import struct
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .arrow_checks import fixed_list_paths, node_at
from .cdr_alignment import Alignment
from .cdr_encoder import HEADER_LE
from .definitions import PRIMITIVES, MessageDefinition

if TYPE_CHECKING:
    from .registry import TypeSource

__all__ = ["FixedLayout", "fixed_layout"]

_UNSIGNED = {1: "B", 2: "H", 4: "I", 8: "Q"}
_MAX_LEAVES = 256
_ARENA_BYTES = 4 * 1024  # the memory one kept decoded message can pin (or one row, if larger)
_MAX_SLOTS = 256  # a tiny row (builtin_interfaces/Time, 8 bytes) makes a 2 KiB arena
_STRUCT, _LIST, _NUMBER = range(3)  # the kinds of node in `_plan`
_HOST = "<" if sys.byteorder == "little" else ">"
_OTHER = ">" if _HOST == "<" else "<"


class _NotFixed(Exception):
    pass


class _Arena:
    """N rows of one fixed-layout type, each written once by a decode (see the module docstring)."""

    __slots__ = ("B", "H", "I", "Q", "array", "memory", "slots")

    def __init__(self, layout: FixedLayout) -> None:
        n = layout.slots
        self.memory = bytearray(layout.arena_bytes + 8)
        whole = pa.py_buffer(self.memory)
        shift = -whole.address % 8  # every column 8-aligned, as Arrow expects
        raw = memoryview(self.memory)[shift : shift + layout.arena_bytes]
        # one view per unsigned code (attributes named by it), indexed by element in that size
        self.B, self.H, self.I, self.Q = raw, raw.cast("H"), raw.cast("I"), raw.cast("Q")
        self.slots = itertools.count()
        columns = iter(
            [whole.slice(shift + base, n * size * count) for base, size, count in layout.columns]
        )

        def build(dtype: pa.DataType, length: int) -> pa.Array:
            if pa.types.is_struct(dtype):
                children = [build(f.type, length) for f in dtype]
                return pa.Array.from_buffers(dtype, length, [None], children=children)
            if pa.types.is_fixed_size_list(dtype):
                values = build(dtype.value_type, length * dtype.list_size)
                return pa.Array.from_buffers(dtype, length, [None], children=[values])
            return pa.Array.from_buffers(dtype, length, [None, next(columns)])

        self.array = build(layout.arrow_type, n)


class FixedLayout:
    """The CDR and arena layouts of one fixed-layout type (its description is immutable once made;
    the current arena is the only state, replaced under a lock)."""

    def __init__(self, arrow_type: pa.StructType, leaves: list[tuple[int, int, int]]) -> None:
        # leaves: (CDR offset in the body, element size, element count), depth first
        self.arrow_type = arrow_type
        self.leaves = tuple(leaves)
        cdr = ""
        end = 0
        for offset, size, count in leaves:
            cdr += "x" * (offset - end) + f"{count}{_UNSIGNED[size]}"
            end = offset + size * count
        self.cdr_size = end
        self.cdr_le = struct.Struct("<" + cdr)
        self.cdr_be = struct.Struct(">" + cdr)
        self.cdr_le_header = struct.Struct("<4s" + cdr)
        self.native = struct.Struct("=" + "".join(f"{c}{_UNSIGNED[s]}" for _, s, c in leaves))
        self.leaf_bytes = self.native.size
        self.cdr_end = 4 + self.cdr_size  # the bytes a message needs, header included
        # the arena: N slots of each leaf's column, each column 8-aligned
        self.slots = max(1, min(_MAX_SLOTS, _ARENA_BYTES // self.leaf_bytes))
        columns = []
        at = 0
        for _, size, count in leaves:
            columns.append((at, size, count))
            at += self.slots * size * count
            at += -at % 8
        self.columns = tuple(columns)
        self.arena_bytes = at
        self._lock = threading.Lock()
        self.decode = self._generate_decode()
        self._arena = _Arena(self)
        # Where the leaves follow each other in CDR with no padding, the CDR body of an encode is
        # the leaves' data buffers joined (Twist, Pose, PoseWithCovariance, ...).
        packed_end = 0
        contiguous = True
        for offset, size, count in leaves:
            contiguous = contiguous and offset == packed_end
            packed_end = offset + size * count
        self.join_le = sys.byteorder == "little" and contiguous
        # how many buffers `StructArray.buffers()` lists: a struct node has one (validity), a
        # number two (validity, data), a fixed-size list one and its child's
        self.data_positions: tuple[int, ...] = ()
        self.buffer_count = 0
        self._positions(arrow_type)
        validity = [i for i in range(self.buffer_count) if i not in self.data_positions]
        self._no_validity = (None,) * len(validity)
        self._validity = _getter(validity)
        self._plan = _plan(arrow_type, iter(range(len(leaves))))
        self._read_sliced = self._generate_sliced_reader()
        self.sentinel = self._sentinel()
        # The field paths to each fixed-size list: its offset is the one a one-row buffer length
        # cannot show (`pa.Array.from_buffers` lets a fixed-size list's offset point past its
        # values, and pyarrow 26's validation does not see it), so `encode` asks it of the node.
        self._fixed_lists = fixed_list_paths(arrow_type)
        self._no_lists = not self._fixed_lists  # Twist: no check at all (one attribute read)

    def _generate_decode(self) -> Callable[[Any], pa.StructArray | None]:
        """The decoder of this type: straight-line Python, compiled once (see `decode`)."""

        def fmt(order: str) -> struct.Struct:
            # the header's two bytes, then the values; in the host's order a fixed array is read
            # as its bytes (copied into its slot as they are)
            body = "2B2x"
            end = 0
            for offset, size, count in self.leaves:
                body += "x" * (offset - end)
                body += (
                    f"{size * count}s" if count > 1 and order == _HOST else _UNSIGNED[size] * count
                )
                end = offset + size * count
            return struct.Struct(order + body)

        def writes(order: str) -> list[str]:
            lines = []
            used = set()  # the views (named by their unsigned code) this order writes through
            k = 2  # values[0:2] are the header's bytes
            for j, (base, size, count) in enumerate(self.columns):
                code = _UNSIGNED[size]
                if count == 1:
                    lines.append(f"{code}[{base // size} + s] = v[{k}]")
                    used.add(code)
                    k += 1
                elif order == _HOST:
                    nbytes = size * count
                    lines.append(
                        f"B[{base} + s * {nbytes} : {base + nbytes} + s * {nbytes}] = v[{k}]"
                    )
                    used.add("B")
                    k += 1
                else:
                    lines.append(f"pack_{j}(B, {base} + s * {size * count}, *v[{k} : {k + count}])")
                    used.add("B")
                    k += count
            return [f"{code} = a.{code}" for code in sorted(used)] + lines

        host, other = fmt(_HOST), fmt(_OTHER)
        host_kind = 1 if _HOST == "<" else 0  # the CDR encapsulation kind of host-order data
        same = writes(_HOST) == writes(_OTHER)  # both orders write alike: no fixed arrays
        src = [
            "def decode(data):",
            "    try:  # one call checks the length and reads the header and every value",
            "        v = unpack_host(data)",
            "    except (struct.error, TypeError, ValueError, BufferError):",
            "        return None",
            "    host = True",
            f"    if v[0] or v[1] != {host_kind}:",
            f"        if v[0] or v[1] != {1 - host_kind}:",
            "            return None",
            "        v = unpack_other(data)",
            "        host = False",
            "    a = layout._arena",
            "    s = next(a.slots)",
            f"    if s >= {self.slots}:",
            "        a, s = layout._fresh(a)",
        ]
        if same:
            src += ["    " + line for line in writes(_HOST)]
        else:
            src += ["    if host:", *("        " + line for line in writes(_HOST))]
            src += ["    else:", *("        " + line for line in writes(_OTHER))]
        src.append("    return a.array.slice(s, 1)")
        if same:
            src = [line for line in src if "host = " not in line]
        namespace: dict[str, Any] = {
            "struct": struct,
            "layout": self,
            "unpack_host": host.unpack_from,
            "unpack_other": other.unpack_from,
        }
        for j, (_, size, count) in enumerate(self.leaves):
            namespace[f"pack_{j}"] = struct.Struct(f"={count}{_UNSIGNED[size]}").pack_into
        self.decoder_source = "\n".join(src) + "\n"
        exec(
            compile(self.decoder_source, f"<fixed layout decode of {self.arrow_type}>", "exec"),
            namespace,
        )
        decode: Callable[[Any], pa.StructArray | None] = namespace["decode"]
        return decode

    def _fresh(self, full: _Arena) -> tuple[_Arena, int]:
        """A slot of a new arena, `full` having none left (only this takes the lock)."""
        with self._lock:
            arena = self._arena
            while True:
                if arena is not full:
                    slot = next(arena.slots)
                    if slot < self.slots:
                        return arena, slot
                full = arena
                arena = self._arena = _Arena(self)

    def _positions(self, dtype: pa.DataType) -> None:
        at = self.buffer_count
        if pa.types.is_struct(dtype):
            self.buffer_count += 1
            for child in dtype:
                self._positions(child.type)
        elif pa.types.is_fixed_size_list(dtype):
            self.buffer_count += 1
            self._positions(dtype.value_type)
        else:
            self.data_positions += (at + 1,)
            self.buffer_count += 2

    def _sentinel(self) -> pa.StructArray:
        """A one-row array with a distinct small value in every element (for the self-check).

        Element k (counted over the whole message, depth first) holds 1 + k modulo the largest
        value its type holds (never 0, the value of padding and of a missed write): distinct from
        its neighbours, so a misplaced leaf or element shows, and within range of every width (the
        plain 1..N of before overflowed a uint8 after 255 elements, `float64[600] v` then
        `uint8 k`, and silently cost such a type its fast path).
        """
        counter = itertools.count()

        def value(dtype: pa.DataType) -> int:
            k = next(counter)
            if pa.types.is_integer(dtype):
                top = (1 << (dtype.bit_width - (1 if pa.types.is_signed_integer(dtype) else 0))) - 1
            else:  # float32 holds every integer up to 2**24 exactly
                top = 1 << (24 if dtype.bit_width == 32 else 53)
            return 1 + k % top

        def build(dtype: pa.DataType) -> Any:
            if pa.types.is_struct(dtype):
                return {f.name: build(f.type) for f in dtype}
            if pa.types.is_fixed_size_list(dtype):
                return [value(dtype.value_type) for _ in range(dtype.list_size)]
            return value(dtype)

        return pa.array([build(self.arrow_type)], type=self.arrow_type)

    def encode(self, array: pa.StructArray) -> bytes | None:
        """CDR (little-endian) of a one-row struct array of exactly this type, or None.

        With no validity buffer anywhere and each leaf's data buffer exactly one row's bytes long,
        every offset in the tree must be 0 (a child of a struct holds at least the parent's
        offset + length rows), so the buffers are the values. That case is found by joining every
        non-empty buffer `buffers()` lists, in order: each leaf's data buffer holds at least one
        value, so the bytes add up to one row's only if no validity buffer (at least one byte)
        is among them and every leaf buffer holds exactly its value (no `None` test per position:
        Twist ~0.1 us less, benchmarks/msgconv.py). Otherwise (a decoded message, a slice) each
        leaf is found through the offsets (`_sliced_leaves`) once no validity buffer is seen.
        """
        if len(array) != 1:
            return None
        buffers = array.buffers()
        if len(buffers) != self.buffer_count:
            return None
        if array.offset == 0 and (
            self._no_lists or not any(node_at(array, p).offset for p in self._fixed_lists)
        ):  # else an offset applies: not the one-value-per-buffer case
            if self.join_le:
                blob = b"".join((HEADER_LE, *filter(None, buffers)))
                if len(blob) == self.cdr_end:
                    return blob
            else:
                raw = b"".join(filter(None, buffers))
                if len(raw) == self.leaf_bytes:
                    return self.cdr_le_header.pack(HEADER_LE, *self.native.unpack(raw))
        try:
            # a validity buffer anywhere: the general path decides (a Buffer compared with None
            # raises TypeError)
            if self._validity(buffers) != self._no_validity:
                return None
        except TypeError:
            return None
        try:
            values = self._read_sliced(array, buffers)
        except (struct.error, TypeError):  # a buffer too short, or none
            return None
        return self.cdr_le_header.pack(HEADER_LE, *values)

    def _generate_sliced_reader(self) -> Callable[[pa.StructArray, list[Any]], tuple[int, ...]]:
        """The reader of a one-row array with offsets and no validity buffer: its values.

        `StructArray.field` returns a child with its parent's offset applied, so a leaf's own
        `offset` (and, under a fixed-size list, the list's offset times its size plus the values'
        offset) is the index of its value in its data buffer (`buffers`, the whole tree's, as
        `buffers()` lists them), read by `struct.unpack_from` in unsigned codes (which raises
        `struct.error` for a buffer too short, TypeError for none). Straight-line, generated once
        per type like the decoder: a decoded message (a slice of its arena) takes this way, Twist
        ~3.5 us, of which ~2.5 are the eight `field` calls.
        """
        lines = ["def read(n0, b):"]
        reads = []
        namespace: dict[str, Any] = {}
        names = iter(range(1, 1 << 30))

        def walk(node: str, plan: tuple[tuple[int, Any], ...]) -> None:
            for i, (kind, j) in enumerate(plan):
                name = f"n{next(names)}"
                lines.append(f"    {name} = {node}.field({i})")
                if kind == _STRUCT:
                    walk(name, j)
                    continue
                _, size, count = self.leaves[j]
                namespace[f"u{j}"] = struct.Struct(f"={count}{_UNSIGNED[size]}").unpack_from
                start = (
                    f"({name}.offset * {count} + {name}.values.offset)"
                    if kind == _LIST
                    else f"{name}.offset"
                )
                reads.append(f"u{j}(b[{self.data_positions[j]}], {start} * {size})")

        walk("n0", self._plan)
        lines.append("    return " + " + ".join(reads))
        self.sliced_reader_source = "\n".join(lines) + "\n"
        exec(compile(self.sliced_reader_source, "<fixed layout sliced reader>", "exec"), namespace)
        read: Callable[[pa.StructArray, list[Any]], tuple[int, ...]] = namespace["read"]
        return read


def _plan(dtype: pa.StructType, leaf: Iterator[int]) -> tuple[tuple[int, Any], ...]:
    """Per field of a struct type: (_STRUCT, its plan), (_LIST, leaf index) or (_NUMBER, ...)."""
    out: list[tuple[int, Any]] = []
    for f in dtype:
        if pa.types.is_struct(f.type):
            out.append((_STRUCT, _plan(f.type, leaf)))
        else:
            out.append((_LIST if pa.types.is_fixed_size_list(f.type) else _NUMBER, next(leaf)))
    return tuple(out)


def _getter(positions: list[int] | tuple[int, ...]) -> Callable[[list[Any]], tuple[Any, ...]]:
    """The items of a list at `positions`, as a tuple, in one C call (`operator.itemgetter`)."""
    if len(positions) == 1:
        only = positions[0]
        return lambda items: (items[only],)
    return operator.itemgetter(*positions)


def _leaves(
    definition: MessageDefinition,
    arrow_type: pa.StructType,
    registry: TypeSource,
    at: Alignment,
    pos: int,
    out: list[tuple[int, int, int]],
) -> int:
    names = [f.name for f in arrow_type]
    if names != [f.name for f in definition.fields]:
        raise _NotFixed("Arrow fields differ from the definition")
    for f, af in zip(definition.fields, arrow_type, strict=True):
        t = f.type
        if t.is_nested:
            if t.array or not pa.types.is_struct(af.type):
                raise _NotFixed(f.name)
            pos = _leaves(registry.message(t.name), af.type, registry, at, pos, out)
            continue
        prim = PRIMITIVES.get(t.name) if t.is_primitive else None
        if prim is None or prim.name == "bool":
            raise _NotFixed(f.name)
        leaf_type = getattr(pa, prim.arrow)()
        if t.array == "fixed":
            assert t.length is not None
            if not (
                pa.types.is_fixed_size_list(af.type)
                and af.type.list_size == t.length
                and af.type.value_type == leaf_type
            ):
                raise _NotFixed(f.name)
            count = t.length
        elif t.array:
            raise _NotFixed(f.name)
        else:
            if af.type != leaf_type:
                raise _NotFixed(f.name)
            count = 1
        pad = at.align(prim.size)
        assert pad is not None  # only fixed-size values came before
        pos += pad
        out.append((pos, prim.size, count))
        pos += prim.size * count
        at.advance(prim.size * count)
    return pos


def fixed_layout(
    definition: MessageDefinition, arrow_type: pa.StructType, registry: TypeSource
) -> FixedLayout | None:
    """The fixed layout of a type, or None if it has none (or its self-check fails)."""
    leaves: list[tuple[int, int, int]] = []
    try:
        _leaves(definition, arrow_type, registry, Alignment(8), 0, leaves)
        if not leaves or len(leaves) > _MAX_LEAVES:
            return None
        return FixedLayout(arrow_type, leaves)
    except (_NotFixed, pa.ArrowException, struct.error, ValueError, TypeError):
        return None
