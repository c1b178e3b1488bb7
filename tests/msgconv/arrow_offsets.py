"""Arrow arrays equal in value to a given one, with offsets inside: for tests of code that reads
Arrow buffers itself (`buffer_encoder`, the C helpers, the row reader).

A row whose own offset is 0 can still hold offsets anywhere below: a struct's child may be a
slice, a list's offsets may start above 0 (`ListArray.from_arrays(offsets=[1, 2], ...)`), a
list's values may be a slice, a string array may be a slice. Slicing a top-level column only
exercises the first of these; `with_offsets` makes all of them, chosen at random per node.
"""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa

__all__ = ["with_offsets"]


def _prepended(array: pa.Array) -> pa.Array:
    """A fresh array (offset 0, no slice anywhere) of `array`'s first item, then `array`."""
    return pa.concat_arrays([array.slice(0, 1), array])


def with_offsets(array: pa.Array, rng: random.Random, slices: float = 0.3) -> pa.Array:
    """An array whose `to_pylist()` is `array`'s, with offsets inside (see the module docstring).

    `array` has no nulls. The result's own offset is 0 when `array`'s is, so a one-row struct
    array stays a row the buffer encoder may take: each offset inside is either one it must read
    (a list's first offset) or one it must see and give up on (a slice of a longer buffer).
    Each leaf and each list's values are a slice with probability `slices` (0: never, and then
    only list offsets start above 0); half the lists' offsets start at 1.
    """
    kind = array.type
    if len(array) == 0:
        return array
    if pa.types.is_struct(kind):
        # `field(i)` applies the struct's own offset
        children = [with_offsets(array.field(i), rng, slices) for i in range(kind.num_fields)]
        if not children:
            return array
        return pa.StructArray.from_arrays(children, fields=list(kind))
    if pa.types.is_list(kind):
        offsets = np.asarray(array.offsets, dtype=np.int32)
        values = array.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
        offsets = offsets - offsets[0]
        if len(values) and rng.random() < 0.5:  # offsets from 1, over one more item first
            values, offsets = _prepended(values), offsets + 1
        elif len(values) and rng.random() < slices:  # the values are a slice
            values = _prepended(values).slice(1)
        values = with_offsets(values, rng, slices)
        return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)
    if pa.types.is_fixed_size_list(kind):
        size = kind.list_size
        values = array.values.slice(array.offset * size, len(array) * size)
        if len(values) and rng.random() < slices:
            values = _prepended(values).slice(1)
        return pa.FixedSizeListArray.from_arrays(with_offsets(values, rng, slices), size)
    # a leaf: a slice of a longer array, or the array itself
    return _prepended(array).slice(1) if rng.random() < slices else array
