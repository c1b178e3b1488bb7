"""The XML front end (`*.launch.xml`): ROS 2's tags and attributes, with line numbers.

expat gives each element its line, so every error names `file.launch.xml:line`.
"""

from __future__ import annotations

import xml.parsers.expat
from typing import Any

from .entity import Entity
from .errors import LaunchFileError, Location
from .frontend import FrontendParser
from .launch_description import LaunchDescription

__all__ = ["XmlEntity", "load_xml_launch_file"]


class _Element:
    __slots__ = ("attrib", "children", "line", "tag")

    def __init__(self, tag: str, attrib: dict[str, str], line: int) -> None:
        self.tag = tag
        self.attrib = attrib
        self.line = line
        self.children: list[_Element] = []


def _parse(path: str) -> _Element:
    parser = xml.parsers.expat.ParserCreate()
    parser.ordered_attributes = False
    stack: list[_Element] = []
    root: list[_Element] = []

    def start(tag: str, attrib: dict[str, str]) -> None:
        element = _Element(tag, attrib, parser.CurrentLineNumber)
        (stack[-1].children if stack else root).append(element)
        stack.append(element)

    def end(tag: str) -> None:
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    with open(path, "rb") as f:
        try:
            parser.ParseFile(f)
        except xml.parsers.expat.ExpatError as err:
            raise LaunchFileError(
                f"not well-formed XML: {xml.parsers.expat.ErrorString(err.code)}",
                Location(path, err.lineno),
            ) from None
    return root[0]


class XmlEntity(Entity):
    def __init__(self, element: _Element, path: str) -> None:
        super().__init__(element.tag, Location(path, element.line))
        self._element = element
        self._path = path
        self._children_read = False
        self._read_tags: set[str] = set()

    @property
    def children(self) -> list[Entity]:
        self._children_read = True
        return [XmlEntity(child, self._path) for child in self._element.children]

    def _attr_names(self) -> list[str]:
        return list(self._element.attrib)

    def _raw_attr(self, name: str) -> Any:
        return self._element.attrib[name]

    def _entity_list(self, name: str, optional: bool) -> list[Entity] | None:
        wanted = name.replace("-", "_")
        found = [c for c in self._element.children if c.tag.replace("-", "_") == wanted]
        self._read_tags.update(c.tag for c in found)
        if not found:
            if optional:
                return None
            raise self.error(f"<{self.type_name}> needs a <{name}> child")
        return [XmlEntity(child, self._path) for child in found]

    def assert_entity_completely_parsed(self) -> None:
        super().assert_entity_completely_parsed()
        if self._children_read:
            return
        for child in self._element.children:
            if child.tag not in self._read_tags:
                raise LaunchFileError(
                    f"<{self.type_name}> cannot contain <{child.tag}>",
                    Location(self._path, child.line),
                )


def load_xml_launch_file(path: str) -> LaunchDescription:
    """Parse an XML launch file into a LaunchDescription (nothing is performed yet)."""
    return FrontendParser().parse_description(XmlEntity(_parse(path), path))
