"""Arrow arrays from decoded values (dict trees as the CDR decoder makes them).

Why not `pa.array(rows, type=...)`: pyarrow's converter sets up a builder per nested type on every
call (~11 us for a one-row Twist, more than the whole decode). Here each node is made by
`pa.Array.from_buffers` (~0.8 us a node with pyarrow 26) from buffers we fill ourselves, along a
builder made once per Arrow type (closures, see `_compile`).

Two builders, one result:
- the C helpers (`native.build`, `_native_one_row`), where they were built: they write the whole
  tree of one message through the Arrow C data interface and hand it to pyarrow through the
  documented Arrow PyCapsule interface (`pa.array` of an object with `__arrow_c_array__`);
- otherwise, and for what C leaves to Python, the closures below, which use public pyarrow only:
  `pa.Array.from_buffers`, `pa.py_buffer` and `Buffer.slice`. No memory is written through
  pointers and no private pyarrow API is used, so this path is safe on every platform.

Zero copy is kept: a numeric sequence whose value is a numpy array (a view into the received CDR
bytes, see `cdr_decoder._array_view`) becomes an Arrow buffer over that memory (`pa.py_buffer`,
which holds the array, and so the received bytes, for as long as the Arrow buffer lives) when it
is contiguous, of the element type and aligned; otherwise it is copied once.

Per struct, the numbers of all its scalar fields are packed by one `struct.pack` into one buffer,
largest elements first (so every field's slice is aligned), and each field's node gets a slice. A
struct of numbers only (Twist, Pose, Time: `_numeric_builder`) is packed whole into a numpy
structured array that one `pa.array` call converts (a Twist's 9 nodes in about half the time).
Arrow memory is in the machine's byte order ("=" codes), so this is right on big-endian hosts too.
"""

from __future__ import annotations

import itertools
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from . import native

__all__ = ["build_struct_array"]

Builder = Callable[[list[Any]], pa.Array]

_from_buffers = pa.Array.from_buffers
_py_buffer = pa.py_buffer
_EMPTY = pa.py_buffer(b"")


def _plan(dtype: pa.DataType) -> tuple[Any, ...]:
    """What the builders need of an Arrow type, read once (reading pyarrow types is slow)."""
    if pa.types.is_struct(dtype):
        return ("struct", dtype, tuple((f.name, _plan(f.type)) for f in dtype))
    if pa.types.is_fixed_size_list(dtype):
        return ("fixed", dtype, _plan(dtype.value_type), dtype.list_size)
    if pa.types.is_list(dtype):
        return ("list", dtype, _plan(dtype.value_type))
    if pa.types.is_string(dtype):
        return ("string", dtype)
    if pa.types.is_boolean(dtype):
        return ("bool", dtype)
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype):
        numpy_type = np.dtype(dtype.to_pandas_dtype())  # native byte order, as Arrow's memory
        return (
            "number",
            dtype,
            numpy_type,
            _STRUCT_CODES[numpy_type.kind + str(numpy_type.itemsize)],
        )
    raise TypeError(f"no builder for Arrow type {dtype}")


_STRUCT_CODES = {
    **{f"i{n}": c for n, c in ((1, "b"), (2, "h"), (4, "i"), (8, "q"))},
    **{f"u{n}": c for n, c in ((1, "B"), (2, "H"), (4, "I"), (8, "Q"))},
    **{"f4": "f", "f8": "d"},
}


def _offsets(lengths: list[int]) -> pa.Buffer:
    """Arrow int32 offsets of items of these lengths (struct.error past 2**31, as Arrow would)."""
    return _py_buffer(struct.pack(f"={len(lengths) + 1}i", 0, *itertools.accumulate(lengths)))


def _aligned(data: bytes, size: int) -> pa.Buffer:
    """`data` as an Arrow buffer whose address is a multiple of `size` (a copy if it is not)."""
    buffer = _py_buffer(data)
    if size > 1 and buffer.address % size:
        buffer = pa.py_buffer(np.frombuffer(data, np.uint8).copy())  # numpy aligns to 16
    return buffer


def _bits(values: list[Any]) -> pa.Buffer:
    return _py_buffer(np.packbits(np.asarray(values, bool), bitorder="little").tobytes())


