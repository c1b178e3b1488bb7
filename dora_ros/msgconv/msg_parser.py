"""Parser of the ROS 2 `.msg`, `.srv` and `.action` formats into `definitions`.

Follows rosidl_adapter's grammar: one field (`type name [default]`) or constant (`TYPE NAME=value`)
per line, `#` comments, `---` between the parts of a service or action. Types are primitives,
`string<=N`, arrays `T[N]`, `T[<=N]`, `T[]`, and nested types as `pkg/Type`, same-package `Type`
or `Header` (std_msgs/msg/Header).
"""

from __future__ import annotations

import re
from typing import Any

from .definitions import (
    PRIMITIVES,
    STRINGS,
    ActionDefinition,
    Constant,
    Field,
    FieldType,
    MessageDefinition,
    ServiceDefinition,
    make_action,
)
from .errors import DefinitionError

__all__ = [
    "parse_action",
    "parse_field_type",
    "parse_message",
    "parse_primitive_value",
    "parse_service",
]

_TYPE = re.compile(
    r"^(?:(?P<pkg>[A-Za-z]\w*)/(?:msg/)?)?(?P<type>[A-Za-z]\w*)"
    r"(?:<=(?P<sbound>\d+))?(?P<arr>\[(?P<bounded><=)?(?P<n>\d*)\])?$"
)
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# rosidl_adapter's rule: upper case, digits and single '_' between them (not `A__B`, not `A_`)
_CONSTANT_NAME = re.compile(r"^[A-Z](?:_?[A-Z0-9]+)*$")
_MESSAGE_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")


def parse_field_type(text: str, package: str) -> FieldType:
    """`float64[<=3]`, `string<=8`, `Header`, `geometry_msgs/Point[]` as a `FieldType`.

    Raises:
        ValueError: the text is not a type.
    """
    m = _TYPE.match(text)
    if m is None:
        raise ValueError(f"'{text}' is not a type")
    base = m["type"]
    if (m["pkg"] is None and base in PRIMITIVES) or base in STRINGS:
        if m["pkg"] is not None:
            raise ValueError(f"'{text}': a primitive type has no package")
        name = base
    elif m["pkg"] is None and base == "Header":
        name = "std_msgs/msg/Header"
    else:
        if not _MESSAGE_NAME.match(base):
            raise ValueError(f"'{text}' is neither a primitive type nor a message (CamelCase) name")
        name = f"{m['pkg'] or package}/msg/{base}"
    sbound = None
    if m["sbound"] is not None:
        if name not in STRINGS:
            raise ValueError(f"'{text}': only strings take a bound '<=N'")
        sbound = int(m["sbound"])
        if sbound <= 0:
            raise ValueError(f"'{text}': a string bound must be greater than zero")
    if m["arr"] is None:
        return FieldType(name, sbound)
    if m["n"] == "":
        if m["bounded"]:
            raise ValueError(f"'{text}': a bounded array needs its bound '[<=N]'")
        return FieldType(name, sbound, "sequence")
    length = int(m["n"])
    if length <= 0:
        what = "an array bound" if m["bounded"] else "a fixed array size"
        raise ValueError(f"'{text}': {what} must be greater than zero")
    return FieldType(name, sbound, "bounded" if m["bounded"] else "fixed", length)


def parse_primitive_value(type_name: str, text: str, string_bound: int | None = None) -> Any:
    """A default or constant value of primitive `type_name` written as `text` (ValueError if bad)."""
    text = text.strip()
    if type_name == "bool":
        low = text.lower()
        if low in ("true", "1"):
            return True
        if low in ("false", "0"):
            return False
        raise ValueError(f"'{text}' is not a bool (true/false/1/0)")
    if type_name in STRINGS:
        for quote in ('"', "'"):
            if len(text) >= 2 and text.startswith(quote) and text.endswith(quote):
                text = text[1:-1].replace("\\" + quote, quote)
                break
        if string_bound is not None and len(text) > string_bound:
            raise ValueError(f"'{text}' is longer than the bound {string_bound}")
        return text
    prim = PRIMITIVES[type_name]
    if prim.low is None:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"'{text}' is not a number") from None
    try:
        value = int(text)
    except ValueError:
        try:
            value = int(text, 0)
        except ValueError:
            raise ValueError(f"'{text}' is not an integer") from None
    assert prim.high is not None
    if not prim.low <= value <= prim.high:
        raise ValueError(f"{value} does not fit {type_name}")
    return value


def _split_array_literal(text: str, is_string: bool) -> list[str]:
    if not (text.startswith("[") and text.endswith("]")):
        raise ValueError(f"an array value must be written '[a, b, ...]', not '{text}'")
    body = text[1:-1].strip()
    if not body:
        return []
    if not is_string:
        return [p.strip() for p in body.split(",")]
    items: list[str] = []
    i = 0
    while i < len(body):
        while i < len(body) and body[i] == " ":
            i += 1
        if i < len(body) and body[i] in "\"'":
            quote = body[i]
            j = i + 1
            while j < len(body) and not (body[j] == quote and body[j - 1] != "\\"):
                j += 1
            if j >= len(body):
                raise ValueError(f"unterminated string in '{text}'")
            items.append(body[i : j + 1])
            i = j + 1
        else:
            j = body.find(",", i)
            j = len(body) if j < 0 else j
            items.append(body[i:j].strip())
            i = j
        while i < len(body) and body[i] == " ":
            i += 1
        if i < len(body):
            if body[i] != ",":
                raise ValueError(f"expected ',' in '{text}'")
            i += 1
    return items


