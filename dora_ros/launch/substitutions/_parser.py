"""The `$(name arg ...)` syntax of XML and YAML files: each front-end name with ROS 2's arity."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import SubstitutionError
from ._base import EnvironmentVariable, LaunchConfiguration, Substitution, TextSubstitution
from ._logic import (
    AllSubstitution,
    AndSubstitution,
    AnySubstitution,
    EqualsSubstitution,
    IfElseSubstitution,
    NotEqualsSubstitution,
    NotSubstitution,
    OrSubstitution,
    PythonExpression,
)
from ._paths import (
    Command,
    ExecutableInPackage,
    FileContent,
    FindExecutable,
    FindPackagePrefix,
    FindPackageShare,
    LaunchLogDir,
    PathJoinSubstitution,
    StringJoinSubstitution,
    ThisLaunchFile,
    ThisLaunchFileDir,
)
from ._values import AnonName, ForEachVar, ForLoopIndex, RosParameter

if TYPE_CHECKING:
    pass


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
        return self.scan(stop or "")

    def scan(self, stops: str) -> list[Substitution]:
        """Text (backslash escapes one character) and substitutions up to one of `stops` (never
        `\\` or `$`) or the end."""
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
            if ch in stops:
                break
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
        return self.scan(" )'\"(")


def parse_substitution(text: str) -> list[Substitution]:
    """Parse a launch-file string with `$(...)` substitutions into a list of substitutions."""
    if not text:
        return [TextSubstitution(text="")]
    return _Parser(text).template()
