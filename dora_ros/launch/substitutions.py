"""Substitutions: values computed when an action runs (`$(var x)`, `LaunchConfiguration('x')`).

The same classes serve the Python API (``launch.substitutions.LaunchConfiguration``) and the
``$(name arg ...)`` syntax of XML and YAML files, which :func:`parse_substitution` turns into a list
of them. Each front-end name has ROS 2's arity; a wrong one is a :class:`SubstitutionError`.
"""

from __future__ import annotations

import math
import os
import random
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .entity import to_bool
from .errors import NotFoundError, SubstitutionError

if TYPE_CHECKING:
    from .context import LaunchContext

__all__ = [
    "AndSubstitution",
    "AnonName",
    "Command",
    "EnvironmentVariable",
    "EqualsSubstitution",
    "FindExecutable",
    "FindPackagePrefix",
    "FindPackageShare",
    "LaunchConfiguration",
    "NotEqualsSubstitution",
    "NotSubstitution",
    "OrSubstitution",
    "PathJoinSubstitution",
    "PythonExpression",
    "SomeSubstitutionsType",
    "Substitution",
    "TextSubstitution",
    "ThisLaunchFile",
    "ThisLaunchFileDir",
    "normalize",
    "parse_substitution",
    "perform",
]


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
    """Perform a str, Substitution or sequence of them and concatenate the results."""
    return "".join(sub.perform(context) for sub in normalize(value))


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


def _package_prefix(package: str) -> str:
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        return str(get_package_prefix(package))
    except (PackageNotFoundError, LookupError, ValueError) as err:
        where = os.environ.get("AMENT_PREFIX_PATH", "")
        raise NotFoundError(
            f"package '{package}' not found (AMENT_PREFIX_PATH={where or '<unset>'})"
        ) from err


class FindPackagePrefix(Substitution):
    """`$(find-pkg-prefix pkg)`."""

    def __init__(self, package: Any) -> None:
        self.package = normalize(package)

    def perform(self, context: LaunchContext) -> str:
        return _package_prefix(perform(context, self.package))


class FindPackageShare(FindPackagePrefix):
    """`$(find-pkg-share pkg)`."""

    def perform(self, context: LaunchContext) -> str:
        package = perform(context, self.package)
        return os.path.join(_package_prefix(package), "share", package)


class FindExecutable(Substitution):
    """`$(find-exec name)`: the executable on the PATH."""

    def __init__(self, *, name: Any) -> None:
        self.name = normalize(name)

    def perform(self, context: LaunchContext) -> str:
        name = perform(context, self.name)
        found = shutil.which(name, path=context.environment.get("PATH"))
        if found is None:
            raise NotFoundError(f"executable '{name}' not found on the PATH")
        return found


class Command(Substitution):
    """`$(command 'cmd args' [fail|warn|ignore|capture])`: the command's standard output."""

    def __init__(self, command: Any, *, on_stderr: Any = "fail") -> None:
        self.command = normalize(command)
        self.on_stderr = normalize(on_stderr)

    def perform(self, context: LaunchContext) -> str:
        text = perform(context, self.command)
        mode = perform(context, self.on_stderr)
        if mode not in ("fail", "warn", "ignore", "capture"):
            raise SubstitutionError(
                f"command: on_stderr must be fail, warn, ignore or capture, got '{mode}'"
            )
        try:
            result = subprocess.run(
                shlex.split(text),
                capture_output=True,
                text=True,
                env=dict(context.environment),
                check=False,
            )
        except OSError as err:
            raise SubstitutionError(f"command '{text}' cannot run: {err.strerror}") from err
        if result.returncode != 0:
            raise SubstitutionError(
                f"command '{text}' failed with exit code {result.returncode}: "
                f"{result.stderr.strip()}"
            )
        if result.stderr and mode == "fail":
            raise SubstitutionError(f"command '{text}' wrote to stderr: {result.stderr.strip()}")
        if mode == "warn" and result.stderr:
            context.log_warning(f"command '{text}' wrote to stderr: {result.stderr.strip()}")
        return result.stdout + (result.stderr if mode == "capture" else "")


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