def parse_default(ftype: FieldType, text: str) -> Any:
    """The default value of a field of type `ftype` written as `text` (tuple for arrays)."""
    if ftype.is_nested:
        raise ValueError("a nested message field cannot have a default value")
    if ftype.array is None:
        return parse_primitive_value(ftype.name, text, ftype.string_bound)
    items = _split_array_literal(text.strip(), ftype.is_string)
    if ftype.array == "fixed" and len(items) != ftype.length:
        raise ValueError(f"needs exactly {ftype.length} elements, not {len(items)}")
    if ftype.array == "bounded" and ftype.length is not None and len(items) > ftype.length:
        raise ValueError(f"has more than {ftype.length} elements")
    return tuple(parse_primitive_value(ftype.name, i, ftype.string_bound) for i in items)


def _parse_lines(name: str, lines: list[tuple[int, str]], source: str | None) -> MessageDefinition:
    package = name.split("/", 1)[0]
    fields: list[Field] = []
    constants: list[Constant] = []
    seen: set[str] = set()
    constant_names: set[str] = set()
    for lineno, raw in lines:
        where = f"{source or name}:{lineno}"
        line = raw.split("#", 1)[0].replace("\t", " ").strip()
        if not line:
            continue
        type_text, _, rest = line.partition(" ")
        rest = rest.strip()
        if not rest:
            raise DefinitionError(f"{where}: '{line}' needs a type and a name")
        try:
            ftype = parse_field_type(type_text, package)
        except ValueError as err:
            raise DefinitionError(f"{where}: {err}") from None
        eq = rest.find("=")
        if eq >= 0 and not rest[:eq].strip().count(" "):
            cname, value_text = rest[:eq].strip(), rest[eq + 1 :].strip()
            if ftype.array or ftype.is_nested:
                raise DefinitionError(f"{where}: constant '{cname}' must have a primitive type")
            if not _CONSTANT_NAME.match(cname):
                raise DefinitionError(
                    f"{where}: '{cname}' is not a constant name (UPPER_CASE letters and digits, "
                    "single '_' between them)"
                )
            if cname in constant_names:
                raise DefinitionError(f"{where}: constant '{cname}' appears twice")
            constant_names.add(cname)
            try:
                value = parse_primitive_value(ftype.name, value_text, ftype.string_bound)
            except ValueError as err:
                raise DefinitionError(f"{where}: constant '{cname}': {err}") from None
            constants.append(Constant(cname, ftype.name, value))
            continue
        fname, _, default_text = rest.partition(" ")
        if not _FIELD_NAME.match(fname) or "__" in fname or fname.endswith("_"):
            raise DefinitionError(
                f"{where}: '{fname}' is not a field name (lower_case letters, digits, '_')"
            )
        if fname in seen:
            raise DefinitionError(f"{where}: field '{fname}' appears twice")
        seen.add(fname)
        default = None
        if default_text.strip():
            try:
                default = parse_default(ftype, default_text)
            except ValueError as err:
                raise DefinitionError(f"{where}: default of '{fname}': {err}") from None
        fields.append(Field(fname, ftype, default))
    return MessageDefinition(name, tuple(fields), tuple(constants), source)


def _parts(text: str, count: int, what: str, source: str | None) -> list[list[tuple[int, str]]]:
    parts: list[list[tuple[int, str]]] = [[]]
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.strip() == "---":
            parts.append([])
        else:
            parts[-1].append((lineno, line))
    if len(parts) != count:
        raise DefinitionError(
            f"{source or what}: a {what} has {count} parts separated by '---', found {len(parts)}"
        )
    return parts


def parse_message(text: str, name: str, source: str | None = None) -> MessageDefinition:
    """Parse .msg `text` as the message `name` (canonical `pkg/msg/Type`).

    Raises:
        DefinitionError: naming `file:line`.
    """
    return _parse_lines(name, list(enumerate(text.splitlines(), 1)), source)


def parse_service(text: str, name: str, source: str | None = None) -> ServiceDefinition:
    """Parse .srv `text` as the service `name` (`pkg/srv/Type`)."""
    req, resp = _parts(text, 2, "service", source)
    return ServiceDefinition(
        name,
        _parse_lines(name + "_Request", req, source),
        _parse_lines(name + "_Response", resp, source),
        source,
    )


def parse_action(text: str, name: str, source: str | None = None) -> ActionDefinition:
    """Parse .action `text` as the action `name` (`pkg/action/Type`), with its derived types."""
    goal, result, feedback = _parts(text, 3, "action", source)
    return make_action(
        name,
        _parse_lines(name + "_Goal", goal, source),
        _parse_lines(name + "_Result", result, source),
        _parse_lines(name + "_Feedback", feedback, source),
        source,
    )
