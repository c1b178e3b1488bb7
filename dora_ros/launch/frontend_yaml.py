"""The YAML front end (`*.launch.yaml`): `launch:` with a list of one-key mappings per action.

A loader that remembers where each mapping starts gives errors their line numbers.
"""

from __future__ import annotations

from typing import Any

import yaml

from .entity import Entity
from .errors import LaunchFileError, Location
from .frontend import FrontendParser
from .launch_description import LaunchDescription

__all__ = ["YamlEntity", "load_yaml_launch_file"]


class _LineDict(dict[str, Any]):
    line = 0


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> _LineDict:
    value = _LineDict(loader.construct_mapping(node, deep=True))
    value.line = node.start_mark.line + 1
    return value


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _line(value: Any, fallback: int) -> int:
    return getattr(value, "line", 0) or fallback


class YamlEntity(Entity):
    typed_source = True

    def __init__(self, element: Any, type_name: str, path: str, line: int) -> None:
        super().__init__(type_name, Location(path, _line(element, line)))
        self._element = element if element is not None else _LineDict()
        self._path = path
        self._children_read = False

    def _entities(self, items: Any, what: str) -> list[Entity]:
        if not isinstance(items, list):
            raise self.error(f"'{what}' of '{self.type_name}' must be a list")
        out: list[Entity] = []
        for item in items:
            if not isinstance(item, dict) or len(item) != 1:
                raise LaunchFileError(
                    f"each entry of '{what}' must be a mapping with one key, the action's name",
                    Location(self._path, _line(item, self.location.line)),
                )
            ((name, body),) = item.items()
            out.append(YamlEntity(body, str(name), self._path, _line(item, self.location.line)))
        return out

    @property
    def children(self) -> list[Entity]:
        self._children_read = True
        if isinstance(self._element, list):
            return self._entities(self._element, self.type_name)
        if "children" not in self._element:
            return []
        self._read.add("children")
        return self._entities(self._element["children"], "children")

    def _attr_names(self) -> list[str]:
        return [str(k) for k in self._element] if isinstance(self._element, dict) else []

    def _raw_attr(self, name: str) -> Any:
        return self._element[name]

    def _entity_list(self, name: str, optional: bool) -> list[Entity] | None:
        present = self._find(name)
        if present is None:
            if optional:
                return None
            raise self.error(f"'{self.type_name}' needs '{name}'")
        self._read.add(present)
        items = self._element[present]
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise self.error(f"'{name}' of '{self.type_name}' must be a list of mappings")
        return [YamlEntity(i, name, self._path, self.location.line) for i in items]

    def assert_entity_completely_parsed(self) -> None:
        if isinstance(self._element, list):
            if not self._children_read:
                raise self.error(f"'{self.type_name}' cannot hold a list")
            return
        super().assert_entity_completely_parsed()


def load_yaml_launch_file(path: str) -> LaunchDescription:
    """Parse a YAML launch file into a LaunchDescription (nothing is performed yet)."""
    with open(path, encoding="utf-8") as f:
        try:
            data = yaml.load(f, Loader=_Loader)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 0
            raise LaunchFileError(
                f"not valid YAML: {err}".splitlines()[0], Location(path, line)
            ) from None
    if not isinstance(data, dict) or len(data) != 1:
        raise LaunchFileError("a YAML launch file must be one mapping `launch:`", Location(path, 1))
    ((name, body),) = data.items()
    root = YamlEntity(body if body is not None else [], str(name), path, _line(data, 1))
    return FrontendParser().parse_description(root)
