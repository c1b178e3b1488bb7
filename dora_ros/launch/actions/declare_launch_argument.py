"""`<arg>` / `DeclareLaunchArgument`: a launch argument with default, description, choices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..action import Action, register
from ..entity import ENTITIES
from ..errors import LaunchArgumentError
from ..substitutions import normalize, perform

if TYPE_CHECKING:
    from ..context import LaunchContext
    from ..entity import Entity
    from ..frontend import FrontendParser


@register("arg")
class DeclareLaunchArgument(Action):
    def __init__(
        self,
        name: str,
        *,
        default_value: Any = None,
        description: str | None = None,
        choices: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.default_value = None if default_value is None else normalize(default_value)
        self.description = description or "no description given"
        self.choices = None if choices is None else [str(c) for c in choices]

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        kwargs = cls.parse_common(entity, parser)
        default = entity.get_attr("default", optional=True)
        if default is not None:
            kwargs["default_value"] = parser.parse_substitution(default)
        kwargs["description"] = entity.get_attr("description", optional=True)
        choices = entity.get_attr("choice", data_type=ENTITIES, optional=True)
        if choices is not None:
            kwargs["choices"] = [parser.finish(c, c.get_attr("value")) for c in choices]
        listed = entity.get_attr("choices", data_type=list, optional=True)
        if listed is not None:
            flat = [p for item in listed for p in str(item).split("|")]
            kwargs["choices"] = [str(c).strip() for c in flat]
        return cls(entity.get_attr("name"), **kwargs)

    def execute(self, context: LaunchContext) -> None:
        context.shared.declared_arguments.append(self)
        if self.name not in context.launch_configurations:
            if self.default_value is None:
                raise LaunchArgumentError(
                    f"launch argument '{self.name}' is required but was not given "
                    f"(pass {self.name}:=<value>; {self.description})"
                )
            context.launch_configurations[self.name] = perform(context, self.default_value)
        value = str(context.launch_configurations[self.name])
        if self.choices is not None and value not in self.choices:
            raise LaunchArgumentError(
                f"launch argument '{self.name}': '{value}' is not one of {self.choices}"
            )
