"""Arrow arrays from decoded values, written straight into memory and imported in one call.

Why not `pa.array(rows, type=...)`: pyarrow's converter sets up a builder per nested type on every
call, and `Array.from_buffers` costs ~2.5 us per node; a decoded PointCloud2 (20 Arrow nodes) took
~110 us either way on the test machine, more than rosbags needs to decode the whole message with a
copy of its 1.6 MB. Here the node descriptions of the Arrow C data interface (`struct ArrowArray`)
and the values they point to are written into memory we own, and `pa.Array._import_from_c` turns
the whole tree into Arrow arrays in one call: ~30-45 us for that PointCloud2, ~12 us for a Twist
(`benchmarks/msgconv.py`).

One message (what `decode` makes) is written by the C helpers where they were built
(`native.build`, `_native_one_row`: ~2 us for the nodes, ~18-21 us for a whole PointCloud2 decode
with pyarrow's import); otherwise, and for anything they leave to Python, per type Python source
is generated and compiled once (as for the CDR codecs):
- `_OneRow`: one message (what `decode` makes). Every node, buffer list and scalar of the message
  has a place known while generating, so they are written by one `struct.pack_into`; string bytes,
  copied list values and columns of arrays of nested messages go to places found at run time.
- `_Columns`: a column of many messages (arrays of nested messages, `decode_many`).

Zero copy is kept: a primitive list whose values are a numpy array (a view into the received CDR
bytes, see `cdr_codegen._array_view`) is imported as a pointer to that memory when it is aligned.

Lifetime: the memory (bytearrays) and the buffers of the numpy arrays pointed into belong to the
root node. The C helpers give it a C release that drops them under the GIL; the generated Python
gives it the release of a pyarrow-exported empty array whose buffer holds them (`_adopt`), so
Arrow's release of the imported tree is pyarrow's own C++ code. Either way no Python code runs
when an array dies (a Python release callback made Arrow abort, see `_adopt`).

A node (struct ArrowArray, 80 bytes, all fields 8 bytes): length, null_count, offset, n_buffers,
n_children, buffers, children, dictionary, release, private_data. Decoded ROS values have no nulls,
so null_count is 0 and every validity buffer NULL.
"""

from __future__ import annotations

import ctypes
import itertools
import mmap
import platform
import struct
from typing import Any

import numpy as np
import pyarrow as pa

from . import native

__all__ = ["build_struct_array"]

_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


def _release_child(address: int | None) -> None:
    """Release of our child nodes where no native one can be made (see `_native_mark_released`).
    Arrow calls it only when a root is released before our import finished (see `_adopt`)."""
    try:
        if address is not None:
            ctypes.c_void_p.from_address(address + 64).value = None
    except BaseException:  # nothing can be reported from here
        pass


def _native_mark_released() -> int | None:
    """Address of a machine-code function `void f(struct ArrowArray *a) { a->release = NULL; }`.

    Child nodes need a release callback that Arrow calls only when the root is released between
    the C++ import and the moment we detach the children (an exception a signal handler raises
    in that window drops the new array). A Python callback run then, with that exception set,
    makes CPython fail ("SystemError: error return without exception set") and Arrow abort. So the
    callback is these 9 bytes of x86-64 (`mov qword [rdi+64], 0; ret`) on an executable page;
    elsewhere, or where the system forbids executable memory, the Python one is used.
    """
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    code = bytes.fromhex("48c7474000000000c3")
    try:
        page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        page.write(code)
        address = ctypes.addressof(ctypes.c_char.from_buffer(page))
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        if libc.mprotect(address, mmap.PAGESIZE, mmap.PROT_READ | mmap.PROT_EXEC) != 0:
            return None
    except (OSError, ValueError, AttributeError):
        return None
    _KEPT.append(page)  # never unmapped
    return address


_KEPT: list[Any] = []
_CHILD_THUNK = _CALLBACK(_release_child)
# A freed ctypes thunk that Arrow still called would crash: keep it for the life of the process.
ctypes.pythonapi.Py_IncRef(ctypes.py_object(_CHILD_THUNK))
_CHILD_RELEASE = _native_mark_released() or ctypes.cast(_CHILD_THUNK, ctypes.c_void_p).value or 0

