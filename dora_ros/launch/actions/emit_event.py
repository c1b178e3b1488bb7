"""`EmitEvent`: `Shutdown()` ends the launch, `IncludeLaunchDescription(ld)` includes `ld` now,
a lifecycle `ChangeState` asks a lifecycle node for a transition; other events of ours go to the
registered handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..action import Action
from ..errors import LaunchFileError
from ..events import (
    ExecutionComplete,
    IncludeLaunchDescription,
    ProcessExited,
    ProcessIO,
    ProcessStarted,
    Shutdown,
)
from ..plan import FireEvent, RequestShutdown

_EVENTS = (
    Shutdown,
    IncludeLaunchDescription,
    ExecutionComplete,
    ProcessIO,
    ProcessStarted,
    ProcessExited,
)

if TYPE_CHECKING:
    from ..context import LaunchContext


class EmitEvent(Action):
    def __init__(self, *, event: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not hasattr(event, "visit_event") and not isinstance(event, _EVENTS):
            raise LaunchFileError(
                f"EmitEvent: event {type(event).__name__} is not supported by dora-ros launch",
                self.location,
            )
        self.event = event

    def execute(self, context: LaunchContext) -> list[Any] | None:
        if isinstance(self.event, Shutdown):
            context.emit(RequestShutdown(self.event.reason))
            return None
        if isinstance(self.event, IncludeLaunchDescription):
            context.emit(FireEvent(self.event))
            return [self.event.launch_description]
        if hasattr(self.event, "visit_event"):  # lifecycle ChangeState: resolved here
            return list(self.event.visit_event(context) or [])
        context.emit(FireEvent(self.event))
        return None
