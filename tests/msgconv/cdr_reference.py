"""A slow, plainly written CDR reference and value tools for the msgconv tests.

Independent of `dora_ros.msgconv`: types are described by the tree that rclpy's own generated
classes report (see `rclpy_reference.describe`), values are plain Python (`dict` per struct, `list`
per array or sequence, `int` for byte/char/uint8, `float`, `bool`, `str`), which is also what
`pa.StructArray.to_pylist()` gives for the Arrow mapping of issue 4.

The serializer follows the CDR rules ROS 2 uses (XCDR1 with the 4-byte encapsulation header): each
primitive aligned to its size (at most 8), measured from after the header; strings as a uint32 byte
count including a NUL terminator; wstrings as a uint32 count of UTF-16 units, each unit in 4 bytes,
no terminator (what rclpy writes); sequences as a uint32 count then the elements; a struct without
fields as one uint8 (the C struct's `structure_needs_at_least_one_member`). It also reports which
bytes are padding, so bytes from rclpy (whose padding is uninitialised memory) can be compared.

Description tree (plain tuples, picklable):
  ("prim", name)            name in PRIMITIVES
  ("string", bound | None)  ("wstring", bound | None)
  ("struct", "pkg/msg/Type")
  ("array", elem, n)        ("sequence", elem, bound | None)
A *schema* maps every struct type name to its `((field, desc), ...)`.
"""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Mapping, Sequence
from typing import Any

Desc = tuple[Any, ...]
Schema = Mapping[str, tuple[tuple[str, Desc], ...]]

# name -> (struct format char, size)
PRIMITIVES: dict[str, tuple[str, int]] = {
    "bool": ("?", 1),
    "byte": ("B", 1),
    "char": ("B", 1),
    "int8": ("b", 1),
    "uint8": ("B", 1),
    "int16": ("h", 2),
    "uint16": ("H", 2),
    "int32": ("i", 4),
    "uint32": ("I", 4),
    "int64": ("q", 8),
    "uint64": ("Q", 8),
    "float32": ("f", 4),
    "float64": ("d", 8),
}

HEADER_LE = b"\x00\x01\x00\x00"
HEADER_BE = b"\x00\x00\x00\x00"


class _Writer:
    def __init__(self, big_endian: bool) -> None:
        self.order = ">" if big_endian else "<"
        self.body = bytearray()
        self.padding: list[int] = []  # offsets into the body

    def align(self, n: int) -> None:
        while len(self.body) % n:
            self.padding.append(len(self.body))
            self.body.append(0)

    def prim(self, name: str, value: Any) -> None:
        fmt, size = PRIMITIVES[name]
        self.align(min(size, 8))
        self.body += struct.pack(self.order + fmt, value)

    def u32(self, value: int) -> None:
        self.align(4)
        self.body += struct.pack(self.order + "I", value)


def _write(w: _Writer, schema: Schema, desc: Desc, value: Any) -> None:
    kind = desc[0]
    if kind == "prim":
        w.prim(desc[1], value)
    elif kind == "string":
        data = value.encode("utf-8")
        w.u32(len(data) + 1)
        w.body += data + b"\x00"
    elif kind == "wstring":
        units = struct.unpack(f"<{len(value.encode('utf-16-le')) // 2}H", value.encode("utf-16-le"))
        w.u32(len(units))
        for unit in units:
            w.u32(unit)
    elif kind == "struct":
        fields = schema[desc[1]]
        if not fields:
            w.prim("uint8", 0)
        for name, fdesc in fields:
            _write(w, schema, fdesc, value[name])
    elif kind == "array":
        assert len(value) == desc[2]
        for item in value:
            _write(w, schema, desc[1], item)
    elif kind == "sequence":
        w.u32(len(value))
        for item in value:
            _write(w, schema, desc[1], item)
    else:  # pragma: no cover
        raise AssertionError(desc)


def serialize(
    schema: Schema, type_name: str, value: Mapping[str, Any], *, big_endian: bool = False
) -> tuple[bytes, frozenset[int]]:
    """CDR bytes of `value` (header included, zero padding, no trailing padding) and the set of
    offsets (into the whole stream) that are alignment padding."""
    w = _Writer(big_endian)
    _write(w, schema, ("struct", type_name), value)
    header = HEADER_BE if big_endian else HEADER_LE
    return header + bytes(w.body), frozenset(p + 4 for p in w.padding)


# ---------------------------------------------------------------------------------------------
# Random values within a type's bounds

