"""`LaunchDescription`: an ordered list of actions, what every front end produces."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .action import Action, LaunchDescriptionEntity, caller_location

if TYPE_CHECKING:
    from .context import LaunchContext

__all__ = ["LaunchDescription"]


class LaunchDescription(LaunchDescriptionEntity):
    """The actions of one launch file, in order."""

    def __init__(self, initial_entities: Iterable[Any] | None = None, **_: Any) -> None:
        self.entities: list[Any] = list(initial_entities or [])
        self.location = caller_location()
        self.file: str | None = None  # set by the loader: the file the entities come from

    def add_action(self, action: Any) -> None:
        self.entities.append(action)

    add_entity = add_action

    def visit(self, context: LaunchContext) -> Iterable[Any] | None:
        if self.file is None:
            return self.entities
        # Entering another file: $(dirname)/$(filename) follow it, then come back.
        return [_SetCurrentFile(self.file), *self.entities, _SetCurrentFile(context.current_file)]

    def get_launch_arguments(self) -> list[Any]:
        """The DeclareLaunchArgument actions of this file (in groups too), for --show-args."""
        from .actions.declare_launch_argument import DeclareLaunchArgument
        from .actions.group_action import GroupAction

        found: list[Any] = []

        def walk(entities: Iterable[Any]) -> None:
            for entity in entities:
                if isinstance(entity, DeclareLaunchArgument):
                    found.append(entity)
                elif isinstance(entity, GroupAction):
                    walk(entity.actions)
                elif isinstance(entity, LaunchDescription):
                    walk(entity.entities)

        walk(self.entities)
        return found


class _SetCurrentFile(Action):
    def __init__(self, path: str | None) -> None:
        super().__init__()
        self.path = path

    def execute(self, context: LaunchContext) -> None:
        context.current_file = self.path
