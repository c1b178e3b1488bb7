"""Events the executor emits and handlers react to (``launch.events``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ExecutionComplete",
    "IncludeLaunchDescription",
    "ProcessExited",
    "ProcessIO",
    "ProcessStarted",
    "Shutdown",
]


@dataclass
class Shutdown:
    """Ask the launch to end (`EmitEvent(event=Shutdown())`)."""

    reason: str = "reason not given"
    due_to_sigint: bool = False


@dataclass
class ProcessStarted:
    action: Any
    name: str
    pid: int
    cmd: list[str] = field(default_factory=list)

    @property
    def process_name(self) -> str:
        return self.name


@dataclass
class ProcessExited:
    action: Any
    name: str
    pid: int
    returncode: int
    cmd: list[str] = field(default_factory=list)

    @property
    def process_name(self) -> str:
        return self.name


@dataclass
class ProcessIO:
    """A line a process wrote (`text` in bytes, with its newline, as ROS 2 gives it)."""

    action: Any
    name: str
    pid: int
    text: bytes
    fd: int  # 1: stdout, 2: stderr

    @property
    def process_name(self) -> str:
        return self.name

    @property
    def from_stdout(self) -> bool:
        return self.fd == 1

    @property
    def from_stderr(self) -> bool:
        return self.fd == 2


@dataclass
class ExecutionComplete:
    """An action finished: a process when it exits, any other action once it has run."""

    action: Any


@dataclass
class IncludeLaunchDescription:
    """`EmitEvent(event=IncludeLaunchDescription(description))`: include it now."""

    launch_description: Any
