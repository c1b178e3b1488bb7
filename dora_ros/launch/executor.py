"""Runs a resolved launch: starts processes, fires timers and event handlers, shuts down.

One asyncio loop owns every child. Each child runs in its own process group with a parent-death
signal (SIGKILL), and a small reaper process (:mod:`dora_ros.runtime.reaper`) kills the groups if the launcher is
killed, so nothing outlives a launch. Shutdown (Ctrl-C, SIGTERM, a required process exiting,
`Shutdown()`) walks each process through its :class:`Escalation`: SIGINT, then SIGTERM after
`sigterm_timeout`, then SIGKILL to the whole group after `sigkill_timeout`, warning at each step.
"""

from __future__ import annotations

import asyncio
import ctypes
import datetime
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..runtime import reaper
from ..runtime.console import colour_enabled, prefix
from .action import visit
from .composition import ComponentLoader, LoadComponents, LoadResult
from .context import LaunchContext
from .errors import LaunchError
from .event_handlers import OnProcessIO
from .events import ExecutionComplete, ProcessExited, ProcessIO, ProcessStarted, Shutdown
from .lifecycle import TRANSITIONS, LifecycleManager, LifecycleRequest, LifecycleWatch
from .plan import (
    FireEvent,
    Log,
    ProcessSpec,
    RegisterHandler,
    RequestShutdown,
    StartProcess,
    StartTimer,
    UnregisterHandler,
)

__all__ = ["Escalation", "Launcher", "default_log_dir"]

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Escalation:
    """Signals to send a process on shutdown, each followed by how long to wait for it to exit."""

    steps: tuple[tuple[signal.Signals, float], ...]

    @classmethod
    def of(cls, spec: ProcessSpec) -> Escalation:
        return cls(
            (
                (signal.SIGINT, spec.sigterm_timeout),
                (signal.SIGTERM, spec.sigkill_timeout),
                (signal.SIGKILL, 5.0),
            )
        )


def default_log_dir() -> Path:
    """`$ROS_LOG_DIR` (or `$ROS_HOME/log`, `~/.ros/log`) / `<date>-<host>-<pid>`, as ROS 2."""
    base = os.environ.get("ROS_LOG_DIR")
    if not base:
        home = os.environ.get("ROS_HOME") or os.path.join(os.path.expanduser("~"), ".ros")
        base = os.path.join(home, "log")
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H-%M-%S-%f")
    return Path(os.path.expanduser(base)) / f"{stamp}-{socket.gethostname()}-{os.getpid()}"


def _children_of_self() -> list[int]:
    pids: list[int] = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as f:
                pids.extend(int(p) for p in f.read().split())
        except OSError:
            continue  # the thread ended
    return pids


class _Running:
    def __init__(self, spec: ProcessSpec, process: asyncio.subprocess.Process) -> None:
        self.spec = spec
        self.process = process
        self.exited = asyncio.Event()


