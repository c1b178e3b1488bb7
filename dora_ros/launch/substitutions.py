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
    "AllSubstitution",
    "AndSubstitution",
    "AnonName",
    "AnySubstitution",
    "Command",
    "EnvironmentVariable",
    "EqualsSubstitution",
    "ExecutableInPackage",
    "FileContent",
    "FindExecutable",
    "FindPackagePrefix",
    "FindPackageShare",
    "ForEachVar",
    "ForLoopIndex",
    "IfElseSubstitution",
    "LaunchConfiguration",
    "LaunchLogDir",
    "LocalSubstitution",
    "NotEqualsSubstitution",
    "NotSubstitution",
    "OrSubstitution",
    "PathJoinSubstitution",
    "PathSubstitution",
    "PythonExpression",
    "RosParameter",
    "SomeSubstitutionsType",
    "StringJoinSubstitution",
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
    from ..errors import LaunchError

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

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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
        return self.find(perform(context, self.package))

    def find(self, package_name: str) -> str:
        """The path for `package_name`, without a launch context (ROS 2's `.find()`)."""
        return _package_prefix(package_name)


class FindPackageShare(FindPackagePrefix):
    """`$(find-pkg-share pkg)`."""

    def find(self, package_name: str) -> str:
        return os.path.join(_package_prefix(package_name), "share", package_name)


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
        if not context.shared.run_commands:
            # `--print` without `--eval`: show the command, do not run it (it may have effects).
            context.shared.note(f"not run (pass --eval to run it): $(command '{text}')")
            return f"<output of: {text}>"
        mode = perform(context, self.on_stderr)
        if mode not in ("fail", "warn", "ignore", "capture"):
            raise SubstitutionError(
                f"command: on_stderr must be fail, warn, ignore or capture, got '{mode}'"
            )
        try:
            words = shlex.split(text)
        except ValueError as err:
            raise SubstitutionError(f"command '{text}' cannot be split into words: {err}") from None
        try:
            result = subprocess.run(
                words,
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
            import socket

            # As ROS 2: name, host, pid, a random number; '.', '-' and ':' (from a host name or
            # the name itself) become '_', so the result is a valid ROS node name.
            unique = f"{name}_{socket.gethostname()}_{os.getpid()}_{random.getrandbits(48)}"
            for char in ".-:":
                unique = unique.replace(char, "_")
            context.launch_configurations[key] = unique
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


class PathJoinSubstitution(Substitution):
    """Join its parts with the path separator."""

    def __init__(self, substitutions: Sequence[Any]) -> None:
        self.substitutions = [normalize(s) for s in substitutions]

    def perform(self, context: LaunchContext) -> str:
        return os.path.join(*[perform(context, s) for s in self.substitutions])

    def __truediv__(self, other: Any) -> PathJoinSubstitution:
        return PathJoinSubstitution([*self.substitutions, other])


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
FindPackage = FindPackagePrefix  # the base of FindPackagePrefix/FindPackageShare in launch_ros


class PathSubstitution(PathJoinSubstitution):
    """A path to extend with `/` (`PathSubstitution(FindPackageShare('p')) / 'urdf' / 'r.xacro'`)."""

    def __init__(self, path: Any) -> None:
        super().__init__([path])


class StringJoinSubstitution(Substitution):
    """`$(string-join delimiter a b ...)`: the parts joined with `delimiter`."""

    def __init__(self, substitutions: Sequence[Any], delimiter: Any = "") -> None:
        self.substitutions = [normalize(s) for s in substitutions]
        self.delimiter = normalize(delimiter)

    def perform(self, context: LaunchContext) -> str:
        delimiter = perform(context, self.delimiter)
        return delimiter.join(perform(context, s) for s in self.substitutions)


class FileContent(Substitution):
    """`$(file-content path)`: the text of a file."""

    def __init__(self, path: Any) -> None:
        self.path = normalize(path)

    def perform(self, context: LaunchContext) -> str:
        path = perform(context, self.path)
        try:
            with open(path, encoding="utf-8") as f:
                return f.read()
        except OSError as err:
            raise NotFoundError(f"file-content: cannot read '{path}': {err.strerror}") from None


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


class LaunchLogDir(Substitution):
    """`$(log_dir)` / `$(launch_log_dir)`: the launch's log folder."""

    def perform(self, context: LaunchContext) -> str:
        if context.shared.log_dir is None:
            raise SubstitutionError("log_dir: the launch has no log folder")
        return context.shared.log_dir


class ExecutableInPackage(Substitution):
    """`$(exec-in-pkg exec pkg)`: `<prefix>/lib/<pkg>/<exec>`."""

    def __init__(self, executable: Any, package: Any) -> None:
        self.executable = normalize(executable)
        self.package = normalize(package)

    def perform(self, context: LaunchContext) -> str:
        package = perform(context, self.package)
        executable = perform(context, self.executable)
        folder = os.path.join(_package_prefix(package), "lib", package)
        path = os.path.join(folder, executable)
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise NotFoundError(
                f"executable '{executable}' not found in package '{package}' ({folder})"
            )
        return path


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
    "file-content": _arity("file-content", 1, 1, lambda a: FileContent(a[0])),
    "if": _arity("if", 2, 3, lambda a: IfElseSubstitution(*a)),
    "any": _arity("any", 1, 99, lambda a: AnySubstitution(*a)),
    "all": _arity("all", 1, 99, lambda a: AllSubstitution(*a)),
    "log_dir": _arity("log_dir", 0, 0, lambda a: LaunchLogDir()),
    "launch_log_dir": _arity("launch_log_dir", 0, 0, lambda a: LaunchLogDir()),
    "exec-in-pkg": _arity("exec-in-pkg", 2, 2, lambda a: ExecutableInPackage(a[0], a[1])),
    "path-join": _arity("path-join", 1, 99, lambda a: PathJoinSubstitution(a)),
    "string-join": _arity("string-join", 2, 99, lambda a: StringJoinSubstitution(a[1:], a[0])),
    "index": _arity("index", 1, 1, lambda a: ForLoopIndex(a[0])),
    "param": _arity("param", 1, 1, lambda a: RosParameter(a[0])),
    "for-var": _arity(
        "for-var", 1, 2, lambda a: ForEachVar(a[0], default_value=a[1] if len(a) > 1 else None)
    ),
}


def register_frontend_substitution(name: str, cls: Any) -> None:
    """`$(name ...)` builds `cls` (launch.frontend.expose_substitution), via its `parse(args)`."""

    def build(args: Args) -> Substitution:
        if hasattr(cls, "parse"):
            made, kwargs = cls.parse(args)
            return made(**kwargs)
        return cls(*args)

    _FRONTEND[name] = build


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
