"""Event handlers (``launch.event_handlers``): run actions when a process starts or exits, or
when the launch shuts down. A handler's actions are visited when its event fires."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .events import (
    ExecutionComplete,
    IncludeLaunchDescription,
    ProcessExited,
    ProcessIO,
    ProcessStarted,
    Shutdown,
)

__all__ = [
    "EventHandler",
    "OnExecutionComplete",
    "OnIncludeLaunchDescription",
    "OnProcessExit",
    "OnProcessIO",
    "OnProcessStart",
    "OnShutdown",
    "OnStateTransition",
]


class EventHandler:
    """Matches events of one kind (and, for processes, one target action)."""

    event_type: type = object

    def __init__(self, target_action: Any = None, handler: Any = None) -> None:
        self.target_action = target_action
        self.handler = handler

    def handler_for(self, event: Any) -> Any:
        """The actions or callable answering `event` (one per event kind, most handlers)."""
        return self.handler

    def call(self, function: Any, event: Any, context: Any) -> Any:
        """Call a handler function with ROS 2's arguments for this kind: (event, context)."""
        return function(event, context)

    def matches(self, event: Any) -> bool:
        if not isinstance(event, self.event_type):
            return False
        return self.matches_target(event)

    def matches_target(self, event: Any) -> bool:
        if self.target_action is None:
            return True
        action = getattr(event, "action", None)
        if callable(self.target_action) and not hasattr(self.target_action, "visit"):
            return bool(self.target_action(action))
        return action is self.target_action

    def handle(self, event: Any, context: Any) -> list[Any]:
        """The entities to visit for `event`."""
        handler = self.handler_for(event)
        if handler is None:
            return []
        if callable(handler) and not hasattr(handler, "visit"):
            result = self.call(handler, event, context)
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


class OnProcessIO(EventHandler):
    """Lines a process writes: `on_stdout` / `on_stderr` get a ProcessIO event."""

    event_type = ProcessIO

    def __init__(
        self,
        *,
        target_action: Any = None,
        on_stdin: Any = None,
        on_stdout: Any = None,
        on_stderr: Any = None,
    ) -> None:
        super().__init__(target_action, None)
        self.on_stdout = on_stdout
        self.on_stderr = on_stderr  # on_stdin: accepted, dora-ros writes nothing to stdin

    def matches(self, event: Any) -> bool:
        return super().matches(event) and self.handler_for(event) is not None

    def handler_for(self, event: Any) -> Any:
        return self.on_stdout if event.fd == 1 else self.on_stderr

    def call(self, function: Any, event: Any, context: Any) -> Any:
        return function(event)  # ROS 2 gives OnProcessIO callbacks the event alone


class OnExecutionComplete(EventHandler):
    """An action finished (a process: when it exits)."""

    event_type = ExecutionComplete

    def __init__(self, *, target_action: Any = None, on_completion: Any = None) -> None:
        super().__init__(target_action, on_completion)


class OnIncludeLaunchDescription(EventHandler):
    """`EmitEvent(event=IncludeLaunchDescription(...))`; the description is always included,
    as ROS 2's launch service does, and `on_include`'s actions follow it."""

    event_type = IncludeLaunchDescription

    def __init__(self, *, on_include: Any = None, **_: Any) -> None:
        super().__init__(None, on_include)


class OnStateTransition(EventHandler):
    """A lifecycle node changed state (launch_ros.event_handlers.OnStateTransition); each of
    `transition`, `start_state`, `goal_state` given must match the transition's label."""

    def __init__(
        self,
        *,
        entities: Any = None,
        target_lifecycle_node: Any = None,
        transition: str | None = None,
        start_state: str | None = None,
        goal_state: str | None = None,
        matcher: Any = None,
        **_: Any,
    ) -> None:
        super().__init__(target_lifecycle_node or matcher, entities)
        self.transition = transition
        self.start_state = start_state
        self.goal_state = goal_state

    def matches(self, event: Any) -> bool:
        from .lifecycle import StateTransition

        if not isinstance(event, StateTransition) or not super().matches_target(event):
            return False
        return all(
            want is None or want == have
            for want, have in (
                (self.transition, event.transition),
                (self.start_state, event.start_state),
                (self.goal_state, event.goal_state),
            )
        )