_INT_RANGES = {
    "byte": (0, 255),
    "char": (0, 255),
    "int8": (-(2**7), 2**7 - 1),
    "uint8": (0, 2**8 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}
# Text that exercises UTF-8 widths 1-4 and UTF-16 surrogate pairs; never NUL (C strings).
_CHARS = "abcXYZ019 _-'\"\\\t\né¼ßハロー世界😀🚀"
_SPECIAL_FLOATS = (0.0, -0.0, math.inf, -math.inf, math.nan, 1.0, -1.5)


def _f32(x: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


def _random_float(rng: random.Random, name: str) -> float:
    r = rng.random()
    if r < 0.25:
        return rng.choice(_SPECIAL_FLOATS)
    if r < 0.6:  # any bit pattern (huge, tiny, subnormal), NaN payloads excluded
        size = 4 if name == "float32" else 8
        while True:
            x = struct.unpack("<f" if size == 4 else "<d", rng.randbytes(size))[0]
            if not math.isnan(x):
                return float(x)
    x = rng.uniform(-1e6, 1e6)
    return _f32(x) if name == "float32" else x


def _random_text(
    rng: random.Random, max_len: int, *, utf16_bound: int | None, utf8_bound: int | None
) -> str:
    text = "".join(rng.choice(_CHARS) for _ in range(rng.randint(0, max_len)))
    while utf8_bound is not None and len(text.encode("utf-8")) > utf8_bound:
        text = text[:-1]
    while utf16_bound is not None and len(text.encode("utf-16-le")) // 2 > utf16_bound:
        text = text[:-1]
    return text


def random_value(schema: Schema, desc: Desc, rng: random.Random, *, max_seq: int = 4) -> Any:
    """A random value of `desc`, inside its bounds (sometimes exactly at them)."""
    kind = desc[0]
    if kind == "prim":
        name = desc[1]
        if name == "bool":
            return rng.random() < 0.5
        if name in ("float32", "float64"):
            return _random_float(rng, name)
        lo, hi = _INT_RANGES[name]
        return rng.choice((lo, hi, 0, 1, rng.randint(lo, hi), rng.randint(lo, hi)))
    if kind == "string":
        bound = desc[1]
        if bound is not None and rng.random() < 0.3:
            return "x" * bound
        return _random_text(rng, 12 if bound is None else bound, utf16_bound=None, utf8_bound=bound)
    if kind == "wstring":
        bound = desc[1]
        return _random_text(rng, 12 if bound is None else bound, utf16_bound=bound, utf8_bound=None)
    if kind == "struct":
        return {
            name: random_value(schema, fdesc, rng, max_seq=max_seq)
            for name, fdesc in schema[desc[1]]
        }
    if kind == "array":
        return [random_value(schema, desc[1], rng, max_seq=max_seq) for _ in range(desc[2])]
    if kind == "sequence":
        bound = desc[2]
        top = max_seq if bound is None else min(bound, max_seq)
        n = (
            bound
            if (bound is not None and bound <= max_seq and rng.random() < 0.3)
            else rng.randint(0, top)
        )
        return [random_value(schema, desc[1], rng, max_seq=max(1, max_seq // 2)) for _ in range(n)]
    raise AssertionError(desc)  # pragma: no cover


def random_values(schema: Schema, type_name: str, seed: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [random_value(schema, ("struct", type_name), rng) for _ in range(count)]


# ---------------------------------------------------------------------------------------------
# Comparing values


def first_difference(got: Any, want: Any, path: str = "") -> str | None:
    """None if equal (NaN equals NaN, 0.0 differs from -0.0, bool differs from int), else a
    sentence naming the first field path that differs."""
    where = path or "<message>"
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f"{where}: got {got!r}, expected a struct {want!r}"
        if set(got) != set(want):
            return f"{where}: fields {sorted(got)} != expected {sorted(want)}"
        for key in want:
            diff = first_difference(got[key], want[key], f"{path}.{key}" if path else key)
            if diff:
                return diff
        return None
    if isinstance(want, list):
        if not isinstance(got, (list, tuple)):
            return f"{where}: got {type(got).__name__} {got!r:.80}, expected a list"
        if len(got) != len(want):
            return f"{where}: length {len(got)} != expected {len(want)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            diff = first_difference(g, w, f"{path}[{i}]")
            if diff:
                return diff
        return None
    if isinstance(want, float):
        if not isinstance(got, float):
            return f"{where}: got {got!r} ({type(got).__name__}), expected float {want!r}"
        if math.isnan(want) and math.isnan(got):
            return None
        if got != want or math.copysign(1, got) != math.copysign(1, want):
            return f"{where}: got {got!r}, expected {want!r}"
        return None
    if (
        isinstance(want, bool) != isinstance(got, bool)
        or got != want
        or type(got) is not type(want)
    ):
        return f"{where}: got {got!r} ({type(got).__name__}), expected {want!r} ({type(want).__name__})"
    return None


def assert_same(got: Any, want: Any, context: str) -> None:
    diff = first_difference(got, want)
    assert diff is None, f"{context}: {diff}"


def differing_offsets(a: bytes, b: bytes, ignore: frozenset[int] = frozenset()) -> list[int]:
    """Offsets below min(len) where the bytes differ, except those in `ignore`."""
    return [i for i in range(min(len(a), len(b))) if a[i] != b[i] and i not in ignore]


def iter_descs(schema: Schema, type_name: str) -> Sequence[Desc]:
    """Every field description reachable from `type_name` (for picking types with a feature)."""
    seen: set[str] = set()
    out: list[Desc] = []

    def walk(desc: Desc) -> None:
        out.append(desc)
        if desc[0] == "struct" and desc[1] not in seen:
            seen.add(desc[1])
            for _, fdesc in schema[desc[1]]:
                walk(fdesc)
        elif desc[0] in ("array", "sequence"):
            walk(desc[1])

    walk(("struct", type_name))
    return out
