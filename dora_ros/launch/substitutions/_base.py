"""The base of substitutions, `normalize` and `perform`, and the values a context holds as text
(`LaunchConfiguration`, `EnvironmentVariable`)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..entity import to_bool
from ..errors import SubstitutionError

if TYPE_CHECKING:
    from ..context import LaunchContext


class Substitution:
    """Something that becomes a string when performed in a launch context."""

    def perform(self, context: LaunchContext) -> str:
        raise NotImplementedError

    def describe(self) -> str:
        return type(self).__name__


SomeSubstitutionsType = str | Substitution | Sequence[str | Substitution]


def normalize(value: Any) -> list[Substitution]:
    """Turn a str, a Substitution or a sequence of them into a list of substitutions."""
    if isinstance(value, Substitution):
        return [value]
    if isinstance(value, (str, int, float, bool)):
        return [TextSubstitution(text=_plain(value))]
    if isinstance(value, os.PathLike):
        return [TextSubstitution(text=os.fspath(value))]
    if isinstance(value, Iterable):
        out: list[Substitution] = []
        for item in value:
            out.extend(normalize(item))
        return out
    raise SubstitutionError(f"expected a string or substitution, got {type(value).__name__}")


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def perform(context: LaunchContext, value: Any) -> str:
    """Perform a str, Substitution or sequence of them and concatenate the results.

    An exception other than a LaunchError from a substitution's `perform` (a user's own
    Substitution subclass, say) becomes a SubstitutionError naming the substitution and the line of
    its code that raised, so the CLI prints one line instead of a traceback.
    """
    from ...errors import LaunchError

    parts: list[str] = []
    for sub in normalize(value):
        try:
            text = sub.perform(context)
        except LaunchError:
            raise
        except Exception as err:
            raise SubstitutionError(
                f"substitution {_describe(sub)} failed{_raised_at(err)}: "
                f"{type(err).__name__}: {err}"
            ) from err
        if not isinstance(text, str):
            raise SubstitutionError(
                f"substitution {_describe(sub)} returned {type(text).__name__}, not a string"
            )
        parts.append(text)
    return "".join(parts)


def _describe(sub: Substitution) -> str:
    try:
        return str(sub.describe())
    except Exception:  # a user's describe() may itself be broken; the class name still helps
        return type(sub).__name__


def _raised_at(err: BaseException) -> str:
    """` (at file:line)`: the innermost frame of the traceback outside dora_ros."""
    import traceback

    package = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    frames = [
        f
        for f in traceback.extract_tb(err.__traceback__)
        if not os.path.abspath(f.filename).startswith(package)
    ]
    return f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def _as_bool(text: str, what: str) -> bool:
    value = to_bool(text)
    if value is None:
        raise SubstitutionError(f"{what}: '{text}' is not a boolean (true, false, 1 or 0)")
    return value


class TextSubstitution(Substitution):
    def __init__(self, *, text: str = "") -> None:
        self.text = text

    def perform(self, context: LaunchContext) -> str:
        return self.text

    def describe(self) -> str:
        return repr(self.text)


class LaunchConfiguration(Substitution):
    """`$(var name [default])`: the value of a launch argument or `let`."""

    def __init__(self, variable_name: Any, *, default: Any = None) -> None:
        self.variable_name = normalize(variable_name)
        self.default = None if default is None else normalize(default)

    def perform(self, context: LaunchContext) -> str:
        name = perform(context, self.variable_name)
        context.shared.read_configurations.add(name)
        if name in context.launch_configurations:
            return _plain(context.launch_configurations[name])
        if self.default is not None:
            return perform(context, self.default)
        raise SubstitutionError(f"launch configuration '{name}' does not exist")

    def describe(self) -> str:
        return f"$(var {''.join(s.describe() for s in self.variable_name)})"


class EnvironmentVariable(Substitution):
    """`$(env NAME [default])`."""

    def __init__(self, name: Any, *, default_value: Any = None) -> None:
        self.name = normalize(name)
        self.default_value = None if default_value is None else normalize(default_value)

    def perform(self, context: LaunchContext) -> str:
        name = perform(context, self.name)
        if name in context.environment:
            return context.environment[name]
        if self.default_value is not None:
            return perform(context, self.default_value)
        raise SubstitutionError(f"environment variable '{name}' is not set and has no default")
