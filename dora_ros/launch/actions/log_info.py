"""`<log message=>` / `LogInfo`: print a message when reached."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..action import Action, register
from ..plan import Log
from ..substitutions import normalize, perform

if TYPE_CHECKING:
    from ..context import LaunchContext
    from ..entity import Entity
    from ..frontend import FrontendParser


@register("log")
class LogInfo(Action):
    def __init__(self, *, msg: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.msg = normalize(msg)

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        kwargs = cls.parse_common(entity, parser)
        return cls(msg=parser.parse_substitution(entity.get_attr("message")), **kwargs)

    def execute(self, context: LaunchContext) -> None:
        context.emit(Log(perform(context, self.msg)))
