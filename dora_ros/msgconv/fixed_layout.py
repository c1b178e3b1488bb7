"""One-call decode and encode of message types whose CDR has one fixed layout (public pyarrow only).

A type qualifies when every field, at any depth of nested (non-array) messages, is a number or a
fixed array of numbers (`geometry_msgs/Twist`, `Pose`, `PoseWithCovariance`, `builtin_interfaces/
Time`): then every value sits at an offset known in advance (`Alignment`, the one CDR model of
`cdr_alignment`), and no per-field Python work is needed. Bools are left to the generated code (a
CDR byte other than 0/1 must be refused there, not copied into an Arrow bitmap).

Decode: the CDR body goes into the body of an Arrow IPC record-batch message whose metadata (the
flatbuffer header) was made once per type by pyarrow itself, and `pa.ipc.read_record_batch` builds
the whole one-row struct tree in one call (the cheapest public way found: docs/benchmarks.md). A
little-endian body that already has every leaf where IPC puts it (Twist, Pose) is copied as it
is; any other is repacked by one `struct` unpack and pack (unsigned codes of each value's size, so
every bit, NaN payloads included, is carried over; `>` for big-endian data).
Encode from a one-row `pa.StructArray` of exactly the registry's type: `buffers()` (one call) gives
every leaf's data buffer; when no validity buffer exists and each leaf buffer holds exactly its one
value (so no offset can apply, see `encode`), their bytes are the CDR body: joined behind the
header as they are where CDR has no padding between them, else repacked by one unpack/pack.

Each layout checks itself once when made (its decode and encode must give what the generated code
gives on distinct sentinel values); a type whose check fails, or any input it does not take,
goes the general way, which also names every error.
"""

from __future__ import annotations

import operator
import struct
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .cdr_alignment import Alignment
from .definitions import PRIMITIVES, MessageDefinition

if TYPE_CHECKING:
    from .registry import TypeRegistry

__all__ = ["FixedLayout", "fixed_layout"]

_UNSIGNED = {1: "B", 2: "H", 4: "I", 8: "Q"}
_HEADER_LE = b"\x00\x01\x00\x00"
_MAX_LEAVES = 256


class _NotFixed(Exception):
    pass


