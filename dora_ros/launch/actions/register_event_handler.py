"""`RegisterEventHandler`: react to process start/exit and shutdown (Python launch files)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..action import Action
from ..plan import RegisterHandler

if TYPE_CHECKING:
    from ..context import LaunchContext


class RegisterEventHandler(Action):
    def __init__(self, event_handler: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.event_handler = event_handler

    def execute(self, context: LaunchContext) -> None:
        from ..event_handlers import OnExecutionComplete

        target = getattr(self.event_handler, "target_action", None)
        if isinstance(self.event_handler, OnExecutionComplete) and target is not None:
            context.shared.completion_watch.add(id(target))
        context.emit(RegisterHandler(self.event_handler, context.snapshot()))