class AnonName(Substitution):
    """`$(anon name)`: a name made unique once per launch."""

    def __init__(self, name: Any) -> None:
        self.name = normalize(name)

    def perform(self, context: LaunchContext) -> str:
        name = perform(context, self.name)
        key = "anon" + name
        if key not in context.launch_configurations:
            context.launch_configurations[key] = f"{name}_{os.getpid()}_{random.getrandbits(48)}"
        return str(context.launch_configurations[key])


class ThisLaunchFile(Substitution):
    """`$(filename)`: the path of the launch file being read."""

    def perform(self, context: LaunchContext) -> str:
        if context.current_file is None:
            raise SubstitutionError("filename: used outside of a launch file")
        return context.current_file


class ThisLaunchFileDir(Substitution):
    """`$(dirname)`: the folder of the launch file being read."""

    def perform(self, context: LaunchContext) -> str:
        if context.current_file is None:
            raise SubstitutionError("dirname: used outside of a launch file")
        return os.path.dirname(context.current_file)


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


def _comparable(text: str) -> Any:
    as_bool = to_bool(text)
    if as_bool is not None and text.strip().lower() in ("true", "false"):
        return as_bool
    try:
        return float(text)
    except ValueError:
        return text


class EqualsSubstitution(Substitution):
    """`$(equals a b)`: 'true' when both sides are equal (as booleans, numbers or text)."""

    def __init__(self, left: Any, right: Any) -> None:
        self.left = normalize(left)
        self.right = normalize(right)

    def _equal(self, context: LaunchContext) -> bool:
        left = _comparable(perform(context, self.left))
        right = _comparable(perform(context, self.right))
        return bool(type(left) is type(right) and left == right)

    def perform(self, context: LaunchContext) -> str:
        return _plain(self._equal(context))


class NotEqualsSubstitution(EqualsSubstitution):
    def perform(self, context: LaunchContext) -> str:
        return _plain(not self._equal(context))


class PathJoinSubstitution(Substitution):
    """Join its parts with the path separator."""

    def __init__(self, substitutions: Sequence[Any]) -> None:
        self.substitutions = [normalize(s) for s in substitutions]

    def perform(self, context: LaunchContext) -> str:
        return os.path.join(*[perform(context, s) for s in self.substitutions])

    def __truediv__(self, other: Any) -> PathJoinSubstitution:
        return PathJoinSubstitution([*self.substitutions, other])


# --- the $(...) syntax -------------------------------------------------------------------------

Args = list[list[Substitution]]


def _arity(name: str, low: int, high: int, build: Callable[[Args], Substitution]) -> Any:
    def make(args: Args) -> Substitution:
        if not low <= len(args) <= high:
            want = f"{low}" if low == high else f"{low} or {high}" if high == low + 1 else ""
            want = want or f"{low} to {high}"
            noun = "argument" if high == 1 else "arguments"
            raise SubstitutionError(f"$({name}) expects {want} {noun}, got {len(args)}")
        return build(args)

    return make


def _eval_args(args: Args) -> Substitution:
    if len(args) == 2:
        modules = "".join(s.text for s in args[1] if isinstance(s, TextSubstitution))
        return PythonExpression(args[0], [m.strip() for m in modules.split(",") if m.strip()])
    return PythonExpression(args[0])