class FixedLayout:
    """The CDR and Arrow IPC layouts of one fixed-layout type (immutable once made)."""

    def __init__(self, arrow_type: pa.StructType, leaves: list[tuple[int, int, int]]) -> None:
        # leaves: (CDR offset in the body, element size, element count), depth first
        self.arrow_type = arrow_type
        self.leaves = tuple(leaves)
        self.schema = pa.schema([pa.field("m", arrow_type, nullable=False)])
        cdr = ""
        end = 0
        for offset, size, count in leaves:
            cdr += "x" * (offset - end) + f"{count}{_UNSIGNED[size]}"
            end = offset + size * count
        self.cdr_size = end
        self.cdr_le = struct.Struct("<" + cdr)
        self.cdr_be = struct.Struct(">" + cdr)
        self.cdr_le_header = struct.Struct("<4s" + cdr)
        # the IPC body: pyarrow writes one buffer per leaf, each padded to 8 bytes
        ipc = "".join(
            f"{count}{_UNSIGNED[size]}" + "x" * (-(size * count) % 8) for _, size, count in leaves
        )
        self.native = struct.Struct("=" + "".join(f"{c}{_UNSIGNED[s]}" for _, s, c in leaves))
        self.leaf_bytes = self.native.size
        self.sentinel = self._sentinel(leaves)
        template = pa.record_batch([self.sentinel], schema=self.schema).serialize()
        body = pa.ipc.read_message(template).body
        self.prefix = bytes(template)[: template.size - body.size]
        self.ipc = struct.Struct(f"={len(self.prefix)}s" + ipc)
        if self.ipc.size != template.size:
            raise _NotFixed("the IPC body is not laid out as expected")
        self.cdr_end = 4 + self.cdr_size  # the bytes a message needs, header included
        # the encapsulation kind (its first byte must be 0, the second 0 or 1) and the body
        self.message = struct.Struct(f"2B2x{self.cdr_size}s")
        # Where the CDR body of little-endian data already is the IPC body (every leaf at the
        # same offset: doubles only, or sizes whose CDR alignment pads to 8 as IPC does), it is
        # copied as it is (one concatenation instead of an unpack and a pack: Twist ~0.3 us);
        # the bytes between leaves are padding that Arrow never reads.
        ipc_offsets = []
        at = 0
        for _, size, count in leaves:
            ipc_offsets.append(at)
            at += size * count + (-(size * count) % 8)
        little = sys.byteorder == "little"
        self.copy_le = little and ipc_offsets == [offset for offset, _, _ in leaves]
        self.ipc_tail = b"\x00" * (template.size - len(self.prefix) - self.cdr_size)
        # Where the leaves follow each other in CDR with no padding, the CDR body of an encode is
        # the leaves' data buffers joined (Twist, Pose, PoseWithCovariance, ...).
        packed_end = 0
        contiguous = True
        for offset, size, count in leaves:
            contiguous = contiguous and offset == packed_end
            packed_end = offset + size * count
        self.join_le = little and contiguous
        # how many buffers `StructArray.buffers()` lists: a struct node has one (validity), a
        # number two (validity, data), a fixed-size list one and its child's
        self.data_positions: tuple[int, ...] = ()
        self.buffer_count = 0
        self._positions(arrow_type)
        validity = [i for i in range(self.buffer_count) if i not in self.data_positions]
        self._no_validity = (None,) * len(validity)
        self._validity = _getter(validity)
        self._data = _getter(self.data_positions)

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

    def _sentinel(self, leaves: list[tuple[int, int, int]]) -> pa.StructArray:
        """A one-row array with a distinct small value in every element (for the self-check)."""
        values: list[int] = []
        k = 1
        for _, _, count in leaves:
            values.extend(range(k, k + count))
            k += count
        raw = self.native.pack(*values)
        return self._build(raw)

    def _build(self, native_leaves: bytes) -> pa.StructArray:
        """The one-row array of leaf values packed by `self.native` (used to make the template)."""
        flat = iter(self.native.unpack(native_leaves))
        plan = self.arrow_type

        def build(dtype: pa.DataType) -> Any:
            if pa.types.is_struct(dtype):
                return {f.name: build(f.type) for f in dtype}
            if pa.types.is_fixed_size_list(dtype):
                return [next(flat) for _ in range(dtype.list_size)]
            return next(flat)

        row = build(plan)
        return pa.array([row], type=plan)

    def decode(self, data: Any) -> pa.StructArray | None:
        """The one-row struct array of a CDR message, or None (the general way decides).

        Reads the raw bytes of any C-contiguous buffer, as the general way does (`Codec._view`
        casts it to bytes); None for anything shorter than the message or without a CDR_LE or
        CDR_BE header: the general way then reads it or names the error.
        """
        try:  # one call checks the length and takes the header and the body
            zero, kind, body = self.message.unpack_from(data)
        except (struct.error, TypeError, ValueError, BufferError):
            return None
        if zero:
            return None
        if kind == 1:
            if self.copy_le:
                packed = self.prefix + body + self.ipc_tail
            else:
                packed = self.ipc.pack(self.prefix, *self.cdr_le.unpack(body))
        elif kind == 0:
            packed = self.ipc.pack(self.prefix, *self.cdr_be.unpack(body))
        else:
            return None
        buffer = pa.py_buffer(packed)
        if buffer.address % 8:  # every leaf's buffer 8-aligned, as Arrow expects
            buffer = pa.py_buffer(bytearray(packed))
            if buffer.address % 8:
                return None
        array: pa.StructArray = pa.ipc.read_record_batch(buffer, self.schema).column(0)
        return array

    def encode(self, array: pa.StructArray) -> bytes | None:
        """CDR (little-endian) of a one-row struct array of exactly this type, or None.

        Sound without reading any offset: with no validity buffer anywhere and each leaf's data
        buffer exactly one row's bytes long, every offset in the tree must be 0 (a child of a
        struct holds at least the parent's offset + length rows).
        """
        if len(array) != 1:
            return None
        buffers = array.buffers()
        # No validity buffer, and the data buffers' bytes, each at least one value long, add up
        # to one row's: then no offset or slice can apply.
        if len(buffers) != self.buffer_count:
            return None
        try:
            # a validity buffer anywhere: the general path decides (a Buffer compared with None
            # raises TypeError)
            if self._validity(buffers) != self._no_validity:
                return None
            leaves = self._data(buffers)
            if self.join_le:
                blob = b"".join((_HEADER_LE, *leaves))
                return blob if len(blob) == self.cdr_end else None
            raw = b"".join(leaves)
        except TypeError:
            return None
        if len(raw) != self.leaf_bytes:
            return None
        return self.cdr_le_header.pack(_HEADER_LE, *self.native.unpack(raw))


def _getter(positions: list[int] | tuple[int, ...]) -> Callable[[list[Any]], tuple[Any, ...]]:
    """The items of a list at `positions`, as a tuple, in one C call (`operator.itemgetter`)."""
    if len(positions) == 1:
        only = positions[0]
        return lambda items: (items[only],)
    return operator.itemgetter(*positions)


def _leaves(
    definition: MessageDefinition,
    arrow_type: pa.StructType,
    registry: TypeRegistry,
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
    definition: MessageDefinition, arrow_type: pa.StructType, registry: TypeRegistry
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
