"""Checks on the Arrow arrays msgconv encodes, for what pyarrow itself lets through.

The general path reads a struct array with pyarrow's wrappers (`to_pylist`, `values`), which
trust the array: a fixed-size list built by `pa.Array.from_buffers` with an offset past its
values passes `validate(full=True)` (pyarrow 26) and is then read out of bounds (garbage, or a
SystemError for strings), and a string that is not UTF-8 makes `to_pylist` raise a bare
UnicodeDecodeError. These checks turn both into a `ValueKindError` that names the field path
(`t/msg/Q: field 'items[0].q': ...`), as every other bad value does.

`check_fixed_lists` is cheap (it visits only the nodes on the way to each fixed-size list, not
the rows) and runs before the general path reads a type that has a fixed array; `bad_utf8` runs only once reading has failed,
and walks row by row to name the exact element.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from .errors import MsgConvError, ValueKindError, field_error

__all__ = ["VALUES", "bad_utf8", "check_fixed_lists", "fixed_list_paths", "node_at"]


VALUES = -1  # a step in a path: a list's (or a fixed-size list's) values


def fixed_list_paths(arrow: pa.DataType) -> tuple[tuple[int, ...], ...]:
    """Where the fixed-size lists of `arrow` are: per list, the steps from the top (a struct's
    field index, or VALUES), so a check visits only the nodes on the way to one."""
    paths: list[tuple[int, ...]] = []

    def walk(kind: pa.DataType, path: tuple[int, ...]) -> None:
        if pa.types.is_struct(kind):
            for i, f in enumerate(kind):
                walk(f.type, (*path, i))
        elif pa.types.is_fixed_size_list(kind):
            paths.append(path)
            walk(kind.value_type, (*path, VALUES))
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
            walk(kind.value_type, (*path, VALUES))

    walk(arrow, ())
    return tuple(paths)


def node_at(array: Any, path: tuple[int, ...]) -> Any:
    """The node a `fixed_list_paths` path leads to (`field` applies its parents' offsets; a
    list's `values` is its whole child: the list's offset is not applied to it)."""
    node = array
    for step in path:
        node = node.values if step == VALUES else node.field(step)
    return node


def _in_bounds(array: Any, paths: tuple[tuple[int, ...], ...]) -> bool:
    for path in paths:
        node = node_at(array, path)
        if (node.offset + len(node)) * node.type.list_size > len(node.values):
            return False
    return True


def check_fixed_lists(
    array: pa.StructArray, type_name: str, paths: tuple[tuple[int, ...], ...]
) -> None:
    """Raise ValueKindError naming the field if a fixed-size list in `array`'s rows reaches past
    the end of its values (its offset and length times its size are more than its values).

    `paths` are `fixed_list_paths(array.type)`. The first pass reads whole children (a list's
    values, not only its rows' elements); where it finds a list past its values, the rows are
    walked to find the one that reads it. Cost: one `field` or `values` call (~0.3 us) per step
    to each fixed-size list, where a walk over every node cost CameraInfo ~19 us.
    """
    if not _in_bounds(array, paths):
        error = _first_fault(array, type_name, _fixed_list_fault)
        if error is not None:  # else only elements no row holds reach past their values
            raise error


def bad_utf8(array: pa.StructArray, type_name: str) -> MsgConvError | None:
    """The ValueKindError naming the first string of `array` that is not UTF-8, if one is."""
    return _first_fault(array, type_name, _utf8_fault)


def _first_fault(array: pa.StructArray, type_name: str, fault: Any) -> MsgConvError | None:
    for row in range(len(array)):
        found = _locate_row(array.slice(row, 1), "", fault)
        if found is not None:
            path, detail = found
            where = f"{type_name}: row {row}" if len(array) > 1 else type_name
            return field_error(ValueKindError, where, path, detail)
    return None


def _fixed_list_fault(array: Any) -> str | None:
    kind = array.type
    if not pa.types.is_fixed_size_list(kind):
        return None
    need = (array.offset + len(array)) * kind.list_size
    have = len(array.values)
    if need <= have:
        return None
    return (
        f"the Arrow fixed-size list's offset {array.offset} and length {len(array)} at "
        f"{kind.list_size} values a row need {need} values, its values array has {have}: the "
        "array is malformed (pyarrow does not check a `pa.Array.from_buffers` offset)"
    )


def _utf8_fault(array: Any) -> str | None:
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return None
    try:
        array.validate(full=True)  # checks UTF-8
    except pa.ArrowInvalid as err:
        return f"the string is not valid UTF-8 ({err})"
    return None


def _locate(array: Any, path: str, fault: Any) -> Any:
    """(path, detail) of the first element of an array field, where `fault(node)` says what is
    wrong."""
    for row in range(len(array)):
        found = _locate_row(array.slice(row, 1), f"{path}[{row}]", fault)
        if found is not None:
            return found
    return None


def _locate_row(node: Any, path: str, fault: Any) -> Any:
    detail = fault(node)
    if detail is not None:
        return path, detail
    kind = node.type
    if pa.types.is_struct(kind):
        for i, f in enumerate(kind):
            found = _locate_row(node.field(i), f"{path}.{f.name}" if path else f.name, fault)
            if found is not None:
                return found
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _locate(node.flatten(), path, fault)
    elif pa.types.is_fixed_size_list(kind):  # in bounds (else fault found it above)
        size = kind.list_size
        return _locate(node.values.slice(node.offset * size, size), path, fault)
    return None
