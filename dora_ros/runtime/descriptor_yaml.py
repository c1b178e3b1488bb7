"""A YAML loader for dataflow files that remembers where each key was written.

Mappings load as :class:`LineMap` (a ``dict`` that knows the 1-based line of each key) and sequences
as :class:`LineSeq` (a ``list`` that knows the line of each item), so the descriptor can say
``graph.yml:14: ...`` about any mistake. Scalars resolve like YAML 1.2 (serde_yaml, which dora-rs
uses): ``yes``/``on``/``no`` stay strings, ``010`` is ten, ``1:20`` is a string. Duplicate keys
are an error, as they are for dora-rs. Uses libyaml's parser when available: loading stays fast.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = ["LineMap", "LineSeq", "YamlDuplicateKey", "load_yaml", "plain"]

_Parser: Any
try:
    from yaml.cyaml import CParser  # libyaml: ~10x faster than the Python parser

    _Parser = CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _PyParser(Reader, Scanner, Parser, Composer):
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)

    _Parser = _PyParser


class LineMap(dict):
    """A mapping from YAML that remembers its own line and the line of each key."""

    line: int
    key_lines: dict[Any, int]
    # A node expanded from a `module:` file: where it is written there ("m.yml:5"), for errors.
    origin: str | None = None

    def line_of(self, key: Any) -> int:
        """The 1-based line where ``key`` was written (the mapping's line if unknown)."""
        return self.key_lines.get(key, self.line)


class LineSeq(list):
    """A sequence from YAML that remembers its own line and the line of each item."""

    line: int
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        """The 1-based line of item ``index``."""
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class YamlDuplicateKey(yaml.MarkedYAMLError):
    """A mapping repeats a key (PyYAML would silently keep the last one)."""


class _Resolver(yaml.resolver.BaseResolver):
    """YAML 1.2 core-schema scalars, as serde_yaml reads them."""


_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_Resolver.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])


class _Loader(_Parser, yaml.constructor.SafeConstructor, _Resolver):
    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        yaml.constructor.SafeConstructor.__init__(self)
        _Resolver.__init__(self)


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text[:2] in ("0o", "0x"):
        return int(text, 0)
    return int(text, 10)


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> LineMap:
    explicit = {id(key) for key, _ in node.value}
    loader.flatten_mapping(node)  # `<<` merge keys come first, explicit keys override them
    data = LineMap()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    seen: set[Any] = set()  # keys written in this mapping itself (not merged in)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            )
        if id(key_node) in explicit:
            if key in seen:
                raise YamlDuplicateKey(None, None, f"duplicate key '{key}'", key_node.start_mark)
            seen.add(key)
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = key_node.start_mark.line + 1
    return data


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> LineSeq:
    data = LineSeq(loader.construct_object(item, deep=True) for item in node.value)
    data.line = node.start_mark.line + 1
    data.item_lines = [item.start_mark.line + 1 for item in node.value]
    return data


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def yaml_error(err: yaml.YAMLError) -> tuple[int, str]:
    """The line and the one-line problem of a YAML error (PyYAML's text has several lines)."""
    if not isinstance(err, yaml.MarkedYAMLError):
        return 1, " ".join(str(err).split())
    mark = err.problem_mark or err.context_mark
    context = err.context or ""
    if err.context_mark is not None and ("flow" in context or "quoted" in context):
        mark = err.context_mark  # where the unclosed bracket or quote was opened
    problem = err.problem or context or "invalid YAML"
    if context and err.problem:
        problem = f"{problem} ({context})"
    return (mark.line + 1 if mark is not None else 1), problem


def load_yaml(text: str) -> Any:
    """Parse one YAML document; raises ``yaml.YAMLError`` (with a mark) when it is malformed."""
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def plain(value: Any) -> Any:
    """A copy of ``value`` made of plain ``dict`` and ``list`` (no line bookkeeping)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
