"""The state a launch description is visited in: launch configurations, environment, ROS scope.

Scoped groups push and pop it. Visiting emits steps (:mod:`.plan`) into `context.steps`; a copy of
the context is kept for timers and event handlers, whose actions are visited later.
"""

from __future__ import annotations

import copy
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .substitutions import normalize
from .substitutions import perform as _perform

__all__ = ["LaunchContext", "Shared"]


class Locals(dict[str, Any]):
    """The context's locals, by key or, as ROS 2's `context.locals.event`, by attribute."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class Shared:
    """State shared by every copy of a context during one launch."""

    process_count: int = 0
    declared_arguments: list[Any] = field(default_factory=list)
    # names a LaunchConfiguration substitution read: a command-line argument no file declares
    # but one reads with `$(var name)` is used, not a typo
    read_configurations: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    log_dir: str | None = None  # the launch's log folder (dora graphs write their node logs there)
    # False under `--print` without `--eval`: `$(command)` is shown, not run.
    run_commands: bool = True
    printing: bool = False  # `--print`: nothing starts; OpaqueFunctions still run (and say so)
    notes: list[str] = field(default_factory=list)  # what `--print` says about how it resolved
    # ids of actions an OnExecutionComplete handler targets (their completion becomes an event)
    completion_watch: set[int] = field(default_factory=set)
    lifecycle_nodes: list[tuple[Any, str]] = field(default_factory=list)  # (action, node fqn)
    containers: list[tuple[Any, str]] = field(default_factory=list)  # (action, container fqn)
    _temp_dir: str | None = None

    @property
    def temp_dir(self) -> str:
        """A folder for generated parameter files, made on first use; the command removes it."""
        if self._temp_dir is None:
            self._temp_dir = tempfile.mkdtemp(prefix="dora_ros_launch_")
        return self._temp_dir

    @property
    def existing_temp_dir(self) -> str | None:
        """The folder of generated parameter files if one was made (without making one)."""
        return self._temp_dir

    def remove_temp_dir(self) -> None:
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    def process_name(self, base: str) -> str:
        """`base-N` with N counting every process of the launch, as ROS 2 numbers them."""
        self.process_count += 1
        return f"{base}-{self.process_count}"


class LaunchContext:
    """Launch configurations, environment and ROS scope (namespace, global params, remaps)."""

    def __init__(
        self,
        *,
        launch_arguments: Mapping[str, str] | None = None,
        environment: Mapping[str, str] | None = None,
        shared: Shared | None = None,
    ) -> None:
        self.launch_configurations: dict[str, Any] = dict(launch_arguments or {})
        self.environment: dict[str, str] = dict(os.environ if environment is None else environment)
        self.initial_environment = dict(self.environment)  # what ResetEnvironment goes back to
        self.environment_stack: list[dict[str, str]] = []  # PushEnvironment/PopEnvironment
        self.configuration_stack: list[dict[str, Any]] = []  # Push/PopLaunchConfigurations
        self.ros_namespace: str | None = None
        self.global_params: list[Any] = []  # (name, value) tuples or parameter file paths
        self.ros_remaps: list[tuple[str, str]] = []
        self.current_file: str | None = None
        self.shared = shared or Shared()
        self.steps: list[Any] = []
        self.locals = Locals()  # `event` while a handler's actions are visited
        self._stack: list[tuple[Any, ...]] = []

    # -- ROS 2 API used by OpaqueFunction code ---------------------------------------------------
    def perform_substitution(self, substitution: Any) -> str:
        return _perform(self, substitution)

    def get_locals_as_dict(self) -> dict[str, Any]:
        if self.current_file is None:
            return {}
        return {
            "current_launch_file_path": self.current_file,
            "current_launch_file_directory": os.path.dirname(self.current_file),
        }

    # -- scoping ---------------------------------------------------------------------------------
    def _state(self) -> tuple[Any, ...]:
        return (
            dict(self.launch_configurations),
            dict(self.environment),
            self.ros_namespace,
            list(self.global_params),
            list(self.ros_remaps),
        )

    def push_scope(self, *, forwarding: bool = True) -> None:
        self._stack.append(self._state())
        if not forwarding:
            self.launch_configurations = {}

    def pop_scope(self) -> None:
        (
            self.launch_configurations,
            self.environment,
            self.ros_namespace,
            self.global_params,
            self.ros_remaps,
        ) = self._stack.pop()

    def snapshot(self) -> LaunchContext:
        """An independent copy (same shared state) for actions visited later."""
        other = copy.copy(self)
        other.launch_configurations = dict(self.launch_configurations)
        other.environment = dict(self.environment)
        other.global_params = list(self.global_params)
        other.ros_remaps = list(self.ros_remaps)
        other.locals = Locals(self.locals)
        other.environment_stack = [dict(e) for e in self.environment_stack]
        other.configuration_stack = [dict(c) for c in self.configuration_stack]
        other.steps = []
        other._stack = []
        return other

    # -- helpers for actions ---------------------------------------------------------------------
    def add_global_param(self, item: Any) -> None:
        """A (name, value) or a parameter file for every node started later in scope.

        ROS 2 keeps the list in the launch configuration 'global_params' as well, and launch
        files read it there (autoware's ground segmentation takes the vehicle's size from it).
        """
        self.global_params.append(item)
        self.launch_configurations["global_params"] = list(self.global_params)

    def perform(self, value: Any) -> str:
        return _perform(self, value)

    def perform_optional(self, value: Any) -> str | None:
        return None if value is None else _perform(self, normalize(value))

    def emit(self, step: Any) -> None:
        self.steps.append(step)

    def log_warning(self, message: str) -> None:
        self.shared.warnings.append(message)
        print(f"[WARNING] [launch]: {message}", file=sys.stderr, flush=True)