# A node marked released (all zeros): after the import, the root's children point here, so that
# releasing the root (pyarrow's C code, see `_adopt`) skips our child nodes. Never freed.
_RELEASED = ctypes.create_string_buffer(80)
ctypes.pythonapi.Py_IncRef(ctypes.py_object(_RELEASED))
_RELEASED_NODE = ctypes.addressof(_RELEASED)
_HOLDER_TYPE = pa.uint8()


def _disown(root: int) -> None:
    """After a failed import: release the root if Arrow did not (pyarrow's release, in C)."""
    release = ctypes.c_void_p.from_address(root + 64).value
    if release:
        _CALLBACK(release)(root)


def _adopt(address: int, keep: Any) -> None:
    """Export at `address` (scratch) a pyarrow empty array whose buffer holds `keep` (our memory,
    and the input that numeric lists point into); the root node takes over its `release` and
    `private_data` (bytes 64-80).

    When Arrow drops the imported tree, pyarrow's own C++ release frees that private data, which
    drops `keep`: no Python code runs, so releasing works in any thread, during interpreter exit
    and while a signal handler would raise (a Python release callback failed in all three; an
    exception there leaves `release` set and Arrow aborts). Costs ~4 us.
    """
    buffer = pa.foreign_buffer(address, 0, base=keep)
    pa.Array.from_buffers(_HOLDER_TYPE, 0, [None, buffer])._export_to_c(address)


class _Arena:
    """Memory for one array tree: bytearrays that never move, so addresses are known at once."""

    __slots__ = ("base", "capacity", "memory", "segments", "used", "view")

    def __init__(self, capacity: int) -> None:
        self.segments: list[Any] = []
        self._segment(capacity)

    def _segment(self, capacity: int) -> None:
        self.memory = bytearray(capacity)
        # Writes go through this view: it never resizes the bytearray (whose address the tree
        # holds) and refuses data of another length than announced; while it lives the
        # bytearray cannot be resized by anyone.
        self.view = memoryview(self.memory)
        self.base = ctypes.addressof(ctypes.c_char.from_buffer(self.memory))
        self.capacity = capacity
        self.used = 0
        self.segments.append(self.memory)

    def holding(self, address: int) -> tuple[bytearray, int]:
        """The segment that holds `address`, and the offset of the address in it."""
        for memory in self.segments:
            base = ctypes.addressof(ctypes.c_char.from_buffer(memory))
            if base <= address < base + len(memory):
                return memory, address - base
        raise ValueError(f"address {address:#x} is not in this arena")

    def reserve(self, nbytes: int) -> tuple[bytearray, int, int]:
        """Room for `nbytes`, 8-aligned: (bytearray, offset in it, address)."""
        at = self.used
        if at + nbytes > self.capacity:
            self._segment(max(4096, nbytes + 8))
            at = 0
        self.used = (at + nbytes + 7) & -8
        return self.memory, at, self.base + at

    def add(self, data: Any, nbytes: int) -> int:
        """Copy `data` (`nbytes` long) in, 8-aligned; returns its address."""
        at = self.used
        if at + nbytes > self.capacity:
            self._segment(max(4096, nbytes + 8))
            at = 0
        self.view[at : at + nbytes] = data
        self.used = (at + nbytes + 7) & -8
        return self.base + at


def _plan(dtype: pa.DataType) -> tuple[Any, ...]:
    """What the builders need of an Arrow type, read once (reading pyarrow types is slow)."""
    if pa.types.is_struct(dtype):
        return ("struct", tuple((f.name, _plan(f.type)) for f in dtype))
    if pa.types.is_fixed_size_list(dtype):
        return ("fixed", _plan(dtype.value_type), dtype.list_size)
    if pa.types.is_list(dtype):
        return ("list", _plan(dtype.value_type))
    if pa.types.is_string(dtype):
        return ("string",)
    if pa.types.is_boolean(dtype):
        return ("bool",)
    numpy_type = np.dtype(dtype.to_pandas_dtype()).newbyteorder("<")
    return ("number", numpy_type, _STRUCT_CODES[numpy_type.kind + str(numpy_type.itemsize)])


_STRUCT_CODES = {
    **{f"i{n}": c for n, c in ((1, "b"), (2, "h"), (4, "i"), (8, "q"))},
    **{f"u{n}": c for n, c in ((1, "B"), (2, "H"), (4, "I"), (8, "Q"))},
    **{"f4": "f", "f8": "d"},
}


