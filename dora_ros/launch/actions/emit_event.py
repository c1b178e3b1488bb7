"""`EmitEvent`: only `EmitEvent(event=Shutdown())` is supported (it ends the launch)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..action import Action
from ..errors import LaunchFileError
from ..events import Shutdown
from ..plan import RequestShutdown

if TYPE_CHECKING:
    from ..context import LaunchContext


class EmitEvent(Action):
    def __init__(self, *, event: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(event, Shutdown):
            raise LaunchFileError(
                f"EmitEvent: event {type(event).__name__} is not supported by dora-ros launch "
                "(only launch.events.Shutdown)",
                self.location,
            )
        self.event = event

    def execute(self, context: LaunchContext) -> None:
        context.emit(RequestShutdown(self.event.reason))
