"""`<log message= level=>` / `Log`, `LogInfo`: print a message when reached."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..action import Action, register
from ..errors import LaunchFileError
from ..plan import Log as LogStep
from ..substitutions import normalize, perform

if TYPE_CHECKING:
    from ..context import LaunchContext
    from ..entity import Entity
    from ..frontend import FrontendParser


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@register("log")
class Log(Action):
    """`<log message= level=>` / `Log(msg=, level=)`: print a message at a level."""

    def __init__(self, *, msg: Any, level: Any = "INFO", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.msg = normalize(msg)
        self.level = normalize(level)

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        kwargs = cls.parse_common(entity, parser)
        level = entity.get_attr("level", optional=True)
        if level is not None:
            kwargs["level"] = parser.parse_substitution(level)
        return cls(msg=parser.parse_substitution(entity.get_attr("message")), **kwargs)

    def execute(self, context: LaunchContext) -> None:
        level = perform(context, self.level).upper()
        level = {"WARN": "WARNING", "FATAL": "ERROR", "CRITICAL": "ERROR"}.get(level, level)
        if level not in _LEVELS:
            raise LaunchFileError(f"log level must be one of {', '.join(_LEVELS)}, got '{level}'")
        context.emit(LogStep(perform(context, self.msg), level))


class LogInfo(Log):
    def __init__(self, *, msg: Any, **kwargs: Any) -> None:
        super().__init__(msg=msg, level="INFO", **kwargs)


class LogWarning(Log):
    def __init__(self, *, msg: Any, **kwargs: Any) -> None:
        super().__init__(msg=msg, level="WARNING", **kwargs)


class LogError(Log):
    def __init__(self, *, msg: Any, **kwargs: Any) -> None:
        super().__init__(msg=msg, level="ERROR", **kwargs)


class LogDebug(Log):
    def __init__(self, *, msg: Any, **kwargs: Any) -> None:
        super().__init__(msg=msg, level="DEBUG", **kwargs)