def _compile(plan: tuple[Any, ...]) -> Builder:
    """`build(values) -> pa.Array` of `len(values)` values of the plan's type."""
    kind, dtype = plan[0], plan[1]
    if kind == "struct":
        return _struct_builder(plan)
    if kind == "number":
        code, size = plan[3], plan[2].itemsize

        def number(values: list[Any]) -> pa.Array:
            n = len(values)
            data = struct.pack(f"={n}{code}", *values)
            return _from_buffers(dtype, n, [None, _aligned(data, size)], 0)

        return number
    if kind == "bool":

        def boolean(values: list[Any]) -> pa.Array:
            return _from_buffers(dtype, len(values), [None, _bits(values)], 0)

        return boolean
    if kind == "string":

        def string(values: list[Any]) -> pa.Array:
            encoded = [str.encode(s) for s in values]
            offsets = _offsets([len(e) for e in encoded])
            return _from_buffers(
                dtype, len(values), [None, offsets, _py_buffer(b"".join(encoded))], 0
            )

        return string
    return _list_builder(plan)


def _numbers(element: tuple[Any, ...], items: list[Any]) -> tuple[pa.Array, list[int]]:
    """The values node of `items` (each a sequence of numbers) and their lengths.

    One item that is a contiguous 1-D numpy array of the element type at an aligned address is
    pointed at (zero copy); the rest is converted and copied once.
    """
    dtype, numpy_type = element[1], element[2]
    arrays = []
    for item in items:
        if type(item) is not np.ndarray or item.dtype != numpy_type:
            item = _converted(item, numpy_type)
        if item.ndim != 1:
            raise ValueError(f"a sequence of numbers, not {item.ndim}-D")
        arrays.append(item)
    lengths = [len(a) for a in arrays]
    if len(arrays) == 1:
        only = arrays[0]
        if not len(only):
            return _from_buffers(dtype, 0, [None, _EMPTY], 0), lengths
        if only.flags.c_contiguous:
            buffer = _py_buffer(only)  # holds `only` (and what it views) while Arrow uses it
            if not buffer.address % numpy_type.itemsize:
                return _from_buffers(dtype, len(only), [None, buffer], 0), lengths
    joined = np.concatenate(arrays) if arrays else np.empty(0, numpy_type)
    return _from_buffers(dtype, len(joined), [None, _py_buffer(joined)], 0), lengths


def _converted(item: Any, numpy_type: np.dtype[Any]) -> np.ndarray:
    """`item` (a sequence or array of numbers) as an array of `numpy_type`, never a wrapped or
    truncated value: what does not fit is an OverflowError, a fraction for an integer a
    ValueError, as struct.pack refuses them on the scalar path (numpy's casts would wrap)."""
    source = np.asarray(item)
    if source.dtype == numpy_type:
        return source
    kind = source.dtype.kind
    if kind not in "biuf":
        raise TypeError(f"a sequence of numbers is required, not of {source.dtype}")
    if source.size and kind != "b":
        if numpy_type.kind in "iu":
            info = np.iinfo(numpy_type)
            if kind == "f" and not np.all(np.isfinite(source) & (source == np.trunc(source))):
                raise ValueError(f"a sequence of integers ({numpy_type}) got a fraction")
            # compared as Python ints (exact: floats are integral here); numpy would compare
            # int64 with uint64 through float64
            if int(source.min()) < info.min or int(source.max()) > info.max:
                raise OverflowError(f"a value out of range for {numpy_type}")
        elif numpy_type.itemsize == 4 and kind == "f":
            finite = source[np.isfinite(source)]
            if finite.size and np.abs(finite).max() > np.finfo(np.float32).max:
                raise OverflowError("float too large for float32")
    return source.astype(numpy_type)


