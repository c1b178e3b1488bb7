"""`UnregisterEventHandler`: stop a handler registered with `RegisterEventHandler`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..action import Action
from ..plan import UnregisterHandler

if TYPE_CHECKING:
    from ..context import LaunchContext


class UnregisterEventHandler(Action):
    def __init__(self, event_handler: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.event_handler = event_handler

    def execute(self, context: LaunchContext) -> None:
        context.emit(UnregisterHandler(self.event_handler))
