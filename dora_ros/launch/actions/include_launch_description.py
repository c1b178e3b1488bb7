"""`<include>` / `IncludeLaunchDescription`: another launch file (any front end), with arguments.

As in ROS 2, the arguments become launch configurations of the including scope (wrap the
include in a `<group>` to keep them local).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..action import Action, register
from ..entity import ENTITIES
from ..launch_description_sources import AnyLaunchDescriptionSource, LaunchDescriptionSource
from .set_launch_configuration import SetLaunchConfiguration

if TYPE_CHECKING:
    from ..context import LaunchContext
    from ..entity import Entity
    from ..frontend import FrontendParser


@register("include")
class IncludeLaunchDescription(Action):
    def __init__(
        self,
        launch_description_source: Any,
        *,
        launch_arguments: Iterable[tuple[Any, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(launch_description_source, LaunchDescriptionSource):
            launch_description_source = AnyLaunchDescriptionSource(launch_description_source)
        self.source = launch_description_source
        self.launch_arguments = list(launch_arguments or [])

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        kwargs = cls.parse_common(entity, parser)
        source = AnyLaunchDescriptionSource(parser.parse_substitution(entity.get_attr("file")))
        args = entity.get_attr("arg", data_type=ENTITIES, optional=True) or []
        kwargs["launch_arguments"] = [
            (
                parser.parse_substitution(a.get_attr("name")),
                parser.finish(a, parser.parse_substitution(a.get_attr("value"))),
            )
            for a in args
        ]
        return cls(source, **kwargs)

    def execute(self, context: LaunchContext) -> Iterable[Any]:
        description = self.source.get_launch_description(context)
        sets = [SetLaunchConfiguration(k, v) for k, v in self.launch_arguments]
        return [*sets, description]
