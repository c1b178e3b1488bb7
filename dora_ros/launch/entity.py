"""The one interface XML and YAML launch files share, so each action parses itself once.

An :class:`Entity` is a tag (``<node .../>`` or ``- node: {...}``) with attributes and children.
Actions read what they understand through :meth:`Entity.get_attr`; the parser then calls
:meth:`Entity.assert_entity_completely_parsed`, so an attribute nobody read is an error naming it.
Attribute names match with ``-`` and ``_`` interchangeably (ROS 2 spells both).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from .errors import LaunchFileError, Location

__all__ = ["ENTITIES", "RAW", "Entity", "coerce_scalar", "did_you_mean", "to_bool"]

# `get_attr(name, data_type=ENTITIES)`: the attribute is a list of sub-entities (`param`, `remap`).
ENTITIES = "entities"
# `get_attr(name, data_type=RAW)`: the value as the file gives it (XML text, YAML typed).
RAW = "raw"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` when one of `choices` is close to `word`, else ''."""
    import difflib

    close = difflib.get_close_matches(word, list(dict.fromkeys(choices)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def to_bool(text: str) -> bool | None:
    """ROS 2's rule for booleans in launch files: true/1 and false/0, any case; else None."""
    value = text.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    return None


def coerce_scalar(text: str) -> Any:
    """Type a parameter value written as text: bool, int, float, a YAML list, else the string."""
    import yaml

    if not text:
        return text
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list) and all(isinstance(v, (bool, int, float, str)) for v in value):
        return value
    return text


class Entity(ABC):
    """A tag of an XML or YAML launch file."""

    # True when attribute values come typed from the file (YAML), False when they are text (XML).
    typed_source = False

    def __init__(self, type_name: str, location: Location) -> None:
        self.type_name = type_name
        self.location = location
        self._read: set[str] = set()
        self._asked: list[str] = []  # every name an action looked for, to suggest a fix

    @property
    @abstractmethod
    def children(self) -> list[Entity]:
        """The nested entities (a group's actions, an include's `arg`s)."""

    @abstractmethod
    def _attr_names(self) -> list[str]: ...

    @abstractmethod
    def _raw_attr(self, name: str) -> Any: ...

    @abstractmethod
    def _entity_list(self, name: str, optional: bool) -> list[Entity] | None:
        """Sub-entities called `name` (XML: child tags, YAML: a list of mappings)."""

    def _find(self, name: str) -> str | None:
        wanted = name.replace("-", "_")
        for present in self._attr_names():
            if present.replace("-", "_") == wanted:
                return present
        return None

    def has_attr(self, name: str) -> bool:
        return self._find(name) is not None

    def get_attr(self, name: str, *, data_type: Any = str, optional: bool = False) -> Any:
        """Read attribute `name` as `data_type` (str, bool, int, float, None = typed, ENTITIES)."""
        self._asked.append(name)
        if data_type == ENTITIES:
            return self._entity_list(name, optional)
        present = self._find(name)
        if present is None:
            if optional:
                return None
            raise self.error(f"<{self.type_name}> needs attribute '{name}'")
        self._read.add(present)
        raw = self._raw_attr(present)
        if data_type == RAW:
            return raw
        if isinstance(raw, dict) or (isinstance(raw, list) and data_type not in (list, None)):
            raise self.error(f"<{self.type_name}> attribute '{name}' must be a scalar")
        if data_type is None:
            return coerce_scalar(raw) if isinstance(raw, str) else raw
        if data_type is str:
            if isinstance(raw, bool):
                return "true" if raw else "false"
            return raw if isinstance(raw, str) else str(raw)
        if data_type is bool:
            if isinstance(raw, bool):
                return raw
            value = to_bool(str(raw))
            if value is None:
                raise self.error(
                    f"<{self.type_name}> attribute '{name}' must be true or false, got '{raw}'"
                )
            return value
        if data_type in (int, float):
            try:
                return data_type(raw)
            except (TypeError, ValueError):
                raise self.error(
                    f"<{self.type_name}> attribute '{name}' must be {data_type.__name__}, got '{raw}'"
                ) from None
        if data_type is list:
            return raw if isinstance(raw, list) else [raw]
        raise TypeError(f"unsupported data_type {data_type!r}")  # a bug in an action's parse()

    def error(self, message: str) -> LaunchFileError:
        """A LaunchFileError located at this entity."""
        return LaunchFileError(message, self.location)

    def assert_entity_completely_parsed(self) -> None:
        """Raise naming the first attribute no action read."""
        unread = [n for n in self._attr_names() if n not in self._read]
        if unread:
            raise self.error(
                f"<{self.type_name}> has unknown attribute '{unread[0]}'"
                + did_you_mean(unread[0], self._asked)
            )