def _list_builder(plan: tuple[Any, ...]) -> Builder:
    kind, dtype, element = plan[0], plan[1], plan[2]
    size = plan[3] if kind == "fixed" else None
    flat = None if element[0] == "number" else _compile(element)
    shared: _SmallColumns | None = _SmallColumns(element) if _flat(element) else None

    def build(values: list[Any]) -> pa.Array:
        n = len(values)
        if flat is None:
            child, lengths = _numbers(element, values)
        else:
            items = [list(v) for v in values]
            lengths = [len(x) for x in items]
            elements = [y for x in items for y in x]
            if shared is not None and len(elements) <= 16:
                child = shared.get(elements, flat)
            else:
                child = flat(elements)
        if size is not None:
            if any(length != size for length in lengths):
                got = next(length for length in lengths if length != size)
                raise ValueError(f"a fixed array of {size} got {got}")
            return _from_buffers(dtype, n, [None], 0, children=[child])
        return _from_buffers(dtype, n, [None, _offsets(lengths)], 0, children=[child])

    return build


def _numeric(plan: tuple[Any, ...]) -> bool:
    """A struct of numbers and such structs only (Twist, Pose, Time, ...), at any depth."""
    return (
        plan[0] == "struct"
        and bool(plan[2])
        and all(sub[0] == "number" or _numeric(sub) for _, sub in plan[2])
    )


def _numeric_builder(plan: tuple[Any, ...]) -> Builder:
    """A struct of numbers only, built by one `struct.pack` of every leaf of every row into a
    numpy structured array that pyarrow converts in one call (`pa.array`, public): ~2x faster
    than a `from_buffers` per node for a Twist (9 nodes)."""
    leaves: list[tuple[str, ...]] = []
    codes: list[str] = []

    def walk(sub: tuple[Any, ...], path: tuple[str, ...]) -> np.dtype[Any]:
        if sub[0] == "number":
            leaves.append(path)
            codes.append(sub[3])
            return np.dtype(sub[2])
        return np.dtype([(name, walk(child, (*path, name))) for name, child in sub[2]])

    numpy_type = walk(plan, ())
    dtype = plan[1]
    getter = eval(  # a straight-line getter of every leaf: `lambda r: (r['a']['x'], ...)`
        "lambda r: (" + "".join("r" + "".join(f"[{k!r}]" for k in p) + ", " for p in leaves) + ")"
    )
    one_row = struct.Struct("=" + "".join(codes))
    assert one_row.size == numpy_type.itemsize  # "=": no padding, as numpy's packed dtype

    def build(rows: list[Any]) -> pa.Array:
        n = len(rows)
        if n == 1:
            data = one_row.pack(*getter(rows[0]))
        else:
            data = struct.pack("=" + "".join(codes) * n, *[v for r in rows for v in getter(r)])
        array: pa.Array = pa.array(np.frombuffer(data, numpy_type, count=n), type=dtype)
        return array

    return build


def _struct_builder(plan: tuple[Any, ...]) -> Builder:
    if _numeric(plan):
        return _numeric_builder(plan)
    dtype, fields = plan[1], plan[2]
    names = [name for name, _ in fields]
    # the scalar numbers of the struct, largest first: one pack, aligned slices
    numbers = sorted(
        ((i, sub) for i, (_, sub) in enumerate(fields) if sub[0] == "number"),
        key=lambda entry: -entry[1][2].itemsize,
    )
    number_names = [names[i] for i, _ in numbers]
    codes = [sub[3] for _, sub in numbers]
    sizes = [sub[2].itemsize for _, sub in numbers]
    types = [sub[1] for _, sub in numbers]
    one_row = struct.Struct("=" + "".join(codes))
    others = [
        (i, names[i], _compile(sub)) for i, (_, sub) in enumerate(fields) if sub[0] != "number"
    ]
    width = len(fields)

    def build(rows: list[Any]) -> pa.Array:
        n = len(rows)
        children: list[Any] = [None] * width
        if numbers:
            if n == 1:
                row = rows[0]
                data = one_row.pack(*[row[name] for name in number_names])
            else:
                fmt = "=" + "".join(f"{n}{code}" for code in codes)
                data = struct.pack(fmt, *[row[name] for name in number_names for row in rows])
            buffer = _aligned(data, 8)
            at = 0
            for (i, _), size, arrow in zip(numbers, sizes, types, strict=True):
                part = buffer.slice(at, n * size)
                children[i] = _from_buffers(arrow, n, [None, part], 0)
                at += n * size
        for i, name, sub in others:
            children[i] = sub([row[name] for row in rows])
        return _from_buffers(dtype, n, [None], 0, children=children)

    return build


