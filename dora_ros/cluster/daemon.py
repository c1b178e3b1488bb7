"""``dora-ros daemon``: one per machine; runs the parts of dataflows the coordinator places on it.

The daemon is a Zenoh peer of the coordinator (a router). It waits for the coordinator, refuses
to start when another daemon already holds its machine id, then holds the liveliness token
``dora-ros/daemon/<machine>`` (its presence: when it goes, the coordinator reports the machine
lost) and answers queries on ``dora-ros/daemon/<machine>/api/*``:

- ``spawn``: check the graph's part for this machine (executables, working folders), run its
  nodes' ``build`` lines (``runtime/build.py``) and start a ``machine_run`` process for it (the
  runtime's supervisor; ``machine_run.py``);
- ``logs``: the tail of a node's log file;
- ``runs``: the dataflows it runs.

Queries are answered on the daemon's main thread (children are started there: the parent-death
signal of a child follows the thread that started it). A machine run dies with the daemon
(parent-death signal), and its nodes with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import DoraRosError
from ..runtime.build import build_dataflow
from ..runtime.descriptor import Dataflow, parse_dataflow
from . import keys
from .channel_reader import read_queryable, read_subscriber
from .messages import decode, reply, request
from .node_paths import resolve_here
from .zenoh_config import ClusterError, ZenohSettings

# How long a daemon waits to see whether its machine id is taken.
DUPLICATE_CHECK_TIMEOUT = 1.0
_PR_SET_PDEATHSIG = 1


def _version() -> str:
    from .coordinator import version

    return version()


def _die_with_parent() -> None:  # in the child, between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


@dataclass(eq=False)
class _Run:
    dataflow_id: str
    name: str | None
    graph: Path
    out_dir: Path
    proc: subprocess.Popen[bytes]


class Daemon:
    """A machine's daemon (module docstring). ``serve()`` runs until SIGINT/SIGTERM or ``down``."""

    def __init__(self, machine: str, settings: ZenohSettings, node_settings: ZenohSettings):
        self.machine = machine
        self.settings = settings
        self.node_settings = node_settings
        self.runs: dict[str, _Run] = {}
        self.inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.stopping = threading.Event()

    def say(self, text: str) -> None:
        print(f"dora-ros daemon {self.machine}: {text}", file=sys.stderr, flush=True)

    def serve(self) -> int:
        session = self.settings.open(f"daemon {self.machine}")
        try:
            return self._serve(session)
        finally:
            with contextlib.suppress(Exception):
                session.close()

    def _serve(self, session: Any) -> int:
        old = {sig: signal.signal(sig, lambda *_: self.stopping.set())
               for sig in (signal.SIGINT, signal.SIGTERM)}  # fmt: skip
        try:
            if not self._wait_for_coordinator(session):
                return 0
            # The coordinator's list of daemons is the authority (a liveliness query right
            # after connecting may not see the other daemon's token yet).
            status = request(session, keys.coordinator_api("status"), {},
                             timeout=DUPLICATE_CHECK_TIMEOUT * 5, what="coordinator")  # fmt: skip
            if any(d["machine"] == self.machine and d["alive"] for d in status["daemons"]):
                raise ClusterError(
                    f"daemon: machine id {self.machine!r} is taken by another running daemon;"
                    " give this one another --machine-id"
                )
            # Read by threads of ours, never Python callbacks on Zenoh's threads
            # (channel_reader.py): a callback run while the interpreter finalized aborts it.
            entities: list[Any] = [
                read_queryable(
                    session, keys.daemon_api(self.machine, "*"), self.inbox.put, name="daemon-api"
                ),
                read_subscriber(
                    session, keys.DESTROY, lambda _: self.stopping.set(), name="destroy"
                ),
                session.liveliness().declare_token(keys.daemon(self.machine)),
            ]
            self.say("ready")
            try:
                while not self.stopping.is_set():
                    try:
                        query = self.inbox.get(timeout=0.1)
                    except queue.Empty:
                        self._reap()
                        continue
                    self._answer(query)
            finally:
                for entity in entities:
                    with contextlib.suppress(Exception):
                        entity.undeclare()
                self._stop_runs()
            return 0
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)

    def _wait_for_coordinator(self, session: Any) -> bool:
        said = False
        while not self.stopping.is_set():
            if any(r.ok is not None for r in session.liveliness().get(keys.COORDINATOR,
                                                                       timeout=1.0)):  # fmt: skip
                return True
            if not said:
                where = ", ".join(self.settings.connect) or "multicast scouting"
                self.say(f"waiting for the coordinator ({where})")
                said = True
            time.sleep(0.2)
        return False

    def _answer(self, query: Any) -> None:
        verb = keys.last_chunk(query.key_expr)
        try:
            request = decode(query.payload)
            if verb == "spawn":
                answer = self._spawn(request)
            elif verb == "logs":
                answer = self._logs(request)
            elif verb == "ping":
                answer = {"ok": True, "version": _version(), "host": socket.gethostname()}
            elif verb == "runs":
                answer = {"runs": [{"id": r.dataflow_id, "name": r.name,
                                    "running": r.proc.poll() is None}
                                   for r in self.runs.values()]}  # fmt: skip
            else:
                answer = {"error": f"daemon {self.machine}: unknown request {verb!r}"}
        except DoraRosError as err:
            answer = {"error": str(err)}
        except (ValueError, KeyError, TypeError) as err:
            answer = {"error": f"daemon {self.machine}: malformed {verb} request: {err}"}
        reply(query, answer)

    def _spawn(self, request: dict[str, Any]) -> dict[str, Any]:
        machine = request["machine"]
        dataflow_id = request["id"]
        if machine != self.machine:
            raise ClusterError(
                f"daemon {self.machine!r} was sent the part of dataflow {dataflow_id} for machine"
                f" {machine!r}, which it is not"
            )
        if dataflow_id in self.runs:
            raise ClusterError(f"daemon {self.machine!r}: dataflow {dataflow_id} already runs here")
        graph = Path(request["graph_path"])
        dataflow = parse_dataflow(request["graph_text"], graph, check_paths=False)
        placement: dict[str, str] = request["placement"]
        dataflow = resolve_here(dataflow, self.machine, placement)  # this machine's paths
        out_dir = Path(request.get("out_dir") or graph.parent / "out")
        out_dir.joinpath(dataflow_id).mkdir(parents=True, exist_ok=True)
        terminal = open(out_dir / dataflow_id / f"machine_{self.machine}.txt", "ab")
        try:
            self._build(dataflow, placement, terminal)
        except BaseException:
            terminal.close()
            raise
        run_spec = dict(request)
        run_spec["out_dir"] = str(out_dir)
        # The machine run listens where the nodes do (the daemon's addresses, any port): with no
        # listen endpoints Zenoh listens on every interface and advertises every address (IPv6
        # link-local, container bridges) to the other machines.
        run_spec["zenoh"] = self.node_settings.to_json()
        run_spec["node_zenoh"] = self.node_settings.to_json()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "dora_ros.cluster.machine_run"],
                stdin=subprocess.PIPE,
                stdout=terminal,
                stderr=subprocess.STDOUT,
                # The graph's folder is the CLI's: it need not exist on this machine.
                cwd=str(graph.parent if graph.parent.is_dir() else out_dir / dataflow_id),
                preexec_fn=_die_with_parent,
            )
        finally:
            terminal.close()
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(run_spec).encode())
        proc.stdin.close()
        self.runs[dataflow_id] = _Run(dataflow_id, request.get("name"), graph, out_dir, proc)
        count = sum(m == self.machine for m in placement.values())
        self.say(f"started dataflow {dataflow_id} ({count} node(s))")
        return {"ok": True, "pid": proc.pid}

    def _build(self, dataflow: Dataflow, placement: dict[str, str], terminal: IO[bytes]) -> None:
        """Run the ``build`` lines of this machine's nodes here, as ``dora-ros build`` does.

        Before anything of the dataflow starts (within the coordinator's spawn timeout); the
        output goes to the run's terminal file; a failing line is a ``BuildError`` naming the
        node and the line, which the coordinator reports and the dataflow does not start.
        """
        mine = tuple(n for n in dataflow.nodes if placement.get(n.id) == self.machine and n.build)
        if not mine:
            return

        def echo(line: str) -> None:
            terminal.write(line.encode(errors="replace") + b"\n")

        count = build_dataflow(dataclasses.replace(dataflow, nodes=mine), echo=echo)
        terminal.flush()
        self.say(f"ran {count} build line(s) for {len(mine)} node(s)")

    def _logs(self, request: dict[str, Any]) -> dict[str, Any]:
        dataflow_id = request["id"]
        node = request["node"]
        run = self.runs.get(dataflow_id)
        out_dir = run.out_dir if run else Path(request.get("out_dir") or ".")
        path = out_dir / dataflow_id / f"log_{node}.txt"
        try:
            data = path.read_bytes()
        except FileNotFoundError as err:
            if run is not None:  # not spawned yet (the run starts its nodes after `start`)
                return {"text": "", "path": str(path), "missing": True}
            raise ClusterError(f"machine {self.machine!r}: no log of node {node!r} of dataflow"
                               f" {dataflow_id} in {path.parent}") from err  # fmt: skip
        except OSError as err:
            raise ClusterError(f"machine {self.machine!r}: cannot read the log of node {node!r}"
                               f" ({path}): {err.strerror or err}") from err  # fmt: skip
        text = data.decode(errors="replace")
        tail = request.get("tail")
        if tail is not None:
            text = "".join(text.splitlines(keepends=True)[-int(tail) :]) if int(tail) > 0 else ""
        return {"text": text, "path": str(path)}

    def _reap(self) -> None:
        for dataflow_id, run in list(self.runs.items()):
            code = run.proc.poll()
            if code is not None:
                del self.runs[dataflow_id]
                if code < 0:  # its own status reached the coordinator (or not): say how it ended
                    self.say(f"dataflow {dataflow_id}: its run process ended by signal"
                             f" {signal.Signals(-code).name}")  # fmt: skip

    def _stop_runs(self) -> None:
        for run in self.runs.values():
            if run.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    run.proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        for run in self.runs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                run.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            if run.proc.poll() is None:
                run.proc.kill()
                run.proc.wait()