def _offsets(lengths: list[int]) -> bytes:
    """Arrow int32 offsets of items of these lengths (struct.error past 2**31, as Arrow would)."""
    return struct.pack(f"<{len(lengths) + 1}i", 0, *itertools.accumulate(lengths))


def _column(plan: tuple[Any, ...], values: list[Any], arena: _Arena) -> int:
    """The node of a column of nested messages or strings (array elements); its address.

    Numbers and bools in arrays are written by the generated builders themselves.
    """
    if plan[0] == "struct":
        held = _COLUMNS.get(id(plan))
        if held is None:
            held = _COLUMNS[id(plan)] = (plan, _Columns(plan).col)
        return held[1](values, arena)
    if plan[0] != "string":
        raise TypeError(f"arrays of {plan[0]} arrays do not exist in ROS 2 messages")
    encoded = [s.encode() for s in values]
    memory, at, address = arena.reserve(104)
    offsets = arena.add(_offsets([len(e) for e in encoded]), 4 * len(encoded) + 4)
    data = b"".join(encoded)
    buffer = arena.add(data, len(data))
    _STRING_NODE.pack_into(
        memory,
        at,
        len(encoded),
        0,
        0,
        3,
        0,
        address + 80,
        0,
        0,
        _CHILD_RELEASE,
        0,
        0,
        offsets,
        buffer,
    )
    return address


_STRING_NODE = struct.Struct("<qqqqqQQQQQQQQ")  # a node and its three buffers


def _flat(plan: tuple[Any, ...]) -> bool:
    """A struct of integers, bools and strings only: its values make a cheap, exact cache key
    (not floats: -0.0 == 0.0, and NaN never equals itself)."""
    return plan[0] == "struct" and all(
        sub[0] in ("bool", "string") or (sub[0] == "number" and sub[1].kind in "iu")
        for _, sub in plan[1]
    )


def _cached_column(
    plan: tuple[Any, ...], values: list[dict[str, Any]], cache: dict[Any, Any], held: list[Any]
) -> int:
    """`_column` of a few flat structs, built once per distinct content and shared.

    A stream repeats its small arrays of nested messages (PointCloud2's `fields`, a
    MultiArrayLayout's `dim`): building one took ~10 us, finding it ~2 us. The shared nodes and
    values are never written again and live in their own arena, which each tree that points at
    them holds (`held`); Arrow reads a child's `struct ArrowArray` only while importing.
    """
    names = [name for name, _ in plan[1]]
    key = tuple(tuple([row[name] for name in names]) for row in values)
    hit = cache.get(key)
    if hit is None:
        arena = _Arena(1024)
        hit = (_column(plan, values, arena), arena.segments)
        if len(cache) >= 8:  # a stream of ever-changing arrays: keep memory bounded
            cache.clear()
        cache[key] = hit
    held.append(hit[1])
    return hit[0]


class _Writer:
    """What both generators share: the fixed part's struct codes and the values packed into it."""

    def __init__(self, length: str) -> None:
        self.pre: list[str] = []  # computes what the fixed part points to or holds
        self.codes: list[str] = []
        self.args: list[str] = []
        self.size = 0
        self.count = 0
        self.length = length  # rows of the nodes written (outside arrays)
        self.ns: dict[str, Any] = {
            "np": np,
            "ndarray": np.ndarray,
            "asarray": np.asarray,
            "concatenate": np.concatenate,
            "packbits": np.packbits,
            "pack": struct.pack,
            "py_buffer": pa.py_buffer,
            "offsets": _offsets,
            "column": _column,
            "cached_column": _cached_column,
            "CR": _CHILD_RELEASE,
        }

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def word(self, code: str, expr: str) -> int:
        """One 8-byte slot (a value of `code`, zero-padded); returns its index in `args`."""
        size = struct.calcsize("<" + code)
        self.codes.append(code + (f"{8 - size}x" if size < 8 else ""))
        self.args.append(expr)
        self.size += 8
        return len(self.args) - 1

    def pair(self, expr: str) -> None:
        """One 8-byte slot holding the int32 offsets [0, expr] of a one-row string or list."""
        self.codes.append("ii")
        self.args += ["0", expr]
        self.size += 8

    def node(self, length: str, n_buffers: int, n_children: int) -> tuple:
        """A node, its buffer list (NULLs) and its children list (NULLs).

        Returns (offset, index of the first buffer's arg, index of the first child's arg).
        """
        at = self.size
        for expr in (length, "0", "0", str(n_buffers), str(n_children)):
            self.word("q", expr)
        self.word("Q", f"F+{at + 80}")
        self.word("Q", f"F+{at + 80 + 8 * n_buffers}" if n_children else "0")
        self.word("Q", "0")
        self.word("Q", "CR")  # release (a root's is set by `_adopt`)
        self.word("Q", "0")  # private_data
        first_buffer = len(self.args)
        for _ in range(n_buffers + n_children):
            self.word("Q", "0")
        return at, first_buffer, first_buffer + n_buffers

    def struct(self, fields: tuple, row: str) -> int:
        at, _, first = self.node(self.length, 1, len(fields))
        for i, (name, sub) in enumerate(fields):
            self.args[first + i] = f"F+{self.value(sub, row, name)}"
        return at

    def value(self, plan: tuple, row: str, name: str) -> int:
        raise NotImplementedError

    def compile(self, source: str, fn: str) -> Any:
        self.ns["FIXED"] = struct.Struct("<" + "".join(self.codes))
        exec(compile(source, f"<arrow builder {fn}>", "exec"), self.ns)
        return self.ns[fn]


