"""Parser of the OMG IDL subset that ROS 2 generates and that IDL-only types use.

Handles: `//` and `/* */` comments, `#include` (types resolve by name through the registry, so
includes need not be followed) and other preprocessor lines, nested `module`s, `struct`s with one
or more declarators per member and fixed array declarators (`long a[3]`), `typedef`s (also of
arrays and of typedefs), `const` declarations (a module `T_Constants` holds the constants of struct
`T`, as rosidl writes them), annotations (`@key`, `@default (value=...)`, `@verbatim (...)`,
others ignored), the types `boolean`, `octet`, `char`, `short`, `long`, `long long`, `unsigned ...`,
`float`, `double`, `int8`..`uint64`, `string`/`wstring` (bounded `string<N>`), `sequence<T>`,
`sequence<T, N>`, and scoped names `pkg::msg::Type`.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from .definitions import PRIMITIVES, STRINGS, Constant, Field, FieldType, MessageDefinition
from .errors import DefinitionError, a_or_an

__all__ = ["parse_idl"]

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|//[^\n]*|/\*.*?\*/|\#[^\n]*)
  | (?P<string>L?"(?:[^"\\]|\\.)*")
  | (?P<char>L?'(?:[^'\\]|\\.)*')
  | (?P<number>0[xX][0-9a-fA-F]+
      |(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[dD]?
      |[0-9]+(?:[eE][+-]?[0-9]+)?[dD]?)(?![A-Za-z0-9_.])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<scope>::)
  | (?P<op>[{}();,<>\[\]=@\-+:])
    """,
    re.VERBOSE | re.DOTALL,
)

_BASIC = {
    "boolean": "bool",
    "octet": "byte",
    "char": "char",
    "float": "float32",
    "double": "float64",
    "short": "int16",
    "long": "int32",
    "long long": "int64",
    "unsigned short": "uint16",
    "unsigned long": "uint32",
    "unsigned long long": "uint64",
    **{n: n for n in PRIMITIVES if n[0] in "iu"},
}
_PLACEHOLDER = "structure_needs_at_least_one_member"


