"""The base of every action, the tag registry front ends parse with, and the visitor.

Each action lives in its own module under :mod:`.actions` and registers its XML/YAML tag names with
:func:`register`; its ``parse(entity, parser)`` classmethod reads the entity once for both front
ends. Actions made from Python record the launch-file line that created them, so errors name it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from .conditions import Condition, IfCondition, UnlessCondition
from .errors import LaunchFileError, Location

if TYPE_CHECKING:
    from .context import LaunchContext
    from .entity import Entity
    from .frontend import FrontendParser

__all__ = ["REGISTRY", "Action", "caller_location", "register", "visit"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_DORA_ROS_DIR = os.path.dirname(_PACKAGE_DIR)
# Modules between the CLI and a launch file: a frame of theirs is never the line to blame.
_RUNNER_MODULES = ("click", "runpy", "asyncio", "importlib", "threading", "concurrent")

REGISTRY: dict[str, type[Action]] = {}
A = TypeVar("A", bound="type[Action]")


def register(*tags: str) -> Callable[[A], A]:
    """Class decorator: the action parses XML/YAML tags `tags`."""

    def decorate(cls: A) -> A:
        for tag in tags:
            REGISTRY[tag] = cls
        return cls

    return decorate


def caller_location() -> Location | None:
    """The launch-file line making an action: the first frame outside dora_ros and the CLI.

    None for actions dora-ros makes itself while visiting (an include's arguments, a group's
    launch configurations); the visitor then names the action that made them.
    """
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        path = os.path.abspath(name)
        module = str(frame.f_globals.get("__name__", ""))
        if (
            not path.startswith(_DORA_ROS_DIR + os.sep)
            and not name.startswith("<")
            and module.partition(".")[0] not in _RUNNER_MODULES
        ):
            return Location(frame.f_code.co_filename, frame.f_lineno)
        frame = frame.f_back  # type: ignore[assignment]
    return None


class LaunchDescriptionEntity:
    """Anything a launch description can hold."""

    location: Location | None = None

    def visit(self, context: LaunchContext) -> Iterable[Any] | None:
        raise NotImplementedError


class Action(LaunchDescriptionEntity):
    """Something a launch does: start a process, set a variable, include a file."""

    def __init__(self, *, condition: Condition | None = None, **unexpected: Any) -> None:
        self.condition = condition
        self.location = caller_location()
        if unexpected:
            name = next(iter(unexpected))
            raise LaunchFileError(
                f"{type(self).__name__}: unsupported argument '{name}' in dora-ros launch",
                self.location,
            )

    @classmethod
    def parse_common(cls, entity: Entity, parser: FrontendParser) -> dict[str, Any]:
        """The `if`/`unless` attributes every action accepts."""
        kwargs: dict[str, Any] = {}
        if_ = entity.get_attr("if", optional=True)
        unless = entity.get_attr("unless", optional=True)
        if if_ is not None and unless is not None:
            raise entity.error(f"<{entity.type_name}> cannot have both 'if' and 'unless'")
        if if_ is not None:
            kwargs["condition"] = IfCondition(parser.parse_substitution(if_))
        if unless is not None:
            kwargs["condition"] = UnlessCondition(parser.parse_substitution(unless))
        return kwargs

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        return cls(**cls.parse_common(entity, parser))

    def execute(self, context: LaunchContext) -> Iterable[Any] | None:
        """Do the action; return sub-entities to visit next."""
        return None

    def visit(self, context: LaunchContext) -> Iterable[Any] | None:
        if self.condition is not None and not self.condition.evaluate(context):
            return None
        return self.execute(context)

    def describe(self) -> str:
        return type(self).__name__


def visit(entity: Any, context: LaunchContext) -> None:
    """Visit `entity` and, depth first, what it returns; errors get the entity's location."""
    from .errors import _LocatedError

    if not isinstance(entity, LaunchDescriptionEntity):
        raise LaunchFileError(
            f"a launch description can only hold actions, got {type(entity).__name__}"
        )
    try:
        children = entity.visit(context)
        for child in children or ():
            # A child without a location of its own (made by dora-ros, not by a launch file)
            # reports the location of the entity that returned it.
            if getattr(child, "location", None) is None and entity.location is not None:
                try:
                    child.location = entity.location
                except AttributeError:
                    pass  # not ours: visit() below says what it is
            visit(child, context)
        if id(entity) in context.shared.completion_watch and not hasattr(entity, "resolve_command"):
            from .events import ExecutionComplete
            from .plan import FireEvent

            context.emit(FireEvent(ExecutionComplete(entity)))
    except _LocatedError as err:
        raise err.at(entity.location) from None
