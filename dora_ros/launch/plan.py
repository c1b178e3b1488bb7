"""The resolved description of a launch: what the executor starts, or `--print` shows.

Visiting a launch description performs its substitutions and conditions and yields these steps.
Nothing here runs anything; the executor (:mod:`.executor`) holds the running state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import Location

if TYPE_CHECKING:
    from .context import LaunchContext

__all__ = [
    "FireEvent",
    "Log",
    "ProcessSpec",
    "RegisterHandler",
    "RequestShutdown",
    "StartProcess",
    "StartTimer",
    "UnregisterHandler",
]


@dataclass(frozen=True)
class ProcessSpec:
    """One process to start, fully resolved."""

    name: str  # unique in the launch: "<exec>-<n>" as ROS 2 names them
    cmd: tuple[str, ...]
    cwd: str | None
    env: Mapping[str, str]  # the complete environment
    additional_env: Mapping[str, str]  # what the launch file set (shown by --print)
    output: str  # "screen", "log" or "both"
    respawn: bool = False
    respawn_delay: float = 0.0
    respawn_max_retries: int = -1  # -1: no limit
    shutdown_on_exit: bool = False
    sigterm_timeout: float = 5.0
    sigkill_timeout: float = 5.0
    ros_node: tuple[str | None, str] | None = None  # (node name or None, namespace)
    dora_nodes: tuple[str, ...] | None = None  # a dora graph's node ids
    location: Location | None = None
    origin: Any = field(default=None, compare=False, repr=False)  # the action, for handlers
    unset_env: tuple[str, ...] = ()  # variables the launch file removed (shown by --print)


@dataclass(frozen=True)
class StartProcess:
    spec: ProcessSpec


@dataclass(frozen=True)
class StartTimer:
    period: float
    steps: tuple[Any, ...]


@dataclass(frozen=True)
class RegisterHandler:
    handler: Any  # an event handler from .event_handlers
    context: LaunchContext


@dataclass(frozen=True)
class FireEvent:
    """Give `event` to the handlers registered so far (ExecutionComplete, user events)."""

    event: Any


@dataclass(frozen=True)
class UnregisterHandler:
    handler: Any


@dataclass(frozen=True)
class Log:
    message: str
    level: str = "INFO"


@dataclass(frozen=True)
class RequestShutdown:
    reason: str
