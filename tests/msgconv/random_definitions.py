"""Random but valid ROS 2 message definitions, for the differential tests of msgconv.

`random_family(rng, package)` writes a few `.msg` types of one package, the later ones nesting
the earlier ones (so nesting goes several levels deep), and describes them in the plain form of
`cdr_reference` (a *schema*), which the plain serializer and the value generator read. Each type
draws its fields from every primitive, `string`, `wstring`, bounded strings, fixed arrays, bounded
and unbounded sequences, nested messages and arrays of them; some types have no fields at all;
some fields have defaults and some types constants, whose values the family records so tests can
check what msgconv's parser made of them.

Independent of `dora_ros.msgconv` (the thing under test): plain Python only.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field
from typing import Any

try:
    from . import cdr_reference as ref_cdr
except ImportError:  # tests/msgconv is not a package: pytest put this folder on sys.path
    import cdr_reference as ref_cdr  # type: ignore[no-redef]

Desc = tuple[Any, ...]

_INTS = {
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
PRIMITIVE_NAMES = ["bool", "float32", "float64", *_INTS]
# Characters safe in a quoted .msg default or constant (no quotes, backslashes, '#' or commas).
_TEXT = "abcXYZ09 _-.é漢"


@dataclass
class Family:
    """Message types of one package: their .msg text, plain schema, defaults and constants."""

    package: str
    texts: dict[str, str] = field(default_factory=dict)  # "pkg/msg/T" -> .msg text
    schema: dict[str, tuple[tuple[str, Desc], ...]] = field(default_factory=dict)
    defaults: dict[str, dict[str, Any]] = field(default_factory=dict)  # explicit defaults only
    constants: dict[str, dict[str, Any]] = field(default_factory=dict)
    wide: set[str] = field(default_factory=set)  # types that reach a wstring (not for rosbags)
    # the texts without constant lines (rosbags' parser misreads `string C=9XZ`; constants do not
    # change the bytes)
    field_texts: dict[str, str] = field(default_factory=dict)

    @property
    def top(self) -> str:
        """The last type, which nests (directly or not) most of the others."""
        return list(self.texts)[-1]

    def describe(self) -> str:
        """Every type's text, to print with a failure."""
        return "\n".join(f"--- {name}\n{text}" for name, text in self.texts.items())

    def default_value(self, type_name: str) -> dict[str, Any]:
        """The value of a default-constructed message, as rclpy would build it."""
        out: dict[str, Any] = {}
        explicit = self.defaults[type_name]
        for name, desc in self.schema[type_name]:
            out[name] = explicit[name] if name in explicit else self._zero(desc)
        return out

    def _zero(self, desc: Desc) -> Any:
        kind = desc[0]
        if kind == "prim":
            return {"bool": False, "float32": 0.0, "float64": 0.0}.get(desc[1], 0)
        if kind in ("string", "wstring"):
            return ""
        if kind == "struct":
            return self.default_value(desc[1])
        if kind == "array":
            return [self._zero(desc[1]) for _ in range(desc[2])]
        return []


