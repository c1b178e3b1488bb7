"""Substitutions that compute: `$(eval)`, `$(not)`, `$(and)`, `$(or)`, `$(equals)`, `$(if)`,
`$(any)`, `$(all)`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..entity import to_bool
from ..errors import SubstitutionError
from ._base import Substitution, _as_bool, _plain, normalize, perform

if TYPE_CHECKING:
    from ..context import LaunchContext


class PythonExpression(Substitution):
    """`$(eval 'expr' [modules])`: a Python expression (math is in scope, as in ROS 2)."""

    def __init__(self, expression: Any, python_modules: Sequence[Any] = ("math",)) -> None:
        self.expression = normalize(expression)
        self.python_modules = [normalize(m) for m in python_modules]

    def perform(self, context: LaunchContext) -> str:
        import importlib

        scope: dict[str, Any] = {}
        for module_subs in self.python_modules:
            name = perform(context, module_subs)
            module = importlib.import_module(name)
            if name == "math":
                scope.update(vars(math))
            scope[name] = module
        expression = perform(context, self.expression)
        try:
            return str(eval(expression, {}, scope))
        except Exception as err:
            raise SubstitutionError(
                f"eval: '{expression}' failed: {type(err).__name__}: {err}"
            ) from err


class NotSubstitution(Substitution):
    def __init__(self, value: Any) -> None:
        self.value = normalize(value)

    def perform(self, context: LaunchContext) -> str:
        return _plain(not _as_bool(perform(context, self.value), "not"))


class _BinaryBool(Substitution):
    _name = ""

    def __init__(self, left: Any, right: Any) -> None:
        self.left = normalize(left)
        self.right = normalize(right)

    def _values(self, context: LaunchContext) -> tuple[bool, bool]:
        return (
            _as_bool(perform(context, self.left), self._name),
            _as_bool(perform(context, self.right), self._name),
        )


class AndSubstitution(_BinaryBool):
    _name = "and"

    def perform(self, context: LaunchContext) -> str:
        left, right = self._values(context)
        return _plain(left and right)


class OrSubstitution(_BinaryBool):
    _name = "or"

    def perform(self, context: LaunchContext) -> str:
        left, right = self._values(context)
        return _plain(left or right)


class EqualsSubstitution(Substitution):
    """`$(equals a b)`: 'true' when both sides are equal (as booleans, numbers or text)."""

    def __init__(self, left: Any, right: Any) -> None:
        self.left = normalize(left)
        self.right = normalize(right)

    def _equal(self, context: LaunchContext) -> bool:
        # ROS 2's rules: two booleans (true/false/1/0, any case) compare as booleans, so
        # `equals 1 true` is true; two numbers compare with math.isclose; anything else as text.
        left = perform(context, self.left)
        right = perform(context, self.right)
        left_bool, right_bool = to_bool(left), to_bool(right)
        if left_bool is not None and right_bool is not None:
            return left_bool == right_bool
        try:
            return math.isclose(float(left), float(right))
        except ValueError:
            return left == right

    def perform(self, context: LaunchContext) -> str:
        return _plain(self._equal(context))


class NotEqualsSubstitution(EqualsSubstitution):
    def perform(self, context: LaunchContext) -> str:
        return _plain(not self._equal(context))


class IfElseSubstitution(Substitution):
    """`$(if cond then [else])`: `if_value` when the condition is true, else `else_value`."""

    def __init__(self, condition: Any, if_value: Any = "", else_value: Any = "") -> None:
        self.condition = normalize(condition)
        self.if_value = normalize(if_value)
        self.else_value = normalize(else_value)

    def perform(self, context: LaunchContext) -> str:
        chosen = _as_bool(perform(context, self.condition), "if")
        return perform(context, self.if_value if chosen else self.else_value)


class AnySubstitution(Substitution):
    """`$(any a b ...)`: 'true' when one of the booleans is true."""

    _name = "any"

    def __init__(self, *args: Any) -> None:
        self.args = [normalize(a) for a in args]

    def _values(self, context: LaunchContext) -> list[bool]:
        return [_as_bool(perform(context, a), self._name) for a in self.args]

    def perform(self, context: LaunchContext) -> str:
        return _plain(any(self._values(context)))


class AllSubstitution(AnySubstitution):
    """`$(all a b ...)`: 'true' when every boolean is true."""

    _name = "all"

    def perform(self, context: LaunchContext) -> str:
        return _plain(all(self._values(context)))
