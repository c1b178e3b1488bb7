"""`PushEnvironment` (`<push_env>`), `PopEnvironment` (`<pop_env>`), `ResetEnvironment`
(`<reset_env>`): the environment that later processes get, saved, restored, or put back to what
the launch started with."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..action import Action, register
from ..errors import LaunchFileError

if TYPE_CHECKING:
    from ..context import LaunchContext


@register("push_env")
class PushEnvironment(Action):
    def execute(self, context: LaunchContext) -> None:
        context.environment_stack.append(dict(context.environment))


@register("pop_env")
class PopEnvironment(Action):
    def execute(self, context: LaunchContext) -> None:
        if not context.environment_stack:
            raise LaunchFileError("PopEnvironment without a PushEnvironment before it")
        context.environment = context.environment_stack.pop()


@register("reset_env", "reset-env")
class ResetEnvironment(Action):
    def execute(self, context: LaunchContext) -> None:
        context.environment = dict(context.initial_environment)
