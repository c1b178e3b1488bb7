"""``dora-ros run``: start every node of a dataflow, watch them, stop them in order.

The coordinator owns the node processes and the control channel (``control``); it never touches
data, which flows directly between nodes (``transport``). It:

- starts each node as its own process in its own process group, with a parent-death signal so no
  node outlives it, even when the coordinator is SIGKILLed (a reaper process, ``reaper.py``, then
  kills the nodes' process groups, so their own children go too);
- releases the start barrier once every (non-dynamic) node listens, tells nodes when a sender has
  ended for good (``closed``: INPUT_CLOSED downstream), restarts nodes per ``restart_policy``;
- prefixes each node's output with its id and writes ``out/<dataflow-id>/log_<node>.txt``;
- on Ctrl-C, SIGTERM or ``--stop-after`` sends STOP, then escalates per ``STOP_ESCALATION``.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import DescriptorError, DoraRosError
from . import control
from .console import colour_enabled, prefix
from .descriptor import Dataflow, NodeSpec, resolve_executable
from .log_files import LogFile
from .node_logs import raw_output_hidden, stdout_record, stdout_record_route
from .transport import MAX_INLINE_RECORD, connect, peer_uid, socket_name

# What happens after STOP, as data: (seconds to wait, then the signal to send). The last step's
# wait bounds how long a SIGKILLed node may take to be reaped.
STOP_ESCALATION: tuple[tuple[float, signal.Signals], ...] = (
    (5.0, signal.SIGTERM),
    (2.0, signal.SIGKILL),
)
# `DORA_ROS_STOP_GRACE=<seconds>` replaces the wait before SIGTERM (e.g. shorter in tests).
ENV_STOP_GRACE = "DORA_ROS_STOP_GRACE"
STDERR_TAIL = 10
# A restart waits restart_delay (at least RESTART_DELAY_FLOOR), doubled after each restart as in
# dora-rs, but never more than RESTART_DELAY_CAP (or restart_delay if larger): a node that fails
# once an hour for days must still come back within seconds.
RESTART_DELAY_FLOOR = 0.1
RESTART_DELAY_CAP = 30.0
# Seconds the coordinator waits for a node's output relays once it exited (a child it left
# behind may hold its pipes open), beyond what their line senders may wait.
RELAY_GRACE = 2.0
_PR_SET_PDEATHSIG = 1
# dora-rs 1.1's NODE_FAILED error text frames the node's stderr with a line of dashes.
_DASHES = "-" * 81
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def stop_escalation() -> tuple[tuple[float, signal.Signals], ...]:
    """``STOP_ESCALATION``, with the wait before SIGTERM from ``DORA_ROS_STOP_GRACE`` if set."""
    text = os.environ.get(ENV_STOP_GRACE)
    if text is None:
        return STOP_ESCALATION
    try:
        grace = float(text)
    except ValueError:
        grace = -1.0
    if not grace >= 0:
        raise DoraRosError(f"{ENV_STOP_GRACE}={text!r}: expected a number of seconds >= 0")
    return ((grace, STOP_ESCALATION[0][1]), *STOP_ESCALATION[1:])


def _child_setup() -> None:  # runs in the child between fork and exec
    os.setpgid(0, 0)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)


@dataclass(eq=False)
class _NodeState:
    spec: NodeSpec
    proc: subprocess.Popen[bytes] | None = None
    pidfd: int | None = None
    conn: socket.socket | None = None
    registered: bool = False
    finished: bool = False
    restarts: int = 0
    restart_at: float | None = None
    failure: str | None = None
    error: str | None = None  # NODE_FAILED's error text for downstream nodes
    signalled: bool = False  # we sent it a signal while stopping
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_TAIL))
    relays: list[threading.Thread] = field(default_factory=list)
    lines: _LineSender | None = None  # send_stdout_as
    records: _LineSender | None = None  # printed lines as `stdout` records for dora/logs inputs
    dropped: dict[str, int] = field(default_factory=dict)
    send_dropped: dict[str, int] = field(default_factory=dict)
    # `node restart` / `node stop` asked through the dataflow API: "restart" or "stop"
    requested: str | None = None
    # The node's latest counts (`stats`): received/queued per input, sent per output, and
    # when the node counted them (`t`: time.monotonic()).
    io: dict[str, Any] = field(default_factory=dict)
    # Records for `conn` that the node has not taken yet (never a blocking send: control.Outbox).
    outbox: control.Outbox | None = None

    def tell(self, message: dict[str, Any], *, keep: bool = False) -> bool:
        """Send ``message`` to the node if it is connected, without blocking (``control.Outbox``;
        ``keep``: never dropped, for ``stop``). False if not connected, gone or dropped."""
        conn = self.conn
        if conn is None:
            return False
        if self.outbox is None or self.outbox.sock is not conn:
            self.outbox = control.Outbox(conn)
        try:
            return self.outbox.send(message, keep=keep)
        except (OSError, ValueError):
            return False


class _Terminal:
    """Where node output and dora-ros's own lines are shown: stdout and stderr of ``dora-ros run``.

    A stream whose reader went away (``dora-ros run graph.yml | head -3``) is dropped quietly:
    the nodes, their logs, draining and cleanup go on as if it were still read.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.gone: set[int] = set()  # fds of the streams that failed

    def write(self, stream: IO[str], text: str) -> None:
        with self.lock:
            fd = stream.fileno() if not stream.closed else -1
            if fd in self.gone or fd < 0:
                return
            try:
                stream.write(text)
                stream.flush()
            except (OSError, ValueError):
                self.gone.add(fd)
                # Point the fd at /dev/null, so nothing fails again (Python's own flush at exit
                # would print "Exception ignored ... BrokenPipeError").
                with contextlib.suppress(OSError):
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, fd)
                    os.close(devnull)