def _tokens(text: str, source: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise DefinitionError(f"{source}:{line}: unexpected character {text[pos]!r}")
        kind = m.lastgroup
        assert kind is not None
        if kind != "ws":
            out.append((kind, m.group(), line))
        line += m.group().count("\n")
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str, source: str) -> None:
        self.toks = _tokens(text, source)
        self.i = 0
        self.source = source
        self.typedefs: dict[str, FieldType] = {}
        self.structs: dict[str, MessageDefinition] = {}
        self.constants: dict[str, list[Constant]] = {}

    # --- token helpers -------------------------------------------------------------------------

    def fail(self, message: str) -> DefinitionError:
        line = self.toks[min(self.i, len(self.toks) - 1)][2] if self.toks else 1
        return DefinitionError(f"{self.source}:{line}: {message}")

    def peek(self, offset: int = 0) -> str:
        j = self.i + offset
        return self.toks[j][1] if j < len(self.toks) else ""

    def next(self) -> tuple[str, str, int]:
        if self.i >= len(self.toks):
            raise self.fail("unexpected end of file")
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.next()
        if tok[1] != text:
            self.i -= 1
            raise self.fail(f"expected '{text}', found '{tok[1]}'")

    def ident(self) -> str:
        kind, text, _ = self.next()
        if kind != "name":
            self.i -= 1
            raise self.fail(f"expected a name, found '{text}'")
        return text

    def scoped_name(self) -> str:
        parts = [self.ident()]
        while self.peek() == "::":
            self.next()
            parts.append(self.ident())
        return "::".join(parts)

    # --- grammar -------------------------------------------------------------------------------

    def parse(self) -> dict[str, MessageDefinition]:
        self.definitions([])
        out = {}
        for name, struct in self.structs.items():
            consts = tuple(self.constants.get(name, ()))
            out[name] = MessageDefinition(name, struct.fields, consts, self.source)
        return out

    def definitions(self, scope: list[str]) -> None:
        while self.i < len(self.toks) and self.peek() != "}":
            annotations = self.annotations()
            word = self.peek()
            if word == "module":
                self.next()
                name = self.ident()
                self.expect("{")
                self.definitions([*scope, name])
                self.expect("}")
                self.expect(";")
            elif word == "struct":
                self.struct(scope)
            elif word == "typedef":
                self.typedef(scope)
            elif word == "const":
                self.const(scope)
            else:
                raise self.fail(f"unsupported IDL construct '{word}'")
            del annotations

    def annotations(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while self.peek() == "@":
            self.next()
            name = self.ident()
            params: dict[str, Any] = {}
            if self.peek() == "(":
                self.next()
                while self.peek() != ")":
                    if self.toks[self.i][0] == "name" and self.peek(1) == "=":
                        key = self.ident()
                        self.expect("=")
                    else:
                        key = "value"
                    params[key] = self.literal()
                    if self.peek() == ",":
                        self.next()
                self.expect(")")
            out[name] = params
        return out

    def literal(self) -> Any:
        """A literal: number (with sign), TRUE/FALSE, string (adjacent strings concatenated)."""
        kind, text, _ = self.next()
        if text in ("-", "+"):
            value = self.literal()
            if not isinstance(value, (int, float)):
                raise self.fail("a sign needs a number")
            return -value if text == "-" else value
        if kind == "number":
            return self.number(text)
        if kind == "string":
            value = _string(text)
            while self.i < len(self.toks) and self.toks[self.i][0] == "string":
                value += _string(self.next()[1])
            return value
        if kind == "char":
            return _string(text)
        if text in ("TRUE", "FALSE"):
            return text == "TRUE"
        if kind == "name":
            return text
        self.i -= 1
        raise self.fail(f"expected a value, found '{text}'")

    def number(self, text: str) -> int | float:
        """An IDL number literal as rosidl's grammar reads it: `0x1F` hex, `017` octal, `17`
        decimal, `1.`, `.5`, `1e3`, `1.5d` (fixed point) floating."""
        if text[:2] in ("0x", "0X"):
            return int(text, 16)
        if re.fullmatch(r"[0-9]+", text):
            if len(text) > 1 and text[0] == "0":
                if not re.fullmatch(r"0[0-7]+", text):
                    raise self.fail(f"'{text}' is not an IDL integer (octal digits are 0-7)")
                return int(text, 8)
            return int(text)
        return float(text.rstrip("dD"))

    def type_spec(self, scope: list[str]) -> FieldType:
        word = self.peek()
        if word == "sequence":
            self.next()
            self.expect("<")
            element = self.type_spec(scope)
            bound = None
            if self.peek() == ",":
                self.next()
                bound = self.literal()
            self.expect(">")
            if element.array:
                raise self.fail("sequences of arrays are not supported by ROS 2")
            if bound is None:
                return FieldType(element.name, element.string_bound, "sequence")
            return FieldType(element.name, element.string_bound, "bounded", int(bound))
        if word in STRINGS:
            self.next()
            bound = None
            if self.peek() == "<":
                self.next()
                bound = int(self.literal())
                self.expect(">")
            return FieldType(word, bound)
        if word == "unsigned":
            self.next()
            words = ["unsigned", self.ident()]
            if words[-1] == "long" and self.peek() == "long":
                words.append(self.ident())
            name = " ".join(words)
        elif word == "long" and self.peek(1) == "long":
            self.next()
            self.next()
            name = "long long"
        else:
            name = self.scoped_name()
        if name in _BASIC:
            return FieldType(_BASIC[name])
        if name in ("wchar", "long double", "any", "fixed"):
            raise self.fail(f"IDL type '{name}' is not supported by ROS 2 interfaces")
        return self.named_type(name, scope)

    def named_type(self, name: str, scope: list[str]) -> FieldType:
        parts = name.split("::")
        # Typedefs and structs: look in the current scope, then outwards.
        for depth in range(len(scope), -1, -1):
            full = "/".join([*scope[:depth], *parts])
            if full in self.typedefs:
                return self.typedefs[full]
            if full in self.structs:
                return FieldType(full)
        if len(parts) == 3:
            return FieldType("/".join(parts))
        if len(parts) == 1 and len(scope) == 2:
            return FieldType("/".join([*scope, name]))
        raise self.fail(f"unknown type '{name}' (write it as pkg::msg::Type)")

    def declarator(self, base: FieldType) -> tuple[str, FieldType]:
        name = self.ident()
        dims = []
        while self.peek() == "[":
            self.next()
            dims.append(int(self.literal()))
            self.expect("]")
        if not dims:
            return name, base
        if len(dims) > 1 or base.array:
            raise self.fail(f"'{name}': multi-dimensional arrays are not supported by ROS 2")
        return name, FieldType(base.name, base.string_bound, "fixed", dims[0])

    def typedef(self, scope: list[str]) -> None:
        self.expect("typedef")
        base = self.type_spec(scope)
        name, ftype = self.declarator(base)
        self.expect(";")
        self.typedefs["/".join([*scope, name])] = ftype

    def const(self, scope: list[str]) -> None:
        self.expect("const")
        ftype = self.type_spec(scope)
        name = self.ident()
        self.expect("=")
        value = self.literal()
        self.expect(";")
        if ftype.array or ftype.is_nested:
            raise self.fail(f"constant '{name}' must have a primitive or string type")
        try:
            value = _coerce(ftype.name, value)
        except ValueError as err:
            raise self.fail(f"constant '{name}': {err}") from None
        owner = "/".join(scope)
        if owner.endswith("_Constants"):
            owner = owner[: -len("_Constants")]
        self.constants.setdefault(owner, []).append(Constant(name, ftype.name, value))

    def struct(self, scope: list[str]) -> None:
        self.expect("struct")
        name = self.ident()
        full = "/".join([*scope, name])
        if self.peek() == ";":  # forward declaration
            self.next()
            return
        self.expect("{")
        fields: list[Field] = []
        while self.peek() != "}":
            annotations = self.annotations()
            base = self.type_spec(scope)
            while True:
                fname, ftype = self.declarator(base)
                default = None
                if "default" in annotations:
                    default = _default(ftype, annotations["default"].get("value"), self)
                fields.append(Field(fname, ftype, default, "key" in annotations))
                if self.peek() != ",":
                    break
                self.next()
            self.expect(";")
        self.expect("}")
        self.expect(";")
        if len(fields) == 1 and fields[0].name == _PLACEHOLDER:
            fields = []  # rosidl's stand-in for an empty struct; the codec writes it itself
        self.structs[full] = MessageDefinition(full, tuple(fields), (), self.source)


def _string(text: str) -> str:
    """A string or character literal (`"a\\n"`, `L"wide"`, `'c'`) as its value."""
    value = ast.literal_eval(text[1:] if text[0] == "L" else text)
    assert isinstance(value, str)
    return value


def _coerce(type_name: str, value: Any) -> Any:
    if type_name == "bool":
        return bool(value)
    if type_name in STRINGS:
        return str(value)
    prim = PRIMITIVES[type_name]
    if prim.low is None:
        return float(value)
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{value!r} is not an integer ({type_name})")
    number = int(value)
    assert prim.high is not None
    if not prim.low <= number <= prim.high:
        raise ValueError(f"{number} does not fit {type_name}")
    return number


def _default(ftype: FieldType, value: Any, parser: _Parser) -> Any:
    if ftype.is_nested:
        raise parser.fail("a nested struct member cannot have a @default")
    if ftype.array:
        if not isinstance(value, str):
            raise parser.fail(f'array default must be a string like "(1, 2)", not {value!r}')
        try:
            items = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise parser.fail(f"bad array default {value!r}") from None
        if not isinstance(items, (tuple, list)):
            items = (items,)
        if ftype.array == "fixed" and len(items) != ftype.length:
            raise parser.fail(
                f"@default of {a_or_an(f'{ftype.name}[{ftype.length}]')} needs exactly {ftype.length} "
                f"elements, got {len(items)}"
            )
        if ftype.array == "bounded" and ftype.length is not None and len(items) > ftype.length:
            raise parser.fail(
                f"@default has {len(items)} elements, more than the bound {ftype.length}"
            )
        try:
            return tuple(_coerce(ftype.name, v) for v in items)
        except ValueError as err:
            raise parser.fail(f"@default: {err}") from None
    if ftype.name == "bool" and isinstance(value, str):
        return value.upper() == "TRUE"
    try:
        return _coerce(ftype.name, value)
    except ValueError as err:
        raise parser.fail(f"@default: {err}") from None


def parse_idl(text: str, source: str = "<idl>") -> dict[str, MessageDefinition]:
    """Every struct of an IDL file by canonical name (`pkg/msg/Type`), with its constants.

    Raises:
        DefinitionError: naming `file:line`.
    """
    try:
        return _Parser(text, source).parse()
    except (ValueError, TypeError) as err:
        raise DefinitionError(f"{source}: {err}") from None
