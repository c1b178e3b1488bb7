"""The optional C helpers of msgconv (`_arrow_native.c`) and the type specs they walk.

`_arrow_native` is compiled when dora-ros is installed on a machine with a C compiler (setup.py,
an optional extension). Without it every function here answers None and msgconv uses its
Python paths, which give the same results more slowly:
- `rows(array)`: the rows of an Arrow struct array as dict trees (encoding from Arrow), numeric
  lists as numpy views of the Arrow buffers. ~10 us for a PointCloud2 (most of them pyarrow's
  export through `__arrow_c_array__` and its release) against 35-100 us with pyarrow's wrappers,
  the cost that made encoding it from Arrow slower than rosbags.
- `build(row, spec, segments, held)` (used by `arrow_build`): the `struct ArrowArray` tree of a
  decoded message written in C, returned as an "arrow_array" PyCapsule (the Arrow PyCapsule
  interface) that `pa.array` imports, instead of a node per `pa.Array.from_buffers` call.

Set DORA_ROS_NO_NATIVE=1 to use the Python paths (`make test` runs the msgconv tests both
ways); tests switch in-process by setting `AVAILABLE`.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["AVAILABLE", "NOT_HANDLED", "build", "rows", "spec"]


def _load() -> Any:
    if os.environ.get("DORA_ROS_NO_NATIVE", "") not in ("", "0"):
        return None
    try:
        from . import _arrow_native
    except ImportError:  # no C compiler where dora-ros was installed
        return None
    return _arrow_native


_c = _load()
AVAILABLE = _c is not None
build: Any = _c.build if _c is not None else None

# What the C code raises for a value or layout it does not handle; the Python path then decides
# (it converts leniently or names the problem).
NOT_HANDLED = (TypeError, ValueError, OverflowError, KeyError, BufferError)


def rows(array: pa.StructArray) -> list[Any] | None:
    """The rows of `array` as dicts (numeric lists as numpy views), or None if C cannot read it."""
    if not AVAILABLE:
        return None
    walk = spec(array.type)
    if walk is None:
        return None
    try:
        result: list[Any] = _c.rows(array, walk, np.frombuffer)
    except ValueError:  # invalid UTF-8, or a layout the reader does not expect
        return None
    return result


# Per Arrow type, the spec the C code walks (see _arrow_native.c), or None where a type in it has
# no C reader (dictionaries, timestamps, ...). Found by identity for the long-lived types of the
# registry (`keep=True`, ~0.2 us); else by equality within a bucket of the types of the same kind
# and width, the last one found first (~0.7 us): an array's `.type` is a new object on every call,
# and comparing it with each of the ~170 installed message types in turn took ~9 us.
# Both are bounded (the oldest entry dropped first) and changed under a lock; a lookup answers
# from the entry it found, never from a position another thread may have changed.
_KEPT_LIMIT = 1024  # types found by identity (each entry keeps its type alive)
_BUCKET_LIMIT = 32  # types of one (kind, width) found by equality
_BUCKETS_LIMIT = 256
_LOCK = threading.Lock()
_KEPT: OrderedDict[int, tuple[pa.DataType, Any]] = OrderedDict()
_SPECS: OrderedDict[tuple[int, int], list[tuple[pa.DataType, Any]]] = OrderedDict()
_PRIM_CODES = {
    pa.bool_(): "?",
    pa.int8(): "b",
    pa.uint8(): "B",
    pa.int16(): "h",
    pa.uint16(): "H",
    pa.int32(): "i",
    pa.uint32(): "I",
    pa.int64(): "q",
    pa.uint64(): "Q",
    pa.float32(): "f",
    pa.float64(): "d",
}
_LISTS = (
    (4, pa.types.is_list),
    (5, pa.types.is_large_list),
    (6, pa.types.is_fixed_size_list),
)


def spec(arrow: pa.DataType, keep: bool = False) -> Any:
    """The spec of `arrow` for the C code (cached), or None if it has no C reader.

    `keep`: `arrow` lives as long as the process (a registry's type); it is then found by
    identity, and kept alive (while its entry is kept) so that its id() is not reused meanwhile.
    Safe to call from several threads.
    """
    kept = _KEPT.get(id(arrow))  # one dict read: atomic under the GIL
    if kept is not None and kept[0] is arrow:
        return kept[1]
    key = (arrow.id, arrow.num_fields)
    found: tuple[pa.DataType, Any] | None = None
    with _LOCK:
        bucket = _SPECS.get(key)
        if bucket is not None:
            for i, entry in enumerate(bucket):  # a plain loop: a generator costs ~1 us more
                if entry[0] == arrow:
                    found = entry
                    if i:  # a stream repeats its type: look at it first next time
                        bucket.insert(0, bucket.pop(i))
                    break
    if found is None:
        found = (arrow, _spec(arrow))
        with _LOCK:
            bucket = _SPECS.get(key)
            if bucket is None:
                bucket = _SPECS[key] = []
                while len(_SPECS) > _BUCKETS_LIMIT:
                    _SPECS.popitem(last=False)
            bucket.insert(0, found)
            del bucket[_BUCKET_LIMIT:]
    if keep:
        with _LOCK:
            _KEPT[id(arrow)] = (arrow, found[1])
            while len(_KEPT) > _KEPT_LIMIT:
                _KEPT.popitem(last=False)
    return found[1]


def _spec(arrow: pa.DataType) -> Any:
    if pa.types.is_struct(arrow):
        children = tuple(_spec(f.type) for f in arrow)
        if any(c is None for c in children):
            return None
        return (0, tuple(sys.intern(f.name) for f in arrow), children)
    code = _PRIM_CODES.get(arrow)
    if code is not None:
        return (1, ord(code))
    if pa.types.is_string(arrow):
        return (2,)
    if pa.types.is_large_string(arrow):
        return (3,)
    for kind, test in _LISTS:
        if test(arrow):
            child = _spec(arrow.value_type)
            if child is None:
                return None
            numeric = child[0] == 1 and child[1] != ord("?")
            dtype = np.dtype(arrow.value_type.to_pandas_dtype()) if numeric else None
            return (kind, child, dtype) + ((arrow.list_size,) if kind == 6 else ())
    return None
