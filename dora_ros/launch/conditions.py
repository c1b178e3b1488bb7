"""Conditions (`if=`/`unless=`, `IfCondition`, `UnlessCondition`): ROS 2's true/1/false/0 rule."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .entity import to_bool
from .errors import LaunchFileError
from .substitutions import normalize, perform

if TYPE_CHECKING:
    from .context import LaunchContext

__all__ = [
    "Condition",
    "IfCondition",
    "LaunchConfigurationEquals",
    "LaunchConfigurationNotEquals",
    "UnlessCondition",
    "evaluate_condition_expression",
]


def evaluate_condition_expression(context: LaunchContext, expression: Any) -> bool:
    """Perform `expression` and read it as a boolean; anything but true/1/false/0 is an error."""
    text = perform(context, expression)
    value = to_bool(text)
    if value is None:
        raise LaunchFileError(
            f"condition '{text.strip()}' is not valid: expected true, 1, false or 0 (any case)"
        )
    return value


class Condition:
    """Decides whether an action runs."""

    def evaluate(self, context: LaunchContext) -> bool:
        raise NotImplementedError


class IfCondition(Condition):
    def __init__(self, predicate_expression: Any) -> None:
        self.predicate_expression = normalize(predicate_expression)

    def evaluate(self, context: LaunchContext) -> bool:
        return evaluate_condition_expression(context, self.predicate_expression)


class UnlessCondition(IfCondition):
    def evaluate(self, context: LaunchContext) -> bool:
        return not evaluate_condition_expression(context, self.predicate_expression)


class LaunchConfigurationEquals(Condition):
    def __init__(self, launch_configuration_name: str, expected_value: Any) -> None:
        self.name = launch_configuration_name
        self.expected = None if expected_value is None else normalize(expected_value)

    def evaluate(self, context: LaunchContext) -> bool:
        context.shared.read_configurations.add(self.name)
        current = context.launch_configurations.get(self.name)
        expected = None if self.expected is None else perform(context, self.expected)
        return current == expected


class LaunchConfigurationNotEquals(LaunchConfigurationEquals):
    def evaluate(self, context: LaunchContext) -> bool:
        return not super().evaluate(context)