class _LineSender:
    """Sends a node's output lines on its ``send_stdout_as`` output, on the node's behalf.

    The coordinator opens its own links to the subscribers, introducing itself as the node, so
    receivers see the lines as that node's output (as in dora-rs: stdout and stderr, one
    ``pa.StringArray`` of one line per message). A line longer than ``LINE_CHUNK`` characters
    goes as several messages, in order; lines printed before the dataflow started wait (at most
    ``EARLY_LINES``, then the oldest are dropped and counted) and go out at the start.

    Sends never block: this runs on the relay thread that also writes the node's log and drains
    its stdout pipe, so a blocked send would stop the log and then the node's own ``print``.
    Messages a receiver cannot take now wait for it (at most ``PENDING_MESSAGES`` per receiver,
    then the oldest are dropped), are retried at each line and, when the node ends, for at most
    ``CLOSE_WAIT`` seconds; drops are counted and reported in one line per receiver.
    """

    # Characters per message: at most 4 bytes each in UTF-8, so one chunk fits in one record.
    LINE_CHUNK = MAX_INLINE_RECORD // 8
    EARLY_LINES = 1000
    PENDING_MESSAGES = 1000
    CLOSE_WAIT = 1.0

    def __init__(
        self, coordinator: Coordinator, node: str, index: int, receivers: list[str],
        encode: Callable[[str], str] | None = None,
    ) -> None:  # fmt: skip
        self.coordinator = coordinator
        self.node = node
        self.index = index  # the output index receivers see (a log level's for log records)
        self.receivers = receivers
        self.encode = encode  # what a line (or a part of a long one) is sent as
        self.links: dict[str, Any] = {}  # receiver -> socket (or a machine run's Zenoh link)
        self.lock = threading.Lock()
        self.early: deque[str] = deque()
        self.early_dropped = 0
        self.pending: dict[str, deque[list[bytes]]] = {}  # receiver -> messages waiting for it
        self.dropped: dict[str, int] = {}  # receiver -> messages dropped
        for receiver in receivers:  # links made now, not at the first line (a machine run's)
            try:
                link = coordinator._line_link_ahead(node, receiver, index)
            except OSError:
                continue  # tried again at the first line
            if link is not None:
                self.links[receiver] = link

    def send(self, line: str) -> None:
        with self.lock:
            if not self.coordinator.started:
                self.early.append(line)
                if len(self.early) > self.EARLY_LINES:
                    self.early.popleft()
                    self.early_dropped += 1
                return
            self._send_early()
            self._send(line)

    def flush(self) -> None:
        """The dataflow started: send the lines printed before."""
        with self.lock:
            self._send_early()

    def _send_early(self) -> None:
        if self.early_dropped:
            self.coordinator._say(
                f"node {self.node!r}: {self.early_dropped} line(s) printed before the dataflow"
                f" started were not sent (send_stdout_as keeps the last {self.EARLY_LINES})"
            )
            self.early_dropped = 0
        while self.early:
            self._send(self.early.popleft())

    def _send(self, line: str) -> None:
        import pyarrow as pa  # only when a graph uses send_stdout_as

        from . import wire

        chunks = [line[i : i + self.LINE_CHUNK] for i in range(0, len(line), self.LINE_CHUNK)]
        for chunk in chunks or [""]:
            text = chunk if self.encode is None else self.encode(chunk)
            body = wire.ipc_bytes(pa.array([text]))
            header = wire.HEADER.pack(
                wire.KIND_INLINE, wire.ENC_IPC, self.index, 0, 0, time.time_ns(), len(body)
            )
            for receiver in self.receivers:
                pending = self.pending.setdefault(receiver, deque())
                pending.append([header, body])
                if len(pending) > self.PENDING_MESSAGES:
                    pending.popleft()
                    self.dropped[receiver] = self.dropped.get(receiver, 0) + 1
                self._flush(receiver)

    def _flush(self, receiver: str) -> bool:
        """Send what waits for ``receiver`` without blocking; True once nothing waits."""
        pending = self.pending.get(receiver)
        while pending:
            sock = self.links.get(receiver)
            try:
                if sock is None:
                    sock = self.coordinator._line_link(self.node, receiver, self.index)
                    self.links[receiver] = sock
                sock.sendmsg(pending[0], [], socket.MSG_DONTWAIT)
            except BlockingIOError:
                return False  # the receiver is behind: the message waits
            except OSError:  # the receiver is gone: what waits for it is lost
                gone = self.links.pop(receiver, None)
                if gone is not None:
                    gone.close()
                self.dropped[receiver] = self.dropped.get(receiver, 0) + len(pending)
                pending.clear()
                return True
            pending.popleft()
        return True

    def close(self) -> None:
        with self.lock:
            deadline = time.monotonic() + self.CLOSE_WAIT
            while not all([self._flush(r) for r in self.receivers]):
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.005)
            for receiver, pending in self.pending.items():
                self.dropped[receiver] = self.dropped.get(receiver, 0) + len(pending)
                pending.clear()
            for receiver, count in self.dropped.items():
                if count:
                    self.coordinator._say(
                        f"node {self.node!r}: {count} line(s) for {receiver!r} were dropped"
                        " (the receiver was too slow; a long line counts once per part)"
                    )
            self.dropped.clear()
            for sock in self.links.values():
                sock.close()
            self.links.clear()


