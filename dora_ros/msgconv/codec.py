"""A message type's codec: Arrow (or dicts) -> CDR bytes and CDR bytes -> Arrow.

`Codec` glues the parts: Arrow values become dict trees (primitive arrays as numpy views of the
Arrow buffers, so no per-element Python objects), the generated encoder writes CDR (falling back to
the reference encoder for precise errors), the generated decoder reads dict trees (primitive
sequences as numpy views of the input), and `to_arrow` builds the struct array (`arrow_build`).
A one-row struct array of exactly the codec's type is encoded without a dict tree where
`fixed_layout` (types of numbers only) or `buffer_encoder` (most others) can prove it has no offset.

Zero-copy rule on decode: a primitive sequence (`uint8[]`, `float32[]`, `float64[]`, ...) that sits
at the top level or inside nested (non-array) structs becomes an Arrow array whose buffer points
into the input bytes when the data is little-endian and its address is aligned for the element;
otherwise it is copied once. Other values are copied (they are small).
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import pyarrow as pa

from . import native
from .arrow_build import build_struct_array
from .arrow_checks import bad_utf8, check_fixed_lists, fixed_list_paths
from .buffer_encoder import BufferEncoder, buffer_encoder
from .cdr_columns import ColumnDecoder, columnar_ok
from .cdr_decoder import Truncated, generate_decoder
from .cdr_encoder import Fallback, generate_encoder
from .cdr_reference import HEADER_LE, decode_reference, encode_reference
from .definitions import MessageDefinition
from .errors import CdrError, MsgConvError, ValueKindError, a_or_an
from .fixed_layout import FixedLayout, fixed_layout

if TYPE_CHECKING:
    from .registry import TypeRegistry, TypeSource

__all__ = ["Codec"]

_DECODE_ERRORS = (Truncated, struct.error, ValueError, UnicodeDecodeError, OverflowError)
# What a generated encoder may raise to hand a value to the reference encoder.
_FAST_ENCODE_GIVES_UP = (
    Fallback,
    struct.error,
    TypeError,
    ValueError,
    AttributeError,
    OverflowError,
    KeyError,
)


class Codec:
    """Encoder, decoder and Arrow type of one message type (made and cached by a TypeRegistry)."""

    def __init__(self, definition: MessageDefinition, registry: TypeRegistry) -> None:
        self.definition = definition
        # every type this codec reads, as it is now: a codec held across a redefinition keeps
        # working on the types it was built from, its reference codec and lazy parts included
        # (registry.py); named `registry` as the generators' argument is
        types = registry.snapshot(definition.name)
        self.registry: TypeSource = types
        self.arrow_type = types.arrow_type(definition.name)
        self._encode, self._encode_body, self.encoder_source = generate_encoder(definition, types)
        self._decode_le, self.decoder_source = generate_decoder(definition, types, "<")
        # Made on first use (big-endian data and decode_many are rarer). Two threads may both make
        # one; each is complete before it is stored and they are equal, so either may win.
        self._decode_be: Any = None
        self._has_arrays = self._any_prim_array(definition)
        self._fixed_lists = fixed_list_paths(self.arrow_type)
        self._columnar = columnar_ok(definition, types)
        self._columns: dict[str, ColumnDecoder] = {}
        self._plans = _RowPlans(types)
        self._fixed = self._checked(fixed_layout(definition, self.arrow_type, types))
        # Made on the first encode of a struct array of exactly this type (types of numbers only
        # have `_fixed` instead); None where the type has a part it does not read.
        self._from_buffers: BufferEncoder | Literal[False] | None = False

    def _checked(self, layout: FixedLayout | None) -> FixedLayout | None:
        """`layout`, if it decodes and encodes its sentinel row as the generated code does."""
        if layout is None:
            return None
        try:
            blob = self._encode(layout.sentinel.to_pylist()[0])
            general = self.to_arrow([self.decode_tree(blob)])
            fast = layout.decode(memoryview(blob))
            if fast is not None and fast.equals(general) and layout.encode(fast) == blob:
                return layout
        except (*_FAST_ENCODE_GIVES_UP, *_DECODE_ERRORS, MsgConvError, pa.ArrowException):
            pass
        return None

    # --- plans ---------------------------------------------------------------------------------

    def _any_prim_array(self, definition: MessageDefinition) -> bool:
        for f in definition.fields:
            if f.type.is_primitive and f.type.array:
                return True
            if f.type.is_nested and self._any_prim_array(self.registry.message(f.type.name)):
                return True
        return False

    # --- encode --------------------------------------------------------------------------------

    def encode_tree(self, tree: Any) -> bytes:
        """CDR of one message given as a dict tree (the fast path, else the reference)."""
        try:
            return self._encode(tree)
        except _FAST_ENCODE_GIVES_UP:
            pass  # the reference encoder says precisely what is wrong, or converts leniently
        return encode_reference(self.definition, tree, self.registry)

    def encode(self, value: Any) -> bytes:
        """One message from a dict, a one-row struct array, a StructScalar or `pa.array([{...}])`."""
        # A one-row struct array of exactly this type is read from its buffers where every offset
        # is provably 0 (`fixed_layout`, `buffer_encoder`); anything else goes the general way.
        # `type.equals`: `==` does the same after a try (~0.03 us)
        if type(value) is pa.StructArray and value.type.equals(self.arrow_type):
            fast = self._fixed if self._fixed is not None else self._buffer_encoder()
            if fast is not None:
                blob = fast.encode(value)
                if blob is not None:
                    return blob
        rows = self.rows(value)
        if len(rows) != 1:
            raise ValueKindError(
                f"{self.definition.name}: encode takes one message, got {len(rows)} rows "
                "(use encode_many)"
            )
        return self.encode_tree(rows[0])

    def _buffer_encoder(self) -> BufferEncoder | None:
        made = self._from_buffers
        if made is False:  # two threads may both make it; each is complete, either may win
            made = self._from_buffers = buffer_encoder(
                self.definition, self.arrow_type, self.registry
            )
        return made

    @overload
    def encode_many(self, value: Any, *, as_arrow: Literal[False] = False) -> list[bytes]: ...

    @overload
    def encode_many(self, value: Any, *, as_arrow: Literal[True]) -> pa.BinaryArray: ...

    def encode_many(self, value: Any, *, as_arrow: bool = False) -> list[bytes] | pa.BinaryArray:
        """One CDR message per row of a struct array (or per dict of a list).

        With `as_arrow`, the messages come as one `pa.BinaryArray` (what a dora node sends): the
        generated encoder appends every message's parts to one list, joined once into the data
        buffer, so no message is copied on its own (a `pa.LargeBinaryArray` past 2 GiB).
        """
        rows = self.rows(value)
        if not as_arrow:
            return [self.encode_tree(row) for row in rows]
        body = self._encode_body
        parts: list[Any] = []
        ends = np.empty(len(rows) + 1, dtype=np.int64)
        ends[0] = end = 0
        for i, row in enumerate(rows):
            mark = len(parts)
            parts.append(HEADER_LE)
            try:
                end += 4 + body(row, parts, 0)
            except _FAST_ENCODE_GIVES_UP:
                del parts[mark:]
                blob = encode_reference(self.definition, row, self.registry)
                parts.append(blob)
                end += len(blob)
            ends[i + 1] = end
        data = b"".join(parts)
        kind = pa.binary() if end < 2**31 else pa.large_binary()
        offsets = ends.astype(np.int32) if end < 2**31 else ends
        return pa.Array.from_buffers(
            kind, len(rows), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
        )

    def rows(self, value: Any) -> list[Any]:
        """Dict trees of the messages in `value` (see `encode`)."""
        kind = type(value)
        if kind is dict:  # the common cases first: isinstance on ABCs costs ~1 us
            return [value]
        if kind is pa.StructArray:
            return self._arrow_rows(self._no_null_rows(value), self.definition)
        if isinstance(value, pa.StructScalar):  # before Mapping: a StructScalar is one
            value = pa.repeat(value, 1)
        elif isinstance(value, Mapping):
            return [value]
        elif isinstance(value, pa.ChunkedArray):
            value = value.combine_chunks()
        elif isinstance(value, (pa.RecordBatch, pa.Table)):
            value = value.to_struct_array()
            if isinstance(value, pa.ChunkedArray):
                value = value.combine_chunks()
        if isinstance(value, pa.StructArray):
            return self._arrow_rows(self._no_null_rows(value), self.definition)
        if isinstance(value, (list, tuple)) and all(isinstance(v, Mapping) for v in value):
            return list(value)
        if isinstance(value, (list, tuple)) and None in value:
            raise ValueKindError(
                f"{self.definition.name}: row {value.index(None)} is null; a message cannot be "
                "null (give a value, or drop the row)"
            )
        raise ValueKindError(
            f"{self.definition.name}: cannot encode {a_or_an(type(value).__name__)}; give a dict, a "
            "pa.StructArray, a pa.StructScalar or pa.array([{...}])"
        )

    def _no_null_rows(self, array: pa.StructArray) -> pa.StructArray:
        """`array`, if no row is null: a null message has no CDR (a default one would be a lie)."""
        if array.null_count:
            row = array.is_null().to_pylist().index(True)
            raise ValueKindError(
                f"{self.definition.name}: row {row} is null; a message cannot be null (give "
                "a value, or drop the row)"
            )
        return array

    def _arrow_rows(self, array: pa.StructArray, definition: MessageDefinition) -> list[Any]:
        rows = native.rows(array)  # None for a fixed-size list out of bounds or bad UTF-8
        if rows is not None:
            return rows
        # pyarrow's wrappers read a fixed-size list past its values without a word
        kind = array.type
        paths = self._fixed_lists if kind.equals(self.arrow_type) else fixed_list_paths(kind)
        if paths:
            check_fixed_lists(array, definition.name, paths)
        try:
            if not self._has_arrays:
                return array.to_pylist()
            return _struct_rows(array, definition, self._plans)
        except UnicodeDecodeError:
            error = bad_utf8(array, definition.name)
            if error is None:
                raise
            raise error from None

    # --- decode --------------------------------------------------------------------------------

    def _view(self, data: Any) -> memoryview:
        """`data` as a flat byte memoryview with at least the 4-byte header (else CdrError).

        A uint8 Arrow array (what a dora input gives for bytes a node sent) is read in place."""
        if isinstance(data, pa.Array):
            data = _arrow_bytes(data, self.definition.name)
        try:
            view = memoryview(data)
        except TypeError:
            raise CdrError(
                f"{self.definition.name}: expected bytes-like CDR data, got {type(data).__name__}"
            ) from None
        if view.ndim != 1 or view.itemsize != 1 or view.format not in ("B", "b", "c"):
            try:
                view = view.cast("B")
            except TypeError:
                raise CdrError(f"{self.definition.name}: CDR data must be contiguous") from None
        if len(view) < 4:
            raise CdrError(
                f"{self.definition.name}: {len(view)} bytes are too few for a CDR message"
            )
        return view

    def decode_tree(self, data: Any) -> dict[str, Any]:
        """The dict tree of one CDR message (primitive arrays as numpy views where possible)."""
        view = self._view(data)
        kind = (view[0], view[1])
        if kind == (0, 1):
            decode = self._decode_le
        elif kind == (0, 0):
            decode = self._decode_be
            if decode is None:
                decode = self._decode_be = generate_decoder(self.definition, self.registry, ">")[0]
        else:
            raise CdrError(
                f"{self.definition.name}: encapsulation header {bytes(view[:2]).hex()} is not "
                "CDR_LE (0001) or CDR_BE (0000)"
            )
        try:
            tree, _end = decode(view[4:], 0)
        except (*_DECODE_ERRORS, MemoryError) as err:
            raise self._precise_error(view, err) from None
        return tree

    def _precise_error(
        self, view: memoryview, err: BaseException, prefix: str = ""
    ) -> MsgConvError:
        """The CdrError naming the field: the reference decoder finds where the data went wrong.

        If the reference reads the data, the generated decoder was wrong to refuse it: that is a
        msgconv bug, never "malformed CDR", and the error says so.
        """
        try:
            decode_reference(self.definition, view, self.registry)
        except CdrError as precise:
            return CdrError(prefix + str(precise))
        except Exception as other:  # the reference must never crash; say what the fast path saw
            detail = "truncated" if isinstance(err, (Truncated, struct.error)) else str(err)
            return CdrError(
                f"{prefix}{self.definition.name}: malformed CDR ({detail}; the reference decoder "
                f"failed too: {type(other).__name__}: {other})"
            )
        return MsgConvError(
            f"{prefix}{self.definition.name}: msgconv bug: the generated decoder refused data "
            f"that the reference decoder reads ({type(err).__name__}: {err}); please report it "
            "with the message's bytes"
        )

    def decode(self, data: Any) -> pa.StructArray:
        """One CDR message as a one-row struct array."""
        fixed = self._fixed
        if fixed is not None:
            built = fixed.decode(data)
            if built is not None:
                return built
        return self.to_arrow([self.decode_tree(data)])

    def decode_many(self, buffers: Iterable[Any]) -> pa.StructArray:
        """Many CDR messages as one struct array (numeric sequences concatenated in one piece).

        Column by column (`cdr_columns`) when the type allows and all messages share one byte
        order; else one dict tree per message.
        """
        views = [self._view(b) for b in _buffers(buffers)]
        orders = {bytes(v[:2]) for v in views}
        if self._columnar and len(orders) == 1 and orders <= {b"\x00\x01", b"\x00\x00"}:
            order = "<" if orders == {b"\x00\x01"} else ">"
            decoder = self._columns.get(order)
            if decoder is None:
                decoder = self._columns[order] = ColumnDecoder(
                    self.definition, self.registry, self.arrow_type, order
                )
            columns: list[list[Any]] = [[] for _ in range(decoder.width)]
            decode = decoder.decode
            for i, view in enumerate(views):
                try:
                    decode(view[4:], 0, columns)
                except (*_DECODE_ERRORS, MemoryError) as err:
                    raise self._precise_error(view, err, f"message {i}: ") from None
            try:
                return decoder.finish(columns, len(views))
            except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError, TypeError) as err:
                raise CdrError(f"{self.definition.name}: malformed CDR ({err})") from None
        rows = []
        for i, view in enumerate(views):
            try:
                rows.append(self.decode_tree(view))
            except CdrError as err:
                raise CdrError(f"message {i}: {err}") from None
        return self.to_arrow(rows)

    def to_arrow(self, rows: Sequence[dict[str, Any]]) -> pa.StructArray:
        """A struct array of dict trees (as the decoder makes them), see `arrow_build`."""
        try:
            return build_struct_array(self.arrow_type, list(rows))
        except (
            pa.ArrowInvalid,
            pa.ArrowTypeError,
            ValueError,
            TypeError,
            OverflowError,
            struct.error,
        ) as err:
            raise MsgConvError(f"{self.definition.name}: cannot build Arrow value: {err}") from err


def _buffers(buffers: Any) -> Iterable[Any]:
    """The messages of `buffers`; a pa.BinaryArray is sliced without copying its data."""
    if isinstance(buffers, pa.ChunkedArray):
        return [view for chunk in buffers.chunks for view in _buffers(chunk)]
    if isinstance(buffers, (pa.BinaryArray, pa.LargeBinaryArray)):
        if buffers.null_count:
            raise CdrError("decode_many: a null where CDR bytes were expected")
        data = buffers.buffers()[2]
        if data is None:
            return [b""] * len(buffers)
        memory = memoryview(data)
        offsets = np.frombuffer(
            buffers.buffers()[1],
            np.int64 if isinstance(buffers, pa.LargeBinaryArray) else np.int32,
            len(buffers) + 1,
            buffers.offset * (8 if isinstance(buffers, pa.LargeBinaryArray) else 4),
        ).tolist()
        return [memory[offsets[i] : offsets[i + 1]] for i in range(len(buffers))]
    return buffers


def _list_array(column: list[Any], list_type: pa.ListType) -> pa.Array:
    """A list array of numpy arrays; with one row its values buffer is that array's memory."""
    if len(column) == 1:
        values = column[0]
        offsets = np.array([0, len(values)], dtype=np.int32)
    else:
        lengths = np.fromiter((len(c) for c in column), dtype=np.int64, count=len(column))
        offsets = np.zeros(len(column) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        if offsets[-1] >= 2**31:
            raise ValueError("more than 2**31 elements in one list column")
        offsets = offsets.astype(np.int32)
        values = (
            np.concatenate(column)
            if column
            else np.empty(0, list_type.value_type.to_pandas_dtype())
        )
    # from_buffers skips ListArray.from_arrays' validation pass (~7 us); the offsets are ours.
    return pa.Array.from_buffers(
        list_type,
        len(column),
        [None, pa.py_buffer(offsets)],
        children=[pa.array(values, type=list_type.value_type)],
    )


PlanEntry = tuple[int, str, str, Any]

# Arrow types remembered per message type: a stream has one, a user mixing inferred and declared
# types a few. Past the bound the oldest is dropped (and rebuilt if it comes back, ~10 us).
PLANS_PER_TYPE = 8


class _RowPlans:
    """How to turn a struct array of each message type reachable from one codec into dict rows.

    Owned by the `Codec`, so it lives and dies with it (no module-level cache keyed by `id()`
    that keeps every definition alive), keyed by type name (unique in one registry) and bounded:
    at most PLANS_PER_TYPE Arrow types per message type. Lookups read immutable tuples without a
    lock; a new plan replaces the tuple under one, so threads never see a half-built entry.
    """

    def __init__(self, registry: TypeSource) -> None:
        self.registry = registry
        self._plans: dict[str, tuple[tuple[pa.DataType, list[PlanEntry]], ...]] = {}
        self._has_prim_array: dict[str, bool] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Plans held, over all types (for tests of the bound)."""
        return sum(len(entries) for entries in self._plans.values())

    def plan(self, arrow: pa.StructType, definition: MessageDefinition) -> list[PlanEntry]:
        """(child index, name, kind, nested definition) per Arrow field: kind is plain, list or
        struct.

        Cached per Arrow type: reading names off a pyarrow StructType costs ~1 us per field, an
        equality test of two types ~0.2 us (PointCloud2 encode from Arrow: 130 -> 60 us).
        """
        entries = self._plans.get(definition.name, ())
        for cached, plan in entries:
            if cached == arrow:
                return plan
        plan = self._build(arrow, definition)
        with self._lock:
            kept = self._plans.get(definition.name, ())[-(PLANS_PER_TYPE - 1) :]
            self._plans[definition.name] = (*kept, (arrow, plan))
        return plan

    def _build(self, arrow: pa.StructType, definition: MessageDefinition) -> list[PlanEntry]:
        fields = {f.name: f for f in definition.fields}
        plan: list[PlanEntry] = []
        for i, af in enumerate(arrow):
            f = fields.get(af.name)
            kind, sub = "plain", None
            if f is not None and f.type.is_primitive and f.type.array:
                if (
                    pa.types.is_list(af.type)
                    or pa.types.is_large_list(af.type)
                    or pa.types.is_fixed_size_list(af.type)
                ):
                    kind = "list"
            elif (
                f is not None
                and f.type.is_nested
                and not f.type.array
                and pa.types.is_struct(af.type)
                and self.has_prim_array(self.registry.message(f.type.name))
            ):
                kind, sub = "struct", self.registry.message(f.type.name)
            plan.append((i, af.name, kind, sub))
        return plan

    def has_prim_array(self, definition: MessageDefinition) -> bool:
        """Whether a numeric array is reachable through non-array nested fields (cached; one
        entry per type reachable from the codec's type, so bounded by the definition)."""
        found = self._has_prim_array.get(definition.name)
        if found is None:
            found = any(
                (f.type.is_primitive and bool(f.type.array))
                or (
                    f.type.is_nested
                    and not f.type.array
                    and self.has_prim_array(self.registry.message(f.type.name))
                )
                for f in definition.fields
            )
            self._has_prim_array[definition.name] = found  # one bool: a race writes it twice
        return found


def _struct_rows(
    array: pa.StructArray, definition: MessageDefinition, plans: _RowPlans
) -> list[Any]:
    """Dict trees of a struct array; numeric lists become numpy views of the Arrow buffers.

    Plain columns go through one `to_pylist` (one pyarrow call instead of one per column).
    """
    plan = plans.plan(array.type, definition)
    n = len(array)
    if array.offset == 0 and not array.null_count:
        # `field(i)` (~1.5 us) is right when the struct is not a slice; `flatten()` costs ~20 us.
        children = [array.field(i) for i in range(len(plan))]
        children = [c if len(c) == n else c.slice(0, n) for c in children]
    else:
        children = array.flatten()
    # Plain columns: one to_pylist per child (~2 us for a number, ~10 us for a struct); a
    # StructArray.from_arrays over them first costs more (PointCloud2: 57 vs 38 us, measured).
    # The rows are then made in one pass, a dict per row from the columns zipped (10,000 Imu:
    # about half the time of setting each column's value in each row's dict in turn).
    names: list[str] = []
    columns: list[list[Any]] = []
    for (_i, name, kind, sub), child in zip(plan, children, strict=True):
        if kind == "plain":
            values = child.to_pylist()  # a null is None already
        else:
            values = _list_rows(child) if kind == "list" else _struct_rows(child, sub, plans)
            if child.null_count:
                valid = child.is_valid().to_pylist()
                values = [v if ok else None for v, ok in zip(values, valid, strict=True)]
        names.append(name)
        columns.append(values)
    if n == 1:
        return [dict(zip(names, [column[0] for column in columns], strict=True))]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _list_rows(child: Any) -> list[Any]:
    """Per row, a numpy view of a numeric list column's values (to_pylist for anything else).

    Reads `values` and `offsets` directly: `ListArray.flatten()` goes through a compute kernel
    (~10 us a call).
    """
    values_array = child.values
    if values_array.null_count or not isinstance(
        values_array, (pa.IntegerArray, pa.FloatingPointArray)
    ):
        return child.to_pylist()
    values = values_array.to_numpy(zero_copy_only=False)
    n = len(child)
    if isinstance(child, pa.FixedSizeListArray):
        size = child.type.list_size
        start = child.offset * size
        if size == 0:
            return [values[:0]] * n
        # the rows of a 2-D view, made by numpy's iterator (one view per row, no Python slicing)
        return list(values[start : start + n * size].reshape(n, size))
    offsets = child.offsets.to_numpy()
    return [values[offsets[i] : offsets[i + 1]] for i in range(n)]


def _arrow_bytes(array: pa.Array, name: str) -> memoryview:
    """The bytes of a uint8 (or int8) Arrow array, without a copy; a clear error for others."""
    kind = array.type
    if pa.types.is_uint8(kind) or pa.types.is_int8(kind):
        if array.null_count:
            raise CdrError(f"{name}: the CDR bytes array has {array.null_count} null(s)")
        data = array.buffers()[1]
        if data is None:  # an empty array
            return memoryview(b"")
        return memoryview(data)[array.offset : array.offset + len(array)]
    if pa.types.is_struct(kind):
        raise CdrError(
            f"{name}: got a StructArray, a message already decoded (a bridge output is one):"
            " use it as it is"
        )
    raise CdrError(f"{name}: expected bytes-like CDR data or a uint8 array, got an Arrow {kind}")