class Launcher:
    """Executes steps from visiting a launch description until everything has ended."""

    def __init__(self, log_dir: Path | None = None, *, debug: bool = False) -> None:
        self.log_dir = log_dir or default_log_dir()
        self.debug = debug
        self.failures: list[str] = []
        self.shutting_down = False
        self._handlers: list[tuple[Any, LaunchContext]] = []
        self._running: dict[int, _Running] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timers: set[asyncio.Task[Any]] = set()
        self._shutdown_event = asyncio.Event()
        self._launch_log: IO[str] | None = None
        self._reaper: subprocess.Popen[bytes] | None = None
        self._lifecycle_manager: LifecycleManager | None = None  # made by the first lifecycle step
        self._loader: ComponentLoader | None = None  # made by the first LoadComponents step
        self._loaded: list[tuple[str, int, str]] = []  # (container, unique id, node name)

    # -- logging -------------------------------------------------------------------------------
    def _log(self, level: str, who: str, message: str) -> None:
        line = f"[{level}] [{who}]: {message}"
        stream = sys.stderr if level in ("WARNING", "ERROR") else sys.stdout
        print(line, file=stream, flush=True)
        self._write_log(line)

    def _write_log(self, line: str) -> None:
        if self._launch_log is not None:
            stamp = datetime.datetime.now().strftime("%H:%M:%S.%f")[:-3]
            self._launch_log.write(f"{stamp} {line}\n")
            self._launch_log.flush()

    # -- entry point ---------------------------------------------------------------------------
    def run(self, steps: list[Any]) -> int:
        """Run to the end; the exit status is 1 if a process failed on its own or a step did."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # Orphans of our children (even those that left their process group) become ours, so
        # the launch can end them too.
        _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        with open(self.log_dir / "launch.log", "a", encoding="utf-8") as launch_log:
            self._launch_log = launch_log
            self._reaper = subprocess.Popen(
                [sys.executable, "-I", "-S", reaper.__file__],
                stdin=subprocess.PIPE,
                start_new_session=True,
            )
            try:
                asyncio.run(self._main(steps))
            finally:
                # Closing its input makes the reaper kill every group still listed: none after
                # a normal end, all of them if the loop above failed.
                assert self._reaper.stdin is not None
                self._reaper.stdin.close()
                self._reaper.wait()
                self._end_adopted()
                self._launch_log = None
        return 1 if self.failures else 0

    def _end_adopted(self) -> None:
        """Kill and reap descendants that were orphaned to us and are still running."""
        for pid in _children_of_self():
            self._log("WARNING", "launch", f"killing leftover process [pid {pid}]")
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass  # ended meanwhile

    def _tell_reaper(self, word: str) -> None:
        if self._reaper is not None and self._reaper.stdin is not None:
            try:
                self._reaper.stdin.write(word.encode() + b"\n")
                self._reaper.stdin.flush()
            except OSError:
                pass  # the reaper died: nothing better to do than go on

    async def _main(self, steps: list[Any]) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, self._on_signal, "SIGINT")
        loop.add_signal_handler(signal.SIGTERM, self._on_signal, "SIGTERM")
        self._log("INFO", "launch", f"All log files can be found below {self.log_dir}")
        try:
            await self._run_steps(steps)
            while self._tasks:
                await asyncio.wait(set(self._tasks))
        finally:
            if self._lifecycle_manager is not None:
                self._lifecycle_manager.close()
            if self._loader is not None:
                self._loader.close()

    def _on_signal(self, name: str) -> None:
        if self.shutting_down:
            self._log("WARNING", "launch", f"{name} again: already shutting down")
            return
        self.request_shutdown(f"{name} received")

    def _track(self, coro: Any, *, timer: bool = False) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        if timer:
            self._timers.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            self._timers.discard(t)
            if not t.cancelled() and t.exception() is not None:
                # A bug in the launcher: say what it was and stop everything rather than leave
                # a process unsupervised.
                err = t.exception()
                self._log("ERROR", "launch", f"internal error: {type(err).__name__}: {err}")
                self.failures.append(str(err))
                self.request_shutdown("internal error")

        task.add_done_callback(done)

    # -- steps -----------------------------------------------------------------------------------
    async def _run_steps(self, steps: Any) -> None:
        for step in steps:
            if isinstance(step, StartProcess):
                if not self.shutting_down:
                    self._track(self._supervise(step.spec))
            elif isinstance(step, StartTimer):
                if not self.shutting_down:
                    self._track(self._timer(step), timer=True)
            elif isinstance(step, RegisterHandler):
                self._handlers.append((step.handler, step.context))
            elif isinstance(step, LoadComponents):
                if not self.shutting_down:
                    self._track(self._load_components(step), timer=True)
            elif isinstance(step, LifecycleWatch):
                self._lifecycle().watch(step.fqn, step.action)
            elif isinstance(step, LifecycleRequest):
                if not self.shutting_down:
                    self._track(self._lifecycle_request(step), timer=True)
            elif isinstance(step, FireEvent):
                await self._emit(step.event)
            elif isinstance(step, UnregisterHandler):
                self._handlers = [(h, c) for h, c in self._handlers if h is not step.handler]
            elif isinstance(step, Log):
                self._log(step.level, "launch.user", step.message)
            elif isinstance(step, RequestShutdown):
                self.request_shutdown(step.reason)

    def _lifecycle(self) -> LifecycleManager:
        if self._lifecycle_manager is None:
            loop = asyncio.get_running_loop()

            def emit(event: Any) -> None:  # from the manager's thread
                loop.call_soon_threadsafe(lambda: self._track(self._emit(event)))

            self._lifecycle_manager = LifecycleManager(emit)
        return self._lifecycle_manager

    async def _load_components(self, step: LoadComponents) -> None:
        """Load each component in order, as launch_ros does; a failure is logged and counted."""
        if self._loader is None:
            self._loader = ComponentLoader()
        loader = self._loader
        loop = asyncio.get_running_loop()
        for spec in step.components:
            where = f" ({spec.location})" if spec.location else ""
            try:
                result = await loop.run_in_executor(None, loader.load, step.container, spec)
            except LaunchError as err:
                result = LoadResult(False, "", 0, str(err))
            if result.success:
                self._loaded.append((step.container, result.unique_id, result.full_node_name))
                self._log(
                    "INFO",
                    "launch.components",
                    f"loaded '{result.full_node_name}' ({spec.package}::{spec.plugin}) "
                    f"in container '{step.container}'",
                )
            elif not self.shutting_down:
                message = (
                    f"failed to load component '{spec.describe()}' in container "
                    f"'{step.container}'{where}: {result.error_message}"
                )
                self._log("ERROR", "launch.components", message)
                self.failures.append(message)

    async def _unload_components(self) -> None:
        """Unload what we loaded, newest first, before the containers get their signals."""
        loader, loaded, self._loaded = self._loader, self._loaded, []
        if loader is None or not loaded:
            return
        loop = asyncio.get_running_loop()
        for container, unique_id, name in reversed(loaded):
            try:
                ok = await asyncio.wait_for(
                    loop.run_in_executor(None, loader.unload, container, unique_id), timeout=2.0
                )
            except (LaunchError, asyncio.TimeoutError) as err:
                self._log("WARNING", "launch.components", f"unloading '{name}': {err}")
                continue
            if ok:
                self._log("INFO", "launch.components", f"unloaded '{name}' from '{container}'")

    async def _lifecycle_request(self, step: LifecycleRequest) -> None:
        manager = self._lifecycle()
        loop = asyncio.get_running_loop()
        for transition in step.transitions:
            label = TRANSITIONS.get(transition, str(transition))
            self._log("INFO", "launch.lifecycle", f"{step.fqn}: {label}")
            try:
                await loop.run_in_executor(None, manager.change_state, step.fqn, transition)
            except LaunchError as err:
                self._log("ERROR", "launch.lifecycle", str(err))
                self.failures.append(str(err))
                return

    async def _timer(self, step: StartTimer) -> None:
        await asyncio.sleep(step.period)
        await self._run_steps(step.steps)

    async def _emit(self, event: Any) -> None:
        """Fire the matching handlers in the order they were registered."""
        for handler, context in list(self._handlers):
            if not handler.matches(event):
                continue
            later = context.snapshot()
            later.locals["event"] = event  # for LocalSubstitution('event.returncode') and such
            try:
                for entity in handler.handle(event, later):
                    visit(entity, later)
            except LaunchError as err:
                self._log("ERROR", "launch", str(err))
                self.failures.append(str(err))
                self.request_shutdown("an event handler failed")
                return
            await self._run_steps(later.steps)

    def request_shutdown(self, reason: str) -> None:
        if self.shutting_down:
            return
        self.shutting_down = True
        self._shutdown_event.set()
        self._log("INFO", "launch", f"shutting down: {reason}")
        for task in list(self._timers):
            task.cancel()
        if self._lifecycle_manager is not None:
            self._lifecycle_manager.closing.set()
        self._track(self._emit(Shutdown(reason=reason, due_to_sigint="SIGINT" in reason)))
        if self._loaded:
            self._track(self._unload_then_escalate())
            return
        if self._loader is not None:
            self._loader.stop.set()
        for running in list(self._running.values()):
            self._track(self._escalate(running))

    async def _unload_then_escalate(self) -> None:
        try:
            await self._unload_components()
        finally:  # whatever happened, the processes must still be stopped
            if self._loader is not None:
                self._loader.stop.set()  # loads still waiting give up
            for running in list(self._running.values()):
                self._track(self._escalate(running))

    # -- processes -------------------------------------------------------------------------------
    async def _spawn(self, spec: ProcessSpec) -> asyncio.subprocess.Process:
        launcher_pid = os.getpid()

        def child_setup() -> None:
            # Die with the launcher, even if it is killed with SIGKILL.
            _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != launcher_pid:
                os._exit(1)

        return await asyncio.create_subprocess_exec(
            *spec.cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=spec.cwd,
            env=dict(spec.env),
            start_new_session=True,
            preexec_fn=child_setup,
            limit=1 << 20,
        )

    async def _supervise(self, spec: ProcessSpec) -> None:
        attempts = 0
        while not self.shutting_down:
            try:
                process = await self._spawn(spec)
            except OSError as err:
                self._log("ERROR", spec.name, f"cannot start {spec.cmd[0]}: {err.strerror}")
                self.failures.append(spec.name)
                return
            self._tell_reaper(f"+{process.pid}")
            running = _Running(spec, process)
            self._running[process.pid] = running
            self._log("INFO", spec.name, f"process started with pid [{process.pid}]")
            if self.debug:
                self._log("DEBUG", spec.name, f"cmd: {' '.join(spec.cmd)}")
                for key, value in spec.additional_env.items():
                    self._log("DEBUG", spec.name, f"env: {key}={value}")
            log_path = self.log_dir / f"{spec.name}-{process.pid}-stdout_stderr.log"
            with open(log_path, "w", encoding="utf-8") as own_log:
                readers = [
                    self._pump(process.stdout, spec, own_log, process.pid, is_stderr=False),
                    self._pump(process.stderr, spec, own_log, process.pid, is_stderr=True),
                ]
                pumps = asyncio.gather(*readers)
                await self._emit(ProcessStarted(spec.origin, spec.name, process.pid, [*spec.cmd]))
                if self.shutting_down:  # a handler asked to stop before we were registered
                    self._track(self._escalate(running))
                returncode = await self._exit_of(process)
                # Kill what it left in its group first: a leftover child holding its pipes
                # would keep the readers waiting forever.
                self._cleanup_group(process.pid)
                try:
                    await asyncio.wait_for(pumps, timeout=2.0)
                except asyncio.TimeoutError:
                    pumps.cancel()  # a grandchild that left the group still holds the pipe
            del self._running[process.pid]
            running.exited.set()
            stopped = self.shutting_down
            if returncode == 0:
                self._log("INFO", spec.name, f"process has finished cleanly [pid {process.pid}]")
            else:
                level = "INFO" if stopped else "ERROR"
                self._log(
                    level,
                    spec.name,
                    f"process has died [pid {process.pid}, exit code {returncode}, "
                    f"cmd '{' '.join(spec.cmd)}']",
                )
                if not stopped:
                    self.failures.append(spec.name)
            await self._emit(
                ProcessExited(spec.origin, spec.name, process.pid, returncode, [*spec.cmd])
            )
            await self._emit(ExecutionComplete(spec.origin))
            if spec.shutdown_on_exit:
                self.request_shutdown(f"process {spec.name} exited (on_exit shutdown)")
            if not spec.respawn or self.shutting_down:
                return
            if 0 <= spec.respawn_max_retries <= attempts:
                self._log("INFO", spec.name, f"not respawning: {attempts} retries used")
                return
            attempts += 1
            try:
                await asyncio.wait_for(self._shutdown_event.wait(), timeout=spec.respawn_delay)
            except asyncio.TimeoutError:
                pass
            if not self.shutting_down:
                self._log("INFO", spec.name, f"respawning (retry {attempts})")

    async def _exit_of(self, process: asyncio.subprocess.Process) -> int:
        """The exit status, as soon as the process ends.

        `process.wait()` would also wait for its pipes to close, which a child it left behind
        can delay forever; a pidfd becomes readable when the process itself has ended.
        """
        loop = asyncio.get_running_loop()
        try:
            fd = os.pidfd_open(process.pid)
        except ProcessLookupError:
            fd = -1  # already ended and reaped
        if fd >= 0:
            ended: asyncio.Future[None] = loop.create_future()

            def readable() -> None:
                if not ended.done():
                    ended.set_result(None)

            loop.add_reader(fd, readable)
            try:
                await ended
            finally:
                loop.remove_reader(fd)
                os.close(fd)
        while process.returncode is None:  # the child watcher reaps it in a moment
            await asyncio.sleep(0.005)
        return process.returncode

    def _cleanup_group(self, pgid: int) -> None:
        """Children of the process left in its group die with it: no orphans."""
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass  # nothing left in the group
        self._tell_reaper(f"-{pgid}")

    async def _pump(
        self,
        stream: asyncio.StreamReader | None,
        spec: ProcessSpec,
        own: IO[str],
        pid: int,
        *,
        is_stderr: bool,
    ) -> None:
        if stream is None:
            return
        to_screen = spec.output in ("screen", "both") or is_stderr
        screen = sys.stderr if is_stderr else sys.stdout
        colour = colour_enabled(
            screen
        )  # the `run`/`build` prefix style, coloured on a terminal only
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line longer than the limit: take what is there
                raw = await stream.read(1 << 20)
            if not raw:
                return
            text = raw.decode("utf-8", errors="replace").rstrip("\n")
            own.write(text + "\n")
            own.flush()
            plain, shown = _labelled(spec, text, colour)
            self._write_log(plain)
            if to_screen:
                print(shown, file=screen, flush=True)
            if any(isinstance(h, OnProcessIO) for h, _ in self._handlers):
                fd = 2 if is_stderr else 1
                await self._emit(ProcessIO(spec.origin, spec.name, pid, raw, fd))

    async def _escalate(self, running: _Running) -> None:
        process = running.process
        previous: tuple[signal.Signals, float] | None = None
        for sig, wait in Escalation.of(running.spec).steps:
            if running.exited.is_set():
                return
            if previous is not None:
                self._log(
                    "WARNING",
                    running.spec.name,
                    f"still running {previous[1]:g} s after {previous[0].name}: sending {sig.name}",
                )
            try:
                if sig == signal.SIGKILL:
                    os.killpg(process.pid, sig)
                else:
                    process.send_signal(sig)
            except (ProcessLookupError, PermissionError):
                return
            previous = (sig, wait)
            try:
                await asyncio.wait_for(running.exited.wait(), timeout=wait)
                return
            except asyncio.TimeoutError:
                continue


def _labelled(spec: ProcessSpec, text: str, colour: bool) -> tuple[str, str]:
    """One output line as the launch log holds it (plain) and as the screen shows it.

    A process's lines get ``<name>: `` as `dora-ros run` and `build` print them (console.py). A
    dora graph is a `dora-ros run` whose lines carry their node's prefix already (plain: its output
    is a pipe): they pass through once, the node's prefix recoloured for a terminal.
    """
    if spec.dora_nodes is None:
        return prefix(spec.name, False) + text, prefix(spec.name, colour) + text
    node, sep, rest = text.partition(": ")
    if colour and sep and node in spec.dora_nodes:
        return text, prefix(node, True) + rest
    return text, text