class _OneRow(_Writer):
    """Writes `build(v) -> pa.StructArray` for one message of one struct type."""

    def __init__(self, dtype: pa.StructType) -> None:
        super().__init__("1")
        self.ns.update(
            Arena=_Arena,
            DTYPE=dtype,
            import_array=pa.Array._import_from_c,
            adopt=_adopt,
            disown=_disown,
        )
        fields = _plan(dtype)[1]
        root = self.struct(fields, "v")
        assert root == 0
        # the root's children list: a struct node with its one (validity) buffer is 88 bytes
        self.ns["RELEASED"] = (_RELEASED_NODE,) * len(fields)
        self.ns["CHILDREN"] = struct.Struct(f"<{len(fields)}Q")
        scratch = self.size  # 80 more bytes, where the owner is exported
        # Ownership is taken last, once nothing can fail but the import: a value that does not
        # fit (hand-made rows) raises from the pack with nothing to release.
        body = [
            f"    arena = Arena({self.size + 80 + 1024})",
            f"    m, _, F = arena.reserve({self.size + 80})",
            "    held = []",
            *self.pre,
            f"    FIXED.pack_into(m, 0, {', '.join(self.args)})",
            f"    adopt(F + {scratch}, (arena.segments, held))",
            f"    m[64:80] = m[{scratch + 64}:{scratch + 80}]",
            "    try:",
            "        array = import_array(F, DTYPE)",
            "    except BaseException:",
            "        disown(F)",
            "        raise",
            "    CHILDREN.pack_into(m, 88, *RELEASED)",
            "    return array",
        ]
        self.build = self.compile("def build(v):\n" + "\n".join(body) + "\n", "build")

    def value(self, plan: tuple, row: str, name: str) -> int:
        kind = plan[0]
        expr = f"{row}[{name!r}]"
        if kind == "struct":
            sub = self.name("d")
            self.pre.append(f"    {sub} = {expr}")
            return self.struct(plan[1], sub)
        if kind in ("number", "bool"):
            at, first, _ = self.node("1", 2, 0)
            self.args[first + 1] = f"F+{self.size}"
            self.word(plan[2] if kind == "number" else "?", expr)
            return at
        if kind == "string":
            s = self.name("s")
            self.pre.append(f"    {s} = {expr}.encode()")
            at, first, _ = self.node("1", 3, 0)
            self.args[first + 1] = f"F+{self.size}"
            self.args[first + 2] = f"arena.add({s}, len({s}))"
            self.pair(f"len({s})")
            return at
        return self.array(plan, expr)

    def array(self, plan: tuple, expr: str) -> int:
        kind, element = plan[0], plan[1]
        a, n = self.name("a"), self.name("n")
        if element[0] == "number":
            dtype, p, k = self.name("DT"), self.name("p"), self.name("k")
            self.ns[dtype] = element[1]
            size = element[1].itemsize
            aligned = f" and not {p} % {size}" if size > 1 else ""
            self.pre += [
                f"    {a} = {expr}",
                f"    if type({a}) is not ndarray or ({a}.dtype is not {dtype} and "
                f"{a}.dtype != {dtype}):",
                f"        {a} = asarray({a}, {dtype})",
                f"    if {a}.ndim != 1: raise ValueError('a sequence of numbers, not ' + "
                f"str({a}.ndim) + '-D')",
                f"    {n} = len({a})",
                "    try:",  # pyarrow gives the address in ~0.6 us, numpy in ~1.6 us
                f"        {k} = py_buffer({a})",
                f"        {p} = {k}.address",
                "    except ValueError:",  # not contiguous
                f"        {p} = 0",
                f"    if {n} and {p}{aligned}:",
                f"        held.append({k})",
                "    else:",
                f"        {p} = arena.add({a}.tobytes(), {n} * {size})",
            ]
            child = None
        elif element[0] == "bool":
            p = self.name("p")
            self.pre += [
                f"    {a} = asarray({expr}, bool)",
                f"    {n} = len({a})",
                f"    {p} = arena.add(packbits({a}, bitorder='little').tobytes(), ({n} + 7) // 8)",
            ]
            child = None
        else:
            sub = self.name("E")
            self.ns[sub] = element
            self.pre += [f"    {a} = list({expr})", f"    {n} = len({a})"]
            if _flat(element):  # PointCloud2's fields: the same few elements in every message
                cache = self.name("K")
                self.ns[cache] = {}
                child = f"cached_column({sub}, {a}, {cache}, held) if {n} <= 16 else "
                child += f"column({sub}, {a}, arena)"
            else:
                child = f"column({sub}, {a}, arena)"
        if kind == "fixed":
            self.pre.append(
                f"    if {n} != {plan[2]}: raise ValueError('a fixed array of {plan[2]} got ' "
                f"+ str({n}))"
            )
            at, _, first_child = self.node("1", 1, 1)
        else:
            at, first, first_child = self.node("1", 2, 1)
            self.args[first + 1] = f"F+{self.size}"
            self.pair(n)
        if child is None:
            values, first, _ = self.node(n, 2, 0)
            self.args[first + 1] = p
            self.args[first_child] = f"F+{values}"
        else:
            self.args[first_child] = child
        return at


