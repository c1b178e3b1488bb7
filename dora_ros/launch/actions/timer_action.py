"""`<timer period=>` / `TimerAction`: actions started a while after the timer is reached.

The actions are visited when the timer is reached (so their errors show before anything starts)
and run when it fires.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..action import Action, register, visit
from ..errors import LaunchFileError
from ..plan import StartTimer
from ..substitutions import perform

if TYPE_CHECKING:
    from ..context import LaunchContext
    from ..entity import Entity
    from ..frontend import FrontendParser


@register("timer")
class TimerAction(Action):
    def __init__(
        self,
        *,
        period: Any,
        actions: Iterable[Any],
        cancel_on_shutdown: Any = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.period = period
        self.actions = list(actions)
        # Accepted for ROS 2 compatibility; a pending timer never starts anything once the
        # launch shuts down, whichever the value (see docs/launch.md).
        self.cancel_on_shutdown = cancel_on_shutdown

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        kwargs = cls.parse_common(entity, parser)
        period = parser.parse_substitution(entity.get_attr("period"))
        entity.get_attr("cancel_on_shutdown", data_type=bool, optional=True)
        actions = [parser.parse_action(child) for child in entity.children]
        return cls(period=period, actions=actions, **kwargs)

    def execute(self, context: LaunchContext) -> None:
        text = (
            self.period if isinstance(self.period, (int, float)) else perform(context, self.period)
        )
        try:
            period = float(text)
        except ValueError:
            raise LaunchFileError(f"timer period must be a number, got '{text}'") from None
        later = context.snapshot()
        for action in self.actions:
            visit(action, later)
        context.emit(StartTimer(period, tuple(later.steps)))


@register("ros_timer", "ros-timer")
class ROSTimer(TimerAction):
    """launch_ros's timer on ROS time: run as a wall-clock timer (no /clock is followed)."""

    def __init__(self, *, period: Any, actions: Iterable[Any], **kwargs: Any) -> None:
        super().__init__(period=period, actions=actions, **kwargs)


RosTimer = ROSTimer