class Coordinator:
    """Runs one dataflow from start to end; see the module docstring."""

    def __init__(
        self, dataflow: Dataflow, *, out_dir: Path | None, name: str | None,
        stop_after: float | None, uv: str | None = None, stop_after_start: bool = False,
    ) -> None:  # fmt: skip
        self.dataflow = dataflow
        # `run --uv`: the uv executable that starts `path:` nodes (`uv run ...`, as dora-rs does).
        self.uv = uv
        self.id = str(uuid.uuid4())
        self.name = name
        self.stop_after = stop_after
        # `record --stop-after`: counted from when every node is up, not from the start (on a
        # loaded machine a 2 s recording was all start-up, and recorded nothing)
        self.stop_after_start = stop_after_start
        self.log_dir = (out_dir or Path("out")) / self.id
        self.nodes = {spec.id: _NodeState(spec) for spec in dataflow.nodes}
        self.selector = selectors.DefaultSelector()
        self.terminal = _Terminal()
        self.started = False
        self.stopping_since: float | None = None
        self.escalation_step = 0
        self.escalation = stop_escalation()
        self.reaper: subprocess.Popen[str] | None = None
        self.threads: list[threading.Thread] = []
        self.api: Any = None  # the dataflow API (cluster/dataflow_api.py) while running

    # --- the dataflow API (cluster/dataflow_api.py) -------------------------------------------

    def _serve_api(self) -> None:
        """Serve the dataflow API: ``run`` on a local Unix socket, opened off the start-up path."""
        from ..cluster.dataflow_api import DataflowApi

        self.api = DataflowApi(self)

    def _api_id(self) -> str:
        """The dataflow id in the API's keys."""
        return self.id

    def _line_link(self, node: str, receiver: str, index: int) -> Any:
        """Where `_LineSender` sends ``node``'s lines (output ``index``) for ``receiver``: a
        socket to it, introducing ourselves as ``node`` (``sendmsg``, ``close``; OSError if it
        is gone, BlockingIOError while it cannot take more)."""
        return connect(socket_name(self.id, f"n/{receiver}"), node)

    def _line_link_ahead(self, node: str, receiver: str, index: int) -> Any:
        """A link `_LineSender` makes when the node is spawned, not at its first line: none
        here (a receiver's socket may not listen yet)."""
        return None

    def _api_machine(self) -> str:
        from ..cluster.dataflow_api import run_machine

        return run_machine()

    def _api_is_local(self, node_id: str) -> bool:
        """True for the nodes this supervisor runs (all of them for ``run``)."""
        return node_id in self.nodes

    # --- messages to nodes ----------------------------------------------------------------

    def _init_message(self, state: _NodeState) -> dict[str, Any]:
        spec = state.spec
        dataflow = self.dataflow
        inbound: dict[str, dict[str, list[str]]] = {}
        inputs = []
        for inp in spec.inputs:
            inputs.append(
                {
                    "id": inp.id,
                    "source_node": inp.source_node,
                    "timer": inp.timer.interval if inp.timer else None,
                    "queue_size": inp.queue_size,
                    "input_timeout": inp.input_timeout,
                }
            )
            if inp.source_node is not None and inp.source_output is not None:
                sender = dataflow.node(inp.source_node)
                index = str(list(sender.outputs).index(inp.source_output))
                inbound.setdefault(inp.source_node, {}).setdefault(index, []).append(inp.id)
        routes: dict[str, list[str]] = {}
        limits: dict[str, int] = {}
        for output in spec.outputs:
            receivers: list[str] = []
            for receiver, input_id in dataflow.subscribers(spec.id, output):
                if receiver not in receivers:
                    receivers.append(receiver)
                queue = dataflow.node(receiver).input(input_id).queue_size
                limits[receiver] = max(limits.get(receiver, 0), queue)
            routes[output] = receivers
        raw_inputs = spec.raw.get("inputs") or {}
        return {
            "op": "init",
            # The dataflow's id as users see it (`list`, `node.dataflow_id()`, log records): a
            # machine run's socket scope adds the machine to it (`<uuid>.<machine>`).
            "dataflow_id": self._api_id(),
            "restart_count": state.restarts,
            "inputs": inputs,
            "inbound": inbound,
            "outputs": list(spec.outputs),
            "routes": routes,
            "receiver_limits": limits,
            "ready": [n for n, s in self.nodes.items() if s.registered],
            "node_config": {"inputs": dict(raw_inputs), "outputs": sorted(spec.outputs)},
            "descriptor": dict(self.dataflow.raw),
        }

    def _broadcast(self, message: dict[str, Any], *, exclude: str | None = None) -> None:
        for node_id, state in self.nodes.items():
            if node_id != exclude:
                state.tell(message, keep=True)  # lifecycle: few, never dropped

    # --- processes ----------------------------------------------------------------------------

    def _command(self, spec: NodeSpec) -> list[str]:
        if spec.kind == "python":
            assert spec.resolved_path is not None
            python = [self.uv, "run", "python"] if self.uv else [sys.executable]
            return [*python, "-u", str(spec.resolved_path), *spec.args]
        if spec.kind == "extension":
            from .extensions import find_node_kind

            assert spec.extension is not None
            kind = find_node_kind(spec.extension[0])
            if kind is None:
                raise DescriptorError(
                    f"{spec.location}: node {spec.id!r}: nothing handles key {spec.extension[0]!r}"
                )
            return [*kind.command(spec, self.dataflow), *spec.args]
        executable = str(resolve_executable(spec, self.dataflow))
        return [*([self.uv, "run"] if self.uv else []), executable, *spec.args]

    def _env(self, state: _NodeState) -> dict[str, str]:
        from ..compat import compat_path

        env = dict(os.environ)
        env.update(state.spec.env)
        env[control.ENV_DATAFLOW_ID] = self.id
        env[control.ENV_NODE_ID] = state.spec.id
        env[control.ENV_RESTART_COUNT] = str(state.restarts)
        # `from dora import Node` gives dora-ros inside our nodes, even where dora-rs is installed.
        paths = [str(compat_path()), env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        env.setdefault("PYTHONUNBUFFERED", "1")
        # Console scripts of the venv running dora-ros (node-hub packages) are found without
        # activating it.
        env["PATH"] = os.pathsep.join([env.get("PATH", ""), str(Path(sys.executable).parent)])
        if self.uv and sys.prefix != sys.base_prefix:
            # `uv run` outside a uv project uses the active venv: dora-ros's own, unless one is
            # active, so nodes import what `dora-ros build --uv` installed (`--python` it).
            env["VIRTUAL_ENV"] = env.get("VIRTUAL_ENV") or sys.prefix
        return env

    def _spawn(self, state: _NodeState) -> None:
        spec = state.spec
        command = self._command(spec)
        log = LogFile.for_node(self.log_dir / f"log_{spec.id}.txt", spec.raw)
        proc = subprocess.Popen(
            command,
            cwd=node_working_dir(spec, self.dataflow),
            env=self._env(state),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_child_setup,
        )
        state.proc = proc
        self._tell_reaper(f"+{proc.pid}")
        state.registered = False
        state.pidfd = os.pidfd_open(proc.pid)
        self.selector.register(state.pidfd, selectors.EVENT_READ, ("exit", state))
        both = threading.Lock()
        open_streams = [2]  # the log closes when both streams have ended, under `both`
        output = spec.send_stdout_as
        lines = state.lines = None
        if output:
            receivers = sorted({r for r, _ in self.dataflow.subscribers(spec.id, output)})
            index = list(spec.outputs).index(output)
            lines = state.lines = _LineSender(self, spec.id, index, receivers)
        # What the node prints, as `stdout` log records for dora/logs inputs (node_logs).
        route = stdout_record_route(self.dataflow.raw, spec.raw, spec.id)
        state.records = None
        if route is not None:
            encode = functools.partial(stdout_record, self._api_id(), spec.id)
            state.records = _LineSender(self, spec.id, route[0], route[1], encode)
        senders = [x for x in (lines, state.records) if x is not None]
        self.threads = [t for t in self.threads if t.is_alive()]  # restarts must not pile up
        for stream, is_err in ((proc.stdout, False), (proc.stderr, True)):
            assert stream is not None
            thread = threading.Thread(
                target=self._relay,
                args=(state, stream, is_err, log, both, open_streams, senders),
                daemon=True,
            )
            thread.start()
            self.threads.append(thread)
            state.relays.append(thread)

    def _relay(
        self, state: _NodeState, stream: IO[bytes], is_err: bool, log: LogFile,
        log_lock: threading.Lock, open_streams: list[int], senders: list[_LineSender],
    ) -> None:  # fmt: skip
        out = sys.stderr if is_err else sys.stdout
        label = prefix(state.spec.id, colour_enabled(out))  # coloured on a terminal only
        # `--log-level` above `stdout` keeps what nodes print off the terminal, as in dora-rs
        # (the log file keeps it); nodes filter their own log records (node_logs).
        shown = is_err or not raw_output_hidden()
        for raw in iter(stream.readline, b""):
            with log_lock:
                if not log.closed:
                    log.write(raw)
                    log.flush()
            line = raw.decode(errors="replace").rstrip("\n")
            if is_err:
                state.stderr_tail.append(line)
            if shown:
                self.terminal.write(out, f"{label}{line}\n")
            for sender in senders:
                # stdout only for log records: the node's own records come on its stderr
                if not (is_err and sender is state.records):
                    sender.send(line)
        stream.close()
        with log_lock:
            # The last stream of the process to end closes the log: closing it with the first
            # lost the other stream's final lines (a node's last stderr line, printed as it exits).
            open_streams[0] -= 1
            if open_streams[0] == 0:
                log.close()
                for sender in senders:
                    sender.close()

    def _tell_reaper(self, line: str) -> None:
        if self.reaper is not None and self.reaper.stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                self.reaper.stdin.write(line + "\n")
                self.reaper.stdin.flush()

    def _signal(self, state: _NodeState, sig: signal.Signals) -> None:
        if state.proc is not None and state.proc.returncode is None:
            state.signalled = True
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(state.proc.pid, sig)

    # --- events -------------------------------------------------------------------------------

    def _on_connect(self, listener: socket.socket) -> None:
        conn, _ = listener.accept()
        if peer_uid(conn) != os.getuid():
            conn.close()
            return
        message = control.recv(conn)
        if message is None or message.get("op") != "register":
            conn.close()
            return
        node_id = message.get("node")
        state = self.nodes.get(node_id)  # type: ignore[arg-type]
        problem = None
        if state is None:
            problem = f"the dataflow has no node {node_id!r}"
        elif message.get("dynamic") and state.spec.kind != "dynamic":
            problem = f"node {node_id!r} is not a dynamic node (`path: dynamic`)"
        elif state.conn is not None:
            problem = f"node {node_id!r} is already running"
        if problem is not None or state is None:
            with contextlib.suppress(OSError):
                control.send(conn, {"op": "error", "message": problem})
            conn.close()
            return
        control.send(conn, self._init_message(state))  # the first record: the socket is empty
        state.conn = conn
        state.registered = True
        state.finished = False
        # Senders that ended for good before this node registered (e.g. failed at start-up):
        # their outputs are closed for it from the start.
        for other_id, other in self.nodes.items():
            if other.finished and other_id != node_id:
                state.tell(_closed_message(other), keep=True)
        self.selector.register(conn, selectors.EVENT_READ, ("conn", state))
        if self.started:
            ready = [n for n, s in self.nodes.items() if s.registered]
            state.tell({"op": "start", "ready": ready}, keep=True)
            self._broadcast({"op": "ready", "node": node_id}, exclude=node_id)
        else:
            self._maybe_start()
        if self.stopping_since is not None:  # came up late: it starts and stops at once
            state.tell({"op": "stop"}, keep=True)

    def _maybe_start(self) -> None:
        waiting = [
            s for s in self.nodes.values()
            if s.spec.kind != "dynamic" and not s.registered and not s.finished
        ]  # fmt: skip
        if not waiting:
            self.started = True
            ready = [n for n, s in self.nodes.items() if s.registered]
            self._broadcast({"op": "start", "ready": ready})
            for state in self.nodes.values():
                for sender in (state.lines, state.records):
                    if sender is not None:  # in a thread: a slow receiver must not stall us
                        thread = threading.Thread(target=sender.flush, daemon=True)
                        thread.start()
                        self.threads.append(thread)

    def _on_conn(self, state: _NodeState) -> None:
        assert state.conn is not None
        message = control.recv(state.conn)
        if message is None:
            self.selector.unregister(state.conn)
            state.conn.close()
            state.conn = None
            if state.spec.kind == "dynamic":
                self._finish(state)
            return
        if message.get("op") == "stats":
            _add_stats(state, message)

    def _on_exit(self, state: _NodeState) -> None:
        assert state.proc is not None and state.pidfd is not None
        self.selector.unregister(state.pidfd)
        os.close(state.pidfd)
        state.pidfd = None
        code = state.proc.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(state.proc.pid, signal.SIGKILL)  # children it left behind
        self._tell_reaper(f"-{state.proc.pid}")
        # Its last output lines (and send_stdout_as messages) go out before `closed` does: the
        # relay that ends last closes the senders, which may wait CLOSE_WAIT for a slow
        # receiver, so wait for that too (one deadline for both relays; before, 1 s each could
        # end first on a loaded machine, and `closed` overtook the last lines).
        grace = RELAY_GRACE + (_LineSender.CLOSE_WAIT if state.lines or state.records else 0.0)
        relays_deadline = time.monotonic() + grace
        for thread in state.relays:
            thread.join(timeout=max(0.0, relays_deadline - time.monotonic()))
        state.relays.clear()
        if state.conn is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(state.conn)
            # Stats the node sent just before exiting are still in the socket.
            while (message := _recv_nowait(state.conn)) is not None:
                if message.get("op") == "stats":
                    _add_stats(state, message)
            state.conn.close()
            state.conn = None
        policy = state.spec.restart_policy
        failed = code != 0
        wants = policy.mode == "always" or (policy.mode == "on-failure" and failed)
        allowed = policy.max_restarts is None or state.restarts < policy.max_restarts
        requested, state.requested = state.requested, None
        if requested is not None:  # `node restart|stop`: whatever the policy; not a failure
            wants, allowed, failed = requested == "restart", True, False
            state.signalled = False
        if wants and allowed and self.stopping_since is None:
            if self._inputs_all_closed(state):
                self._say(f"node {state.spec.id!r} exited with {_status(code)}; not restarting"
                          " it: all its inputs are closed")  # fmt: skip
            else:
                base = max(policy.restart_delay, RESTART_DELAY_FLOOR)
                cap = max(policy.restart_delay, RESTART_DELAY_CAP)
                delay = min(base * 2 ** min(state.restarts, 30), cap)
                state.restarts += 1
                state.restart_at = time.monotonic() + delay
                self._say(f"node {state.spec.id!r} exited with {_status(code)}; restarting it"
                          f" (restart {state.restarts})")  # fmt: skip
                self._broadcast({"op": "restarted", "node": state.spec.id})
                return
        if failed:
            how = "was stopped" if state.signalled else "failed"
            state.failure = f"node {state.spec.id!r} {how} with {_status(code)}"
            # Its stderr is on the terminal already (prefixed): name the last line, not again
            # the whole traceback.
            last = state.stderr_tail[-1].strip() if state.stderr_tail else ""
            log = self.log_dir / f"log_{state.spec.id}.txt"
            self._say(f"error: {state.failure}" + (f": {last}" if last else "") + f" (log: {log})")
            state.error = _failure_text(code, state.stderr_tail)
        self._finish(state)

    def _inputs_all_closed(self, state: _NodeState) -> bool:
        """True when the node has inputs from other nodes and all of them ended for good (as
        dora-rs 1.1, which then does not restart it). A node without inputs, or with a timer,
        has inputs that never close (dora-rs never restarts a node without inputs at all)."""
        inputs = state.spec.inputs
        return bool(inputs) and all(
            inp.source_node is not None and self.nodes[inp.source_node].finished for inp in inputs
        )

    def _finish(self, state: _NodeState) -> None:
        state.finished = True
        state.registered = False
        state.restart_at = None
        self._broadcast(_closed_message(state))
        if not self.started:
            self._maybe_start()

    def _say(self, text: str) -> None:
        self.terminal.write(sys.stderr, f"dora-ros: {text}\n")

    # --- stop ---------------------------------------------------------------------------------

    def stop(self) -> None:
        if self.stopping_since is None:
            self.stopping_since = time.monotonic()
            self._broadcast({"op": "stop"})
            for state in self.nodes.values():
                if state.restart_at is not None:
                    # Exited, waiting out its restart_delay: it is not restarted, and there is
                    # no process left to stop, so it ends here (the run waited for it for ever).
                    self._finish(state)
        else:  # asked twice: no more patience
            self.escalation_step = len(self.escalation) - 1
            for state in self.nodes.values():
                self._signal(state, signal.SIGKILL)

    def _escalate(self, now: float) -> None:
        assert self.stopping_since is not None
        waited = 0.0
        for step, (wait, sig) in enumerate(self.escalation):
            waited += wait
            if step < self.escalation_step:
                continue
            if now - self.stopping_since < waited:
                return
            alive = [s for s in self.nodes.values() if s.proc and s.proc.returncode is None
                     and s.pidfd is not None]  # fmt: skip
            if alive:
                names = ", ".join(repr(s.spec.id) for s in alive)
                self._say(
                    f"warning: {names} still running {waited:.0f} s after STOP; sending {sig.name}"
                )
            for state in alive:
                self._signal(state, sig)
            self.escalation_step = step + 1

    # --- main loop ----------------------------------------------------------------------------

    def run(self) -> int:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._link_log_dir()
        named = f" ({self.name})" if self.name else ""
        self._say(f"dataflow {self.id}{named} started; logs in {self.log_dir}/")
        listener = control.new_socket()
        listener.bind(socket_name(self.id, "ctl"))
        listener.listen(256)
        self.selector.register(listener, selectors.EVENT_READ, ("listen", None))
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        self.selector.register(wake_r, selectors.EVENT_READ, ("signal", None))
        self._serve_api()
        self.selector.register(self.api, selectors.EVENT_READ, ("api", None))
        old_wakeup = signal.set_wakeup_fd(wake_w.fileno())
        old_handlers = {
            sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        deadline = None
        if self.stop_after is not None and not self.stop_after_start:
            deadline = time.monotonic() + self.stop_after
        waiting = False  # records wait in outboxes: the loop retries them soon
        try:
            self.reaper = subprocess.Popen(
                [sys.executable, "-I", "-S", str(Path(__file__).with_name("reaper.py"))],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
                start_new_session=True,  # Ctrl-C in the terminal must not end it early
            )
            for state in self.nodes.values():
                if state.spec.kind != "dynamic":
                    self._spawn(state)
            self._maybe_start()
            while not self._done():
                now = time.monotonic()
                timeout = 0.01 if waiting else 0.2
                if deadline is None and self.stop_after is not None and self.started:
                    deadline = now + self.stop_after  # stop_after_start: every node is up
                if deadline is not None and self.stopping_since is None:
                    if now >= deadline:
                        self._say(f"stopping after {self.stop_after:g} s (--stop-after)")
                        self.stop()
                    timeout = min(timeout, max(0.0, deadline - now))
                for key, _ in self.selector.select(timeout):
                    what, state = key.data
                    if what == "listen":
                        self._on_connect(listener)
                    elif what == "conn":
                        self._on_conn(state)
                    elif what == "exit":
                        self._on_exit(state)
                    elif what == "api":
                        self.api.serve_pending()
                    elif what == "signal":
                        with contextlib.suppress(OSError):
                            wake_r.recv(64)
                        if self.stopping_since is None:
                            self._say(f"stopping {self.name or self.id}; Ctrl-C again kills")
                        self.stop()
                now = time.monotonic()
                for state in self.nodes.values():
                    if state.restart_at is not None and now >= state.restart_at:
                        state.restart_at = None
                        if self._inputs_all_closed(state):  # closed while it waited
                            self._say(f"node {state.spec.id!r}: not restarting it: all its"
                                      " inputs are closed")  # fmt: skip
                            self._finish(state)
                        else:
                            self._spawn(state)
                if self.stopping_since is not None:
                    self._escalate(now)
                self.api.tick(now)
                waiting = self._flush_outboxes()
        finally:
            for state in self.nodes.values():
                self._signal(state, signal.SIGKILL)
                if state.proc is not None:
                    with contextlib.suppress(Exception):
                        state.proc.wait(timeout=5)
            for thread in self.threads:
                thread.join(timeout=2)
            if self.reaper is not None:
                self._tell_reaper("exit")
                with contextlib.suppress(Exception):
                    self.reaper.stdin.close()  # type: ignore[union-attr]
                    self.reaper.wait(timeout=2)
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in old_handlers.items():
                signal.signal(sig, handler)
            listener.close()
            wake_r.close()
            wake_w.close()
            self.selector.unregister(self.api)
            self.api.close()
        return self._report()

    def _flush_outboxes(self) -> bool:
        """Retry the records waiting for nodes (``_NodeState.tell``); True while some wait."""
        waiting = False
        for state in self.nodes.values():
            outbox = state.outbox
            if outbox is not None and outbox.pending:
                if outbox.sock is not state.conn:
                    state.outbox = None  # that connection ended: its records with it
                elif outbox.flush():
                    waiting = True
        return waiting

    def _link_log_dir(self) -> None:
        """``out/latest`` and ``out/<name>`` point at this run's ``out/<id>`` (replaced
        atomically when an older run had them)."""
        for link_name in ("latest", self.name):
            if not link_name:
                continue
            link = self.log_dir.parent / link_name
            temporary = link.with_name(f".{link_name}.{self.id}")
            try:
                temporary.symlink_to(self.id, target_is_directory=True)
                os.replace(temporary, link)
            except OSError as err:
                with contextlib.suppress(OSError):
                    temporary.unlink()
                self._say(f"warning: cannot link {link} to {self.log_dir}: {err}")

    def _done(self) -> bool:
        for state in self.nodes.values():
            if state.spec.kind == "dynamic":
                if state.conn is not None:
                    return False
            elif not state.finished:
                return False
        return True

    def _report(self) -> int:
        for state in self.nodes.values():
            for input_id, count in sorted(state.dropped.items()):
                queue = state.spec.input(input_id).queue_size
                self._say(
                    f"node {state.spec.id!r} input {input_id!r}: dropped {count} message(s)"
                    f" (queue_size {queue}, oldest dropped first)"
                )
            for receiver, count in sorted(state.send_dropped.items()):
                self._say(
                    f"node {state.spec.id!r}: {count} message(s) for {receiver!r} were dropped"
                    " (receiver not running or too slow)"
                )
        failures = [s.failure for s in self.nodes.values() if s.failure]
        if failures:
            self._say(f"dataflow {self.id} failed: " + "; ".join(failures))
            return 1
        return 0


def _closed_message(state: _NodeState) -> dict[str, Any]:
    """``closed`` for the node of ``state``, with NODE_FAILED's error text when it failed."""
    message: dict[str, Any] = {"op": "closed", "node": state.spec.id}
    if state.error is not None:
        message["error"] = state.error
    return message


def _failure_text(code: int, stderr_tail: deque[str]) -> str:
    """The ``error`` of dora-rs 1.1's NODE_FAILED: ``exited with code 1 with stderr output:``
    and the last stderr lines between two lines of dashes."""
    how = f"exited with code {code}" if code >= 0 else f"exited because of {_status(code)}"
    if not stderr_tail:
        return how
    return f"{how} with stderr output:\n{_DASHES}\n" + "\n".join(stderr_tail) + f"\n{_DASHES}\n"


def _add_stats(state: _NodeState, message: dict[str, Any]) -> None:
    # Drops come as counts since the node's previous `stats`; the others as totals of its
    # process (for the dataflow API: `node info`, `top`).
    for key, target in (("dropped", state.dropped), ("send_dropped", state.send_dropped)):
        for name, count in message.get(key, {}).items():
            target[name] = target.get(name, 0) + int(count)
    for key in ("received", "queued", "sent"):
        if key in message:
            state.io[key] = {str(k): int(v) for k, v in message[key].items()}
    if "t" in message:
        state.io["t"] = float(message["t"])


def _recv_nowait(sock: socket.socket) -> dict[str, Any] | None:
    sock.setblocking(False)
    try:
        return control.recv(sock)
    except (BlockingIOError, OSError, ValueError):
        return None


def _status(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


def _deploy_value(spec: NodeSpec, dataflow: Dataflow, key: str) -> Any:
    """A ``deploy`` key of the node, else of the dataflow (its defaults for every node)."""
    for deploy in (spec.deploy, dataflow.deploy):
        if deploy and deploy.get(key) is not None:
            return deploy[key]
    return None


def node_working_dir(spec: NodeSpec, dataflow: Dataflow) -> Path:
    """Where the node starts: ``deploy.working_dir`` (relative to the graph's folder), else the
    graph's folder."""
    folder = _deploy_value(spec, dataflow, "working_dir")
    if folder is None:
        return dataflow.working_dir
    return dataflow.working_dir / os.path.expanduser(str(folder))


def _check_deploy(spec: NodeSpec, dataflow: Dataflow) -> None:
    machine = _deploy_value(spec, dataflow, "machine")
    here = socket.gethostname()
    if machine is not None and machine not in (here, here.split(".")[0], "localhost"):
        raise DescriptorError(
            f"{spec.location}: node '{spec.id}': deploy machine '{machine}' is not this machine"
            f" ('{here}'); dora-ros runs every node here until multi-machine support lands"
            " (remove `machine`, or run the graph on that machine)"
        )
    folder = node_working_dir(spec, dataflow)
    if not folder.is_dir():
        raise DescriptorError(
            f"{spec.location}: node '{spec.id}': deploy working_dir '{folder}' is not a folder"
        )


def run_dataflow(
    dataflow: Dataflow,
    *,
    stop_after: float | None = None,
    out_dir: Path | None = None,
    name: str | None = None,
    uv: str | None = None,
    stop_after_start: bool = False,
) -> int:
    """Run ``dataflow`` until every node ended or it is stopped; returns the exit status.

    ``uv`` is the uv executable to start ``path:`` nodes with (``run --uv``), or None;
    ``stop_after_start``: ``stop_after`` counts from when every node is up (``record``).
    """
    # Resolve every command first: a missing executable is an error before anything starts.
    if name is not None and (
        not name or name in ("latest", ".", "..") or "/" in name or name.startswith(".")
        or _UUID.match(name)
    ):  # fmt: skip
        raise DoraRosError(
            f"--name {name!r}: a run's name becomes the link out/<name>; use letters, digits, '-'"
            " or '_' (not 'latest', not a UUID, no '/', not starting with '.')"
        )
    coordinator = Coordinator(dataflow, out_dir=out_dir, name=name, stop_after=stop_after, uv=uv,
                              stop_after_start=stop_after_start)  # fmt: skip
    for spec in dataflow.nodes:
        if spec.kind == "executable":
            resolve_executable(spec, dataflow)
        _check_deploy(spec, dataflow)
    typed = [s.id for s in dataflow.nodes if "output_types" in s.raw or "input_types" in s.raw]
    if typed:
        names = ", ".join(repr(n) for n in typed)
        coordinator._say(
            f"note: output_types/input_types of {names} are annotations: dora-ros does not check"
            " the data against them (as dora-rs, which only warns)"
        )
    try:
        return coordinator.run()
    except DoraRosError:
        raise
    except OSError as err:
        raise DoraRosError(f"dataflow {dataflow.path}: {err}") from err