class _Columns(_Writer):
    """Writes `col(rows, arena) -> node address` for a column of `len(rows)` messages of a type.

    Used for arrays of nested messages (PointCloud2's `fields`, Path's `poses`) and `decode_many`:
    the nodes and buffer lists have a shape fixed by the type, written by one `pack_into` into
    room reserved first; the values (n of each field) go after it.
    """

    def __init__(self, plan: tuple) -> None:
        super().__init__("n")
        root = self.struct(plan[1], "rows")
        assert root == 0
        body = [
            "    n = len(rows)",
            f"    m, at, F = arena.reserve({self.size})",
            "    add = arena.add",
            *self.pre,
            f"    FIXED.pack_into(m, at, {', '.join(self.args)})",
            "    return F",
        ]
        self.col = self.compile("def col(rows, arena):\n" + "\n".join(body) + "\n", "col")

    def value(self, plan: tuple, rows: str, name: str) -> int:
        kind = plan[0]
        column = f"[r[{name!r}] for r in {rows}]"
        if kind == "struct":
            sub = self.name("R")
            self.pre.append(f"    {sub} = {column}")
            return self.struct(plan[1], sub)
        o = self.name("o")
        if kind == "number":
            code, size = plan[2], plan[1].itemsize
            self.pre.append(f"    {o} = add(pack(f'<{{n}}{code}', *{column}), n * {size})")
            at, first, _ = self.node("n", 2, 0)
            self.args[first + 1] = o
            return at
        if kind == "bool":
            self.pre.append(
                f"    {o} = add(packbits(asarray({column}, bool), bitorder='little').tobytes(), "
                "(n + 7) // 8)"
            )
            at, first, _ = self.node("n", 2, 0)
            self.args[first + 1] = o
            return at
        if kind == "string":
            e, d, oo = self.name("e"), self.name("d"), self.name("o")
            self.pre += [
                f"    {e} = [s.encode() for s in {column}]",
                f"    {oo} = add(offsets([len(x) for x in {e}]), 4 * n + 4)",
                f"    {d} = b''.join({e})",
                f"    {o} = add({d}, len({d}))",
            ]
            at, first, _ = self.node("n", 3, 0)
            self.args[first + 1] = oo
            self.args[first + 2] = o
            return at
        return self.array(plan, column)

    def array(self, plan: tuple, column: str) -> int:
        kind, element = plan[0], plan[1]
        items, lengths, total = self.name("a"), self.name("l"), self.name("t")
        self.pre += [
            f"    {items} = {column}",
            f"    {lengths} = [len(x) for x in {items}]",
            f"    {total} = sum({lengths})",
        ]
        if kind == "fixed":
            self.pre.append(
                f"    if {total} != n * {plan[2]}: raise ValueError('a fixed array of {plan[2]} "
                "got another length')"
            )
        o = self.name("o")
        if element[0] == "number":
            dtype = self.name("DT")
            self.ns[dtype] = element[1]
            self.pre.append(
                f"    {o} = add(concatenate([asarray(x, {dtype}) for x in {items}]).tobytes() "
                f"if n else b'', {total} * {element[1].itemsize})"
            )
        elif element[0] == "bool":
            self.pre.append(
                f"    {o} = add(packbits(concatenate([asarray(x, bool) for x in {items}]), "
                f"bitorder='little').tobytes() if n else b'', ({total} + 7) // 8)"
            )
        else:
            sub = self.name("E")
            self.ns[sub] = element
            self.pre.append(f"    {o} = column({sub}, [y for x in {items} for y in x], arena)")
        if kind == "fixed":
            at, _, first_child = self.node("n", 1, 1)
        else:
            oo = self.name("o")
            self.pre.append(f"    {oo} = add(offsets({lengths}), 4 * n + 4)")
            at, first, first_child = self.node("n", 2, 1)
            self.args[first + 1] = oo
        if element[0] in ("number", "bool"):
            values, first, _ = self.node(total, 2, 0)
            self.args[first + 1] = o
            self.args[first_child] = f"F+{values}"
        else:
            self.args[first_child] = o
        return at