def _float32(x: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


def _literal(rng: random.Random, prim: str) -> tuple[Any, str]:
    """A value of a primitive type and how a .msg file writes it (defaults and constants)."""
    if prim == "bool":
        value = rng.random() < 0.5
        return value, rng.choice(["true", "True", "1"] if value else ["false", "False", "0"])
    if prim in ("float32", "float64"):
        value = rng.choice([0.0, 1.5, -2.25, 1e-3, 123456.75, -0.5])
        value = _float32(value) if prim == "float32" else value
        return value, repr(value)
    low, high = _INTS[prim]
    value = rng.choice([low, high, 0, 1, rng.randint(low, high)])
    return value, str(value)


def _text_literal(rng: random.Random, bound: int | None) -> tuple[str, str]:
    size = rng.randint(0, 6 if bound is None else bound)
    chars = _TEXT if bound is None else _TEXT[:-2]  # a bound counts bytes in C: ASCII only
    value = "".join(rng.choice(chars) for _ in range(size))
    return value, f'"{value}"'


def _element_type(rng: random.Random, nested: list[str], depth_ok: bool) -> tuple[str, Desc, bool]:
    """(.msg spelling, plain description, is a wstring) of one element type."""
    r = rng.random()
    if nested and depth_ok and r < 0.2:
        name = rng.choice(nested)
        pkg, _, base = name.split("/")
        return f"{pkg}/{base}", ("struct", name), False
    if r < 0.35:
        bound = rng.choice([None, None, rng.randint(1, 8)])
        wide = rng.random() < 0.3
        word = "wstring" if wide else "string"
        return (f"{word}<={bound}" if bound else word), (word, bound), wide
    prim = rng.choice(PRIMITIVE_NAMES)
    return prim, ("prim", prim), False


def _random_type(rng: random.Random, family: Family, name: str, nested: list[str]) -> None:
    lines: list[str] = []
    fields: list[tuple[str, Desc]] = []
    defaults: dict[str, Any] = {}
    constants: dict[str, Any] = {}
    wide = False
    if rng.random() < 0.3:  # constants go anywhere in the file; here at the top
        for i in range(rng.randint(1, 3)):
            kind = rng.choice([*PRIMITIVE_NAMES, "string"])
            const_name = f"C{i}_{kind.upper()}"
            if kind == "string":  # unquoted: the rest of the line is the value
                value = text = "".join(rng.choice("abcXYZ09_") for _ in range(rng.randint(1, 6)))
            else:
                value, text = _literal(rng, kind)
            constants[const_name] = value
            lines.append(f"{kind} {const_name}={text}")
    count = 0 if rng.random() < 0.1 else rng.randint(1, 8)
    for i in range(count):
        spelling, element, is_wide = _element_type(rng, nested, True)
        wide = wide or is_wide or (element[0] == "struct" and element[1] in family.wide)
        r = rng.random()
        if r < 0.55:
            desc, suffix, length = element, "", None
        elif r < 0.7:
            length = rng.randint(1, 4)
            desc, suffix = ("array", element, length), f"[{length}]"
        elif r < 0.85:
            length = rng.randint(1, 4)
            desc, suffix = ("sequence", element, length), f"[<={length}]"
        else:
            length = None
            desc, suffix = ("sequence", element, None), "[]"
        fname = f"f{i}_{element[0]}"
        line = f"{spelling}{suffix} {fname}"
        if element[0] != "struct" and rng.random() < 0.25:  # a default value
            if suffix:
                n = length if desc[0] == "array" else rng.randint(0, length or 3)
                assert n is not None
                items = [_default_item(rng, element) for _ in range(n)]
                defaults[fname] = [v for v, _ in items]
                line += " [" + ", ".join(t for _, t in items) + "]"
            else:
                value, text = _default_item(rng, element)
                defaults[fname] = value
                line += " " + text
        lines.append(line)
        fields.append((fname, desc))
    family.texts[name] = "\n".join(lines) + "\n"
    family.field_texts[name] = "".join(f"{line}\n" for line in lines[len(constants) :])
    family.schema[name] = tuple(fields)
    family.defaults[name] = defaults
    family.constants[name] = constants
    if wide:
        family.wide.add(name)


def _default_item(rng: random.Random, element: Desc) -> tuple[Any, str]:
    if element[0] == "prim":
        return _literal(rng, element[1])
    return _text_literal(rng, element[1])


def random_family(rng: random.Random, package: str, size: int | None = None) -> Family:
    """1..4 types of `package` (`pkg/msg/T0`, `T1`, ...), each nesting any of the earlier ones."""
    family = Family(package)
    names: list[str] = []
    for i in range(size or rng.randint(1, 4)):
        name = f"{package}/msg/T{i}"
        _random_type(rng, family, name, names)
        names.append(name)
    return family


def random_value(family: Family, type_name: str, rng: random.Random) -> dict[str, Any]:
    """A random value of a family's type (sequences 0..3 long, within every bound)."""
    value = ref_cdr.random_value(family.schema, ("struct", type_name), rng, max_seq=3)
    assert isinstance(value, dict)
    return value
