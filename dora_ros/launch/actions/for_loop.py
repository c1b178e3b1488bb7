"""`ForLoop` (`<for len= name=>`, `$(index name)`) and `ForEach` (`<for_each values=>`,
`$(for-var key)`): the same actions once per iteration, as in current ROS 2 releases.

Python functions get the index (ForLoop) or the keys of one YAML mapping as keyword arguments
(ForEach); front-end children are visited once per iteration with the loop's values available
to `$(index)` / `$(for-var)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import yaml

from ..action import Action, register
from ..errors import LaunchFileError
from ..substitutions import ForEachVar, ForLoopIndex, normalize, perform

if TYPE_CHECKING:
    from ..context import LaunchContext
    from ..entity import Entity
    from ..frontend import FrontendParser


class _SetLoopValue(Action):
    def __init__(self, key: str, value: Any) -> None:
        super().__init__()
        self.key = key
        self.value = value

    def execute(self, context: LaunchContext) -> None:
        context.launch_configurations[self.key] = self.value


def _entities(result: Any, what: str) -> list[Any]:
    if result is None:
        return []
    if isinstance(result, Iterable):
        return list(result)
    raise LaunchFileError(f"{what}: the function must return a list of actions or None")


@register("for")
class ForLoop(Action):
    def __init__(
        self,
        length: Any,
        *,
        function: Callable[[int], Any] | None = None,
        name: Any = None,
        entities: list[Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.length = length if isinstance(length, int) else normalize(length)
        self.function = function
        self.name = None if name is None else normalize(name)
        self.entities = entities or []

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        kwargs = cls.parse_common(entity, parser)
        length = parser.parse_substitution(entity.get_attr("len"))
        name = parser.parse_substitution(entity.get_attr("name"))
        children = [parser.parse_action(child) for child in entity.children]
        return cls(length, name=name, entities=children, **kwargs)

    def execute(self, context: LaunchContext) -> list[Any]:
        text = str(self.length) if isinstance(self.length, int) else perform(context, self.length)
        try:
            length = int(text)
        except ValueError:
            raise LaunchFileError(f"for: len must be an integer, got '{text}'") from None
        name = None if self.name is None else perform(context, self.name)
        out: list[Any] = []
        for index in range(length):
            if name is not None:
                out.append(_SetLoopValue(ForLoopIndex.local_name(name), str(index)))
            if self.function is not None:
                out.extend(_entities(self.function(index), "ForLoop"))
            out.extend(self.entities)
        return out


@register("for_each", "for-each")
class ForEach(Action):
    def __init__(
        self,
        input_values: Any,
        *,
        function: Callable[..., Any] | None = None,
        entities: list[Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.input_values = normalize(input_values)
        self.function = function
        self.entities = entities or []

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        kwargs = cls.parse_common(entity, parser)
        values = parser.parse_substitution(entity.get_attr("values"))
        children = [parser.parse_action(child) for child in entity.children]
        return cls(values, entities=children, **kwargs)

    def execute(self, context: LaunchContext) -> list[Any]:
        text = perform(context, self.input_values)
        out: list[Any] = []
        for part in text.split(";") if text.strip() else []:
            try:
                values = yaml.safe_load(part)
            except yaml.YAMLError as err:
                raise LaunchFileError(f"for_each: '{part}' is not YAML: {err}") from None
            values = values or {}
            if not isinstance(values, dict):
                raise LaunchFileError(f"for_each: '{part}' is not a YAML mapping")
            for key, value in values.items():
                shown = value if isinstance(value, str) else yaml.safe_dump(value).strip()
                shown = shown.removesuffix("\n...").strip()
                out.append(_SetLoopValue(ForEachVar.local_name(str(key)), shown))
            if self.function is not None:
                out.extend(_entities(self.function(**values), "ForEach"))
            out.extend(self.entities)
        return out
