"""Arrow values as text for a terminal: YAML-like blocks, or one JSON object per line.

`dora-ros topic echo` prints what it receives with these. A message is usually a one-row struct
array (what msgconv decodes and what the bridge sends); its fields become `name: value` lines,
nested structs indented blocks, lists of structs `- ` items. Large numeric lists (an image's
`data`, a point cloud) are summarised as their length, element type and first values, since a
terminal full of 6 million numbers helps nobody; `raw=True` prints every value.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
from typing import Any

import pyarrow as pa

__all__ = ["SUMMARY_THRESHOLD", "to_json", "to_yaml"]

SUMMARY_THRESHOLD = 32  # lists longer than this are summarised unless raw
_FIRST = 8  # values shown in a summary
_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ .,:/+()=-]*")
_KEYWORDS = {"true", "false", "null", "yes", "no", "on", "off", "~"}


def _is_list(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_fixed_size_list(t)
        or pa.types.is_list_view(t)
    )


def _scalar_text(value: Any) -> str:
    """One plain value in YAML spelling: true/false, numbers as Python writes them, quoted text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return _bytes_text(bytes(value))
    if isinstance(value, (dt.datetime, dt.date, dt.time, dt.timedelta)):
        return str(value)
    text = str(value)
    if (
        _PLAIN.fullmatch(text)
        and ": " not in text  # would read as a mapping in YAML
        and not text.endswith((":", " "))
        and text.lower() not in _KEYWORDS
        and not _looks_numeric(text)
    ):
        return text
    return json.dumps(text, ensure_ascii=False)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _bytes_text(data: bytes) -> str:
    return json.dumps(data.decode("latin-1"))


def _summary(values: pa.Array) -> str:
    """`<1920 x uint8> [0, 1, 2, ...]`: a long list by its length, type and first values."""
    first = ", ".join(_scalar_text(v) for v in values.slice(0, _FIRST).to_pylist())
    return f"<{len(values)} x {values.type}> [{first}, ...]"


def _flat_items(values: pa.Array, raw: bool) -> str:
    """A list of plain values on one line, `[1, 2, 3]`, summarised when long."""
    if not raw and len(values) > SUMMARY_THRESHOLD:
        return _summary(values)
    return "[" + ", ".join(_scalar_text(v) for v in values.to_pylist()) + "]"


def _yaml_lines(name: str, scalar: pa.Scalar, indent: str, raw: bool, out: list[str]) -> None:
    t = scalar.type
    if not scalar.is_valid:
        out.append(f"{indent}{name}: null")
    elif pa.types.is_struct(t):
        if t.num_fields == 0:
            out.append(f"{indent}{name}: {{}}")
            return
        out.append(f"{indent}{name}:")
        for i in range(t.num_fields):
            _yaml_lines(t.field(i).name, scalar[i], indent + "  ", raw, out)
    elif _is_list(t):
        values = scalar.values
        if values is None or len(values) == 0:
            out.append(f"{indent}{name}: []")
        elif pa.types.is_struct(values.type) or _is_list(values.type):
            out.append(f"{indent}{name}:")
            shown = len(values) if raw else min(len(values), _FIRST)
            for i in range(shown):
                item: list[str] = []
                _yaml_lines("x", values[i], "", raw, item)
                _list_item(item, indent + "  ", out)
            if shown < len(values):
                out.append(f"{indent}  # ... {len(values) - shown} more of {len(values)}")
        else:
            out.append(f"{indent}{name}: {_flat_items(values, raw)}")
    elif pa.types.is_binary(t) or pa.types.is_large_binary(t):
        data = scalar.as_py()
        if not raw and len(data) > SUMMARY_THRESHOLD:
            out.append(f"{indent}{name}: <{len(data)} bytes> {data[:_FIRST].hex(' ')} ...")
        else:
            out.append(f"{indent}{name}: {_bytes_text(data)}")
    else:
        out.append(f"{indent}{name}: {_scalar_text(scalar.as_py())}")


def _list_item(lines: list[str], indent: str, out: list[str]) -> None:
    """Turn the lines of one rendered `x: ...` value into a YAML `- ` item."""
    head = lines[0]
    if head == "x:":  # a block: its children become the item's keys
        children = [line[2:] for line in lines[1:]]
        out.append(f"{indent}- {children[0]}")
        out.extend(f"{indent}  {line}" for line in children[1:])
    else:
        out.append(f"{indent}- {head[3:]}")
        out.extend(f"{indent}  {line}" for line in lines[1:])


def to_yaml(value: pa.Array | pa.ChunkedArray, *, raw: bool = False) -> str:
    """An Arrow value as YAML-like text: a struct row as `field: value` lines.

    A one-row struct array (a message) prints its fields at the top level; an array of several
    rows prints one `- ` item per row; a plain array prints as a list.
    """
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if pa.types.is_struct(value.type) and len(value) == 1:
        lines: list[str] = []
        _yaml_lines("x", value[0], "", raw, lines)
        if lines[0] != "x:":
            return lines[0][3:]
        return "\n".join(line[2:] for line in lines[1:])
    if pa.types.is_struct(value.type) or _is_list(value.type):
        out: list[str] = []
        shown = len(value) if raw else min(len(value), _FIRST)
        for i in range(shown):
            item: list[str] = []
            _yaml_lines("x", value[i], "", raw, item)
            _list_item(item, "", out)
        if shown < len(value):
            out.append(f"# ... {len(value) - shown} more of {len(value)}")
        return "\n".join(out) if out else "[]"
    if pa.types.is_binary(value.type) and len(value) == 1:
        lines = []
        _yaml_lines("x", value[0], "", raw, lines)
        return lines[0][3:]
    return _flat_items(value, raw)


def _json_plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_json_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_plain(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return value


def _json_summary(values: pa.Array) -> dict[str, Any]:
    return {
        "length": len(values),
        "type": str(values.type),
        "first": _json_plain(values.slice(0, _FIRST).to_pylist()),
    }


def _json_scalar(scalar: pa.Scalar, raw: bool) -> Any:
    # Walks Arrow scalars, not `as_py()`: an image's 6 million values must not become Python ints
    # only to be summarised.
    t = scalar.type
    if not scalar.is_valid:
        return None
    if pa.types.is_struct(t):
        return {t.field(i).name: _json_scalar(scalar[i], raw) for i in range(t.num_fields)}
    if _is_list(t):
        return _json_items(scalar.values, raw)
    if (pa.types.is_binary(t) or pa.types.is_large_binary(t)) and not raw:
        data = scalar.as_py()
        if len(data) > SUMMARY_THRESHOLD:
            return {"length": len(data), "type": "binary", "first": list(data[:_FIRST])}
    return _json_plain(scalar.as_py())


def _json_items(values: pa.Array, raw: bool) -> Any:
    if not raw and len(values) > SUMMARY_THRESHOLD:
        return _json_summary(values)
    if pa.types.is_struct(values.type) or _is_list(values.type):
        return [_json_scalar(values[i], raw) for i in range(len(values))]
    return _json_plain(values.to_pylist())


def to_json(value: pa.Array | pa.ChunkedArray, *, raw: bool = False) -> Any:
    """An Arrow value as JSON-ready Python data: a one-row struct as a dict, else a list.

    Long lists become `{"length": N, "type": T, "first": [...]}` unless `raw`; bytes become
    base64; NaN and infinities become strings (JSON has none).
    """
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if pa.types.is_struct(value.type) and len(value) == 1:
        return _json_scalar(value[0], raw)
    return _json_items(value, raw)
