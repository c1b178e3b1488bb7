"""`PushLaunchConfigurations` (`<push_vars>`), `PopLaunchConfigurations` (`<pop_vars>`),
`ResetLaunchConfigurations` (`<reset>` with `<keep name= value=>` children) and
`UnsetLaunchConfiguration` (`<unset name=>`), with ROS 2's front-end tag names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..action import Action, register
from ..entity import ENTITIES
from ..errors import LaunchFileError
from ..substitutions import normalize, perform

if TYPE_CHECKING:
    from ..context import LaunchContext
    from ..entity import Entity
    from ..frontend import FrontendParser


@register("push_vars")
class PushLaunchConfigurations(Action):
    def execute(self, context: LaunchContext) -> None:
        context.configuration_stack.append(dict(context.launch_configurations))


@register("pop_vars")
class PopLaunchConfigurations(Action):
    def execute(self, context: LaunchContext) -> None:
        if not context.configuration_stack:
            raise LaunchFileError(
                "PopLaunchConfigurations without a PushLaunchConfigurations before it"
            )
        context.launch_configurations = context.configuration_stack.pop()


@register("reset")
class ResetLaunchConfigurations(Action):
    """Forget every launch configuration but those given (performed before forgetting)."""

    def __init__(
        self, launch_configurations: Mapping[Any, Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.launch_configurations = {
            tuple(normalize(k)): normalize(v) for k, v in (launch_configurations or {}).items()
        }

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        kwargs = cls.parse_common(entity, parser)
        keep = entity.get_attr("keep", data_type=ENTITIES, optional=True) or []
        kwargs["launch_configurations"] = {
            tuple(parser.parse_substitution(k.get_attr("name"))): parser.finish(
                k, parser.parse_substitution(k.get_attr("value"))
            )
            for k in keep
        }
        return cls(**kwargs)

    def execute(self, context: LaunchContext) -> None:
        kept = {
            perform(context, list(k)): perform(context, v)
            for k, v in self.launch_configurations.items()
        }
        context.launch_configurations = kept


@register("unset")
class UnsetLaunchConfiguration(Action):
    def __init__(self, name: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = normalize(name)

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        kwargs = cls.parse_common(entity, parser)
        return cls(parser.parse_substitution(entity.get_attr("name")), **kwargs)

    def execute(self, context: LaunchContext) -> None:
        context.launch_configurations.pop(perform(context, self.name), None)
