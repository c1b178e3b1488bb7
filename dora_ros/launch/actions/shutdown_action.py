"""`<shutdown>` / `launch.actions.Shutdown`: end the launch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..action import Action, register
from ..plan import RequestShutdown

if TYPE_CHECKING:
    from ..context import LaunchContext
    from ..entity import Entity
    from ..frontend import FrontendParser


@register("shutdown")
class Shutdown(Action):
    def __init__(self, *, reason: str = "reason not given", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reason = reason

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        kwargs = cls.parse_common(entity, parser)
        reason = entity.get_attr("reason", optional=True)
        return cls(reason=reason or "reason not given", **kwargs)

    def execute(self, context: LaunchContext) -> None:
        context.emit(RequestShutdown(self.reason))
