"""Substitutions whose value the launch keeps: `$(anon)`, `$(param)`, `$(index)`, `$(for-var)`,
an event handler's locals."""

from __future__ import annotations

import os
import random
from typing import TYPE_CHECKING, Any

from ..errors import SubstitutionError
from ._base import Substitution, _plain, normalize, perform

if TYPE_CHECKING:
    from ..context import LaunchContext


class AnonName(Substitution):
    """`$(anon name)`: a name made unique once per launch."""

    def __init__(self, name: Any) -> None:
        self.name = normalize(name)

    def perform(self, context: LaunchContext) -> str:
        name = perform(context, self.name)
        key = "anon" + name
        if key not in context.launch_configurations:
            import socket

            # As ROS 2: name, host, pid, a random number; '.', '-' and ':' (from a host name or
            # the name itself) become '_', so the result is a valid ROS node name.
            unique = f"{name}_{socket.gethostname()}_{os.getpid()}_{random.getrandbits(48)}"
            for char in ".-:":
                unique = unique.replace(char, "_")
            context.launch_configurations[key] = unique
        return str(context.launch_configurations[key])


class RosParameter(Substitution):
    """`$(param name)` / launch_ros's `Parameter` substitution: a value set by `SetParameter`."""

    def __init__(self, name: Any) -> None:
        self.name = normalize(name)

    def perform(self, context: LaunchContext) -> str:
        name = perform(context, self.name)
        for item in reversed(context.global_params):
            if isinstance(item, tuple) and item[0] == name:
                value = item[1]
                if isinstance(value, (list, dict)):
                    import yaml

                    return yaml.safe_dump(value, default_flow_style=True).strip()
                return _plain(value)
        raise SubstitutionError(f"parameter '{name}' was not set by a set_parameter before")


# ROS 2's name for the error a substitution raises when it cannot be performed.
SubstitutionFailure = SubstitutionError


class LocalSubstitution(Substitution):
    """A value of the context's locals (`LocalSubstitution('event.returncode')` in a handler)."""

    def __init__(self, expression: str, description: str | None = None) -> None:
        self.expression = expression
        self.description = description

    def perform(self, context: LaunchContext) -> str:
        try:
            return str(eval(self.expression, {}, dict(context.locals)))
        except Exception as err:
            known = ", ".join(sorted(context.locals)) or "none"
            raise SubstitutionError(
                f"LocalSubstitution('{self.expression}'): {type(err).__name__}: {err} "
                f"(locals here: {known})"
            ) from None

    def describe(self) -> str:
        return self.description or f"LocalVar('{self.expression}')"


class ForEachVar(Substitution):
    """`$(for-var name [default])`: a value of the current ForEach iteration."""

    _kind = "for-var"

    def __init__(self, name: Any, *, default_value: Any = None) -> None:
        self.name = normalize(name)
        self.default_value = None if default_value is None else normalize(default_value)

    @classmethod
    def local_name(cls, name: str) -> str:
        return f"{cls._kind}:{name}"

    def perform(self, context: LaunchContext) -> str:
        name = perform(context, self.name)
        key = self.local_name(name)
        if key in context.launch_configurations:
            return _plain(context.launch_configurations[key])
        if self.default_value is not None:
            return perform(context, self.default_value)
        raise SubstitutionError(f"$({self._kind} {name}): used outside of a loop naming '{name}'")


class ForLoopIndex(ForEachVar):
    """`$(index name)`: the index of the current ForLoop iteration called `name`."""

    _kind = "index"

    def __init__(self, name: Any) -> None:
        super().__init__(name)