# Keyed by id() of the type or plan, which each entry keeps alive: hashing a pyarrow type costs
# ~20 us.
_ONE_ROW: dict[int, tuple[pa.DataType, Any]] = {}
_COLUMNS: dict[int, tuple[tuple, Any]] = {}
_PLANS: dict[int, tuple[pa.DataType, tuple]] = {}


def build_struct_array(dtype: pa.StructType, rows: list[dict[str, Any]]) -> pa.StructArray:
    """A struct array of `rows` (dict trees as the CDR decoder makes them) of type `dtype`.

    Raises TypeError, ValueError, OverflowError or struct.error when a value does not fit.
    """
    if len(rows) == 1:
        if native.AVAILABLE:
            walk = native.spec(dtype, keep=True)
            if walk is not None:
                built = _native_one_row(dtype, walk, rows[0])
                if built is not None:
                    return built
        one = _ONE_ROW.get(id(dtype))
        if one is None:
            one = _ONE_ROW[id(dtype)] = (dtype, _OneRow(dtype).build)
        return one[1](rows[0])
    held = _PLANS.get(id(dtype))
    if held is None:
        held = _PLANS[id(dtype)] = (dtype, _plan(dtype))
    arena = _Arena(4096)
    root = _column(held[1], rows, arena)
    memory, offset = arena.holding(root)
    scratch, at, address = arena.reserve(80)
    _adopt(address, arena.segments)
    memory[offset + 64 : offset + 80] = scratch[at + 64 : at + 80]
    try:
        array = pa.Array._import_from_c(root, dtype)
    except BaseException:
        _disown(root)
        raise
    k = len(held[1][1])
    struct.pack_into(f"<{k}Q", memory, offset + 88, *((_RELEASED_NODE,) * k))
    return array


def _native_one_row(dtype: pa.StructType, walk: Any, row: dict[str, Any]) -> pa.StructArray | None:
    """`_OneRow`'s work done in C (`native.build`): nodes in ~2 us instead of ~15, and a root whose
    release is C code that drops our memory, instead of `_adopt` (~5 us).

    None when C leaves the row to Python (a value the decoder never makes); an error of the
    import itself is raised, never hidden by the Python builder.
    """
    # Held here too: if the import fails after Arrow took the root, Arrow has released it (and
    # its reference to these) and `_disown` must still be able to read the root's memory.
    segments: list[bytearray] = []
    try:
        root = native.build(row, walk, segments, [])
    except native.NOT_HANDLED:
        return None
    try:
        return pa.Array._import_from_c(root, dtype)
    except BaseException:
        _disown(root)
        raise
