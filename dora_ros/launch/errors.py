"""The errors `dora-ros launch` raises: one class per kind of mistake, all `LaunchError`s.

Each carries an optional :class:`Location`; the visitor adds the location of the action being
executed when a lower layer (a substitution, a package lookup) raised without one, so every message
reaches the user as one line ``file:line: what is wrong``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import LaunchError

__all__ = [
    "LaunchArgumentError",
    "LaunchFileError",
    "Location",
    "NotFoundError",
    "SubstitutionError",
]


@dataclass(frozen=True)
class Location:
    """Where an action or entity comes from: a file and a 1-based line (0 when unknown)."""

    file: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


class _LocatedError(LaunchError):
    def __init__(self, message: str, location: Location | None = None) -> None:
        self.message = message
        self.location = location
        super().__init__(message)

    def at(self, location: Location | None) -> _LocatedError:
        """Return this error with `location` filled in, unless it already names one."""
        if self.location is None and location is not None:
            self.location = location
        return self

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class LaunchFileError(_LocatedError):
    """A launch file is malformed: syntax, unknown tag or attribute, bad value, unsupported class."""


class SubstitutionError(_LocatedError):
    """A substitution is malformed (unknown name, wrong arity) or cannot be performed (unset var)."""


class LaunchArgumentError(_LocatedError):
    """A launch argument is missing (declared without default) or not one of its choices."""


class NotFoundError(_LocatedError):
    """A package, launch file or executable named by a launch file does not exist."""