_FRONTEND: dict[str, Callable[[Args], Substitution]] = {
    "var": _arity(
        "var", 1, 2, lambda a: LaunchConfiguration(a[0], default=a[1] if len(a) > 1 else None)
    ),
    "env": _arity(
        "env", 1, 2, lambda a: EnvironmentVariable(a[0], default_value=a[1] if len(a) > 1 else None)
    ),
    "find-pkg-share": _arity("find-pkg-share", 1, 1, lambda a: FindPackageShare(a[0])),
    "find-pkg-prefix": _arity("find-pkg-prefix", 1, 1, lambda a: FindPackagePrefix(a[0])),
    "find-exec": _arity("find-exec", 1, 1, lambda a: FindExecutable(name=a[0])),
    "command": _arity(
        "command", 1, 2, lambda a: Command(a[0], on_stderr=a[1] if len(a) > 1 else "fail")
    ),
    "eval": _arity("eval", 1, 2, _eval_args),
    "anon": _arity("anon", 1, 1, lambda a: AnonName(a[0])),
    "dirname": _arity("dirname", 0, 0, lambda a: ThisLaunchFileDir()),
    "filename": _arity("filename", 0, 0, lambda a: ThisLaunchFile()),
    "not": _arity("not", 1, 1, lambda a: NotSubstitution(a[0])),
    "and": _arity("and", 2, 2, lambda a: AndSubstitution(a[0], a[1])),
    "or": _arity("or", 2, 2, lambda a: OrSubstitution(a[0], a[1])),
    "equals": _arity("equals", 2, 2, lambda a: EqualsSubstitution(a[0], a[1])),
    "not-equals": _arity("not-equals", 2, 2, lambda a: NotEqualsSubstitution(a[0], a[1])),
}


class _Parser:
    """Recursive descent over ROS 2's grammar: text, `$(name arg ...)`, quoted arguments."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, message: str) -> SubstitutionError:
        return SubstitutionError(f"bad substitution in '{self.text}': {message}")

    def at_sub(self) -> bool:
        return self.text.startswith("$(", self.pos) and (
            self.pos == 0 or self.text[self.pos - 1] != "\\"
        )

    def template(self, stop: str | None = None) -> list[Substitution]:
        """Text and substitutions up to `stop` (a closing quote) or the end."""
        out: list[Substitution] = []
        buf: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if stop is not None and ch == stop:
                break
            if ch == "\\" and self.pos + 1 < len(self.text):
                buf.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if self.at_sub():
                if buf:
                    out.append(TextSubstitution(text="".join(buf)))
                    buf = []
                out.append(self.substitution())
                continue
            buf.append(ch)
            self.pos += 1
        if buf:
            out.append(TextSubstitution(text="".join(buf)))
        return out

    def substitution(self) -> Substitution:
        self.pos += 2  # "$("
        start = self.pos
        while self.pos < len(self.text) and (
            self.text[self.pos].isalnum() or self.text[self.pos] in "_-"
        ):
            self.pos += 1
        name = self.text[start : self.pos]
        if not name:
            raise self.fail("expected a substitution name after '$('")
        args: Args = []
        while True:
            if self.pos >= len(self.text):
                raise self.fail(f"unterminated $({name} ...: missing ')'")
            ch = self.text[self.pos]
            if ch == ")":
                self.pos += 1
                break
            if ch != " ":
                raise self.fail(f"unexpected '{ch}' in $({name} ...)")
            while self.pos < len(self.text) and self.text[self.pos] == " ":
                self.pos += 1
            if self.pos < len(self.text) and self.text[self.pos] != ")":
                args.append(self.argument())
        factory = _FRONTEND.get(name)
        if factory is None:
            known = ", ".join(sorted(_FRONTEND))
            raise SubstitutionError(f"unknown substitution '$({name})' (known: {known})")
        return factory(args)

    def argument(self) -> list[Substitution]:
        ch = self.text[self.pos]
        if ch in "'\"":
            self.pos += 1
            value = self.template(stop=ch)
            if self.pos >= len(self.text):
                raise self.fail(f"unterminated quote {ch}")
            self.pos += 1
            return value or [TextSubstitution(text="")]
        out: list[Substitution] = []
        buf: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\" and self.pos + 1 < len(self.text):
                buf.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if self.at_sub():
                if buf:
                    out.append(TextSubstitution(text="".join(buf)))
                    buf = []
                out.append(self.substitution())
                continue
            if ch in " )'\"(":
                break
            buf.append(ch)
            self.pos += 1
        if buf:
            out.append(TextSubstitution(text="".join(buf)))
        return out


def parse_substitution(text: str) -> list[Substitution]:
    """Parse a launch-file string with `$(...)` substitutions into a list of substitutions."""
    if not text:
        return [TextSubstitution(text="")]
    return _Parser(text).template()
