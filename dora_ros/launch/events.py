"""Events the executor emits and handlers react to (``launch.events``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ProcessExited", "ProcessStarted", "Shutdown"]


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