def _flat(plan: tuple[Any, ...]) -> bool:
    """A struct of integers, bools and strings only: its values make a cheap, exact cache key
    (not floats: -0.0 == 0.0, and NaN never equals itself)."""
    return plan[0] == "struct" and all(
        sub[0] in ("bool", "string") or (sub[0] == "number" and sub[2].kind in "iu")
        for _, sub in plan[2]
    )


class _SmallColumns:
    """Columns of a few flat structs, built once per distinct content and shared.

    A stream repeats its small arrays of nested messages (PointCloud2's `fields`, a
    MultiArrayLayout's `dim`): the built Arrow array (immutable) is kept and reused. At most
    `LIMIT` contents are kept per element type (the oldest is dropped), so a stream of
    ever-changing arrays cannot grow it.
    """

    LIMIT = 8

    def __init__(self, plan: tuple[Any, ...]) -> None:
        self.names = [name for name, _ in plan[2]]
        self.kept: OrderedDict[Any, pa.Array] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, rows: list[Any], build: Builder) -> pa.Array:
        names = self.names
        key = tuple(tuple([row[name] for name in names]) for row in rows)
        with self.lock:
            hit = self.kept.get(key)
            if hit is not None:
                self.kept.move_to_end(key)
                return hit
        built = build(rows)
        with self.lock:
            self.kept[key] = built
            while len(self.kept) > self.LIMIT:
                self.kept.popitem(last=False)
        return built


class _TypeCache:
    """Per Arrow type, a value made once (builders, plans): bounded and safe under threads.

    Found by identity: callers pass the registry's types, which live as long as the process (an
    entry keeps its type alive, so its id() is never reused while it is kept; another object of
    an equal type gets an entry of its own). At most `limit` types are kept, the oldest dropped
    first.
    """

    def __init__(self, make: Callable[[pa.DataType], Any], limit: int = 512) -> None:
        self.make = make
        self.limit = limit
        self.by_id: OrderedDict[int, tuple[pa.DataType, Any]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, dtype: pa.DataType) -> Any:
        key = id(dtype)
        entry = self.by_id.get(key)  # a read of a dict is atomic under the GIL
        if entry is not None and entry[0] is dtype:
            return entry[1]
        value = self.make(dtype)
        with self.lock:
            self.by_id[key] = (dtype, value)
            self.by_id.move_to_end(key)
            while len(self.by_id) > self.limit:
                self.by_id.popitem(last=False)
        return value


_BUILDERS = _TypeCache(lambda dtype: _struct_builder(_plan(dtype)))


def build_struct_array(dtype: pa.StructType, rows: list[dict[str, Any]]) -> pa.StructArray:
    """A struct array of `rows` (dict trees as the CDR decoder makes them) of type `dtype`.

    Raises TypeError, ValueError, OverflowError, struct.error or a pyarrow error when a value does
    not fit.
    """
    if len(rows) == 1 and native.AVAILABLE:
        walk = native.spec(dtype, keep=True)
        if walk is not None:
            built = _native_one_row(dtype, walk, rows[0])
            if built is not None:
                return built
    array: pa.StructArray = _BUILDERS.get(dtype)(rows)
    return array


class _Exported:
    """What the C builder made, offered through the Arrow PyCapsule interface (`pa.array` of it
    imports it: the documented way in, no private pyarrow call)."""

    __slots__ = ("array", "schema")

    def __init__(self, schema: Any, array: Any) -> None:
        self.schema = schema
        self.array = array

    def __arrow_c_array__(self, requested_schema: Any = None) -> tuple[Any, Any]:
        return self.schema, self.array


def _native_one_row(dtype: pa.StructType, walk: Any, row: dict[str, Any]) -> pa.StructArray | None:
    """One message built in C (`native.build`): nodes in ~2 us, and a root whose release is C code
    that drops our memory. The capsule releases the tree if pyarrow never takes it.

    None when C leaves the row to Python (a value the decoder never makes); an error of the
    import itself is raised, never hidden by the Python builder.
    """
    try:
        capsule = native.build(row, walk, [], [])
    except native.NOT_HANDLED:
        return None
    array: pa.StructArray = pa.array(_Exported(dtype.__arrow_c_schema__(), capsule))
    return array
