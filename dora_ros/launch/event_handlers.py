"""Event handlers (``launch.event_handlers``): run actions when a process starts or exits, or
when the launch shuts down. A handler's actions are visited when its event fires."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .events import ProcessExited, ProcessStarted, Shutdown

__all__ = ["EventHandler", "OnProcessExit", "OnProcessStart", "OnShutdown"]


class EventHandler:
    """Matches events of one kind (and, for processes, one target action)."""

    event_type: type = object

    def __init__(self, target_action: Any = None, handler: Any = None) -> None:
        self.target_action = target_action
        self.handler = handler

    def matches(self, event: Any) -> bool:
        if not isinstance(event, self.event_type):
            return False
        if self.target_action is None:
            return True
        action = getattr(event, "action", None)
        if callable(self.target_action) and not hasattr(self.target_action, "visit"):
            return bool(self.target_action(action))
        return action is self.target_action

    def handle(self, event: Any, context: Any) -> list[Any]:
        """The entities to visit for `event`."""
        handler = self.handler
        if handler is None:
            return []
        if callable(handler) and not hasattr(handler, "visit"):
            result = handler(event, context)
        else:
            result = handler
        if result is None:
            return []
        if isinstance(result, Iterable) and not hasattr(result, "visit"):
            return list(result)
        return [result]


class OnProcessStart(EventHandler):
    event_type = ProcessStarted

    def __init__(
        self, *, target_action: Any = None, on_start: Callable[..., Any] | Any = None
    ) -> None:
        super().__init__(target_action, on_start)


class OnProcessExit(EventHandler):
    event_type = ProcessExited

    def __init__(
        self, *, target_action: Any = None, on_exit: Callable[..., Any] | Any = None
    ) -> None:
        super().__init__(target_action, on_exit)


class OnShutdown(EventHandler):
    event_type = Shutdown

    def __init__(self, *, on_shutdown: Callable[..., Any] | Any = None) -> None:
        super().__init__(None, on_shutdown)
