"""``dora-ros coordinator``: the registry of daemons and dataflows, and the CLI's one address.

The coordinator is a Zenoh router listening on ``tcp/<interface>:<port>``; daemons, nodes with
edges to other machines and CLI commands connect to it (nodes then reach each other directly:
Zenoh peers learn of one another through it). It never carries a dataflow's data. It:

- watches daemons through their liveliness tokens (``dora-ros/daemon/<machine>``) and reports a
  machine lost when its token goes (a SIGKILLed daemon: at once; a partition: after Zenoh's lease);
- answers ``dora-ros/coordinator/api/<verb>``: ``start`` splits a graph by ``deploy.machine`` and
  asks each machine's daemon to run its part, ``list``, ``stop``, ``logs``, ``status``, ``destroy``;
- releases the start barrier once every machine's part is ready, and records how each ended;
- learns running dataflows back from their machine runs' liveliness tokens after a restart.

All requests and events are handled on one thread (``serve``), in arrival order.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from ..errors import DoraRosError
from ..runtime.descriptor import Dataflow, parse_dataflow
from . import keys
from .channel_reader import read_queryable, read_subscriber
from .messages import decode, encode, reply, request
from .zenoh_config import ClusterError, ZenohSettings, check_id

SPAWN_TIMEOUT = 10.0
# Each daemon is pinged this often and must answer within PING_TIMEOUT; one that does not is
# reported unreachable (a partition) until it answers again. Lost is Zenoh's call (its lease).
PING_PERIOD = 1.0
PING_TIMEOUT = 1.0
RUN_GONE_GRACE = 1.0
# Finished dataflows kept for `list` and `logs` (the oldest forgotten first).
FINISHED_KEPT = 100


def version() -> str:
    try:
        return metadata.version("dora-ros")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(eq=False)
class _Daemon:
    machine: str
    alive: bool = True
    since: float = field(default_factory=time.time)
    reachable: bool = True  # answered the last ping
    ping: Any = None  # the reply channel of the ping under way
    answered: bool = False  # the ping under way was answered
    version: str | None = None  # its dora-ros version and host, from its ping answers
    host: str | None = None


@dataclass(eq=False)
class _Record:
    id: str
    name: str | None
    graph: str
    placement: dict[str, str]
    started_at: float = field(default_factory=time.time)
    ready: set[str] = field(default_factory=set)
    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: str = "running"
    message: str = ""
    start_sent: bool = False
    learnt: bool = False  # learnt back from its machine runs after a restart (not started here)
    stop: dict[str, Any] | None = None  # the stop request, repeated until the dataflow ends
    graph_text: str | None = None  # the descriptor it was started with (for `restart`)
    out_dir: str | None = None
    node_status: dict[str, str] = field(default_factory=dict)  # node -> finished / failed
    usage: dict[str, tuple[float, int]] = field(default_factory=dict)  # machine -> (cpu, bytes)
    stop_sent: float = 0.0

    @property
    def machines(self) -> list[str]:
        return sorted(set(self.placement.values()))

    def row(self) -> dict[str, Any]:
        return {
            "uuid": self.id,
            "name": self.name,
            "status": self.status,
            "nodes": len(self.placement),
            "machines": self.machines,
            "graph": self.graph,
            "started_at": self.started_at,
            "message": self.message,
            "dropped": {k: v for d in self.done.values() for k, v in d.get("dropped", {}).items()},
            # Of the running nodes, summed over machines (updated every few seconds).
            "cpu": round(sum(c for c, _ in self.usage.values()), 1) if self.status == "running"
            else 0.0,
            "memory": sum(m for _, m in self.usage.values()) if self.status == "running" else 0,
        }  # fmt: skip


def placement(dataflow: Dataflow, alive: list[str]) -> dict[str, str]:
    """Node -> machine: ``deploy.machine`` of the node, else of the graph, else the only daemon."""
    default = (dataflow.deploy or {}).get("machine")
    result: dict[str, str] = {}
    for spec in dataflow.nodes:
        machine = (spec.deploy or {}).get("machine") or default
        if machine is None:
            if len(alive) == 1:
                machine = alive[0]
            elif not alive:
                raise ClusterError(
                    "no daemon is connected: start one with `dora-ros daemon --machine-id ID`"
                    " (or `dora-ros up`)"
                )
            else:
                raise ClusterError(
                    f"{spec.location}: node '{spec.id}' has no deploy.machine and"
                    f" {len(alive)} daemons are connected ({', '.join(alive)}): say where it runs"
                )
        if machine not in alive:
            connected = ", ".join(alive) or "none"
            raise ClusterError(
                f"{spec.location}: node '{spec.id}': deploy machine '{machine}' has no daemon"
                f" connected (connected: {connected}); start `dora-ros daemon --machine-id"
                f" {machine}` there"
            )
        result[spec.id] = str(machine)
    return result


class Coordinator:
    """The coordinator (module docstring)."""

    def __init__(self, settings: ZenohSettings) -> None:
        self.settings = settings
        self.daemons: dict[str, _Daemon] = {}
        self.dataflows: dict[str, _Record] = {}
        self.inbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self.stopping = threading.Event()
        self.session: Any = None
        self.gone_runs: list[tuple[float, str, str]] = []  # (when to judge, dataflow, machine)
        self.pinged = 0.0

    def say(self, text: str) -> None:
        print(f"dora-ros coordinator: {text}", file=sys.stderr, flush=True)

    def serve(self) -> int:
        self.session = self.settings.open("coordinator")
        old = {sig: signal.signal(sig, lambda *_: self.stopping.set())
               for sig in (signal.SIGINT, signal.SIGTERM)}  # fmt: skip
        session = self.session
        put = self.inbox.put
        # Read by threads of ours, never Python callbacks on Zenoh's threads
        # (channel_reader.py): a callback run while the interpreter finalized aborts it.
        entities: list[Any] = [
            read_queryable(
                session,
                keys.coordinator_api("*"),
                lambda q: put(("query", q)),
                name="coordinator-api",
            ),
            read_subscriber(session, keys.ALL_EVENTS, lambda s: put(("event", s)), name="events"),
            read_subscriber(
                session.liveliness(),
                keys.DAEMONS,
                lambda s: put(("daemon", s)),
                name="daemons",
                history=True,
            ),
            read_subscriber(
                session.liveliness(),
                keys.ALL_RUNS,
                lambda s: put(("run", s)),
                name="runs",
                history=True,
            ),
            session.liveliness().declare_token(keys.COORDINATOR),
        ]
        self.say(f"listening on {', '.join(self.settings.listen or ()) or 'Zenoh defaults'}")
        try:
            while not self.stopping.is_set():
                self._repeat_stops()
                self._check_gone_runs()
                self._ping()
                try:
                    kind, item = self.inbox.get(timeout=0.2)
                except queue.Empty:
                    continue
                try:
                    self._handle(kind, item)
                except Exception as err:  # one bad message must not end the coordinator
                    self.say(f"error handling {kind}: {type(err).__name__}: {err}")
            return 0
        finally:
            time.sleep(0.2)  # let the last replies and `destroy` leave
            for entity in entities:
                with contextlib.suppress(Exception):
                    entity.undeclare()
            with contextlib.suppress(Exception):
                session.close()
            for sig, handler in old.items():
                signal.signal(sig, handler)

    def _handle(self, kind: str, item: Any) -> None:
        import zenoh

        if kind == "query":
            self._answer(item)
        elif kind == "event":
            self._on_event(keys.last_chunk(item.key_expr), decode(item.payload))
        elif kind == "daemon":
            machine = keys.last_chunk(item.key_expr)
            if item.kind == zenoh.SampleKind.PUT:
                self.daemons[machine] = _Daemon(machine)
                self.say(f"daemon {machine!r} connected")
            else:
                self._machine_lost(machine)
        elif kind == "run":
            parts = str(item.key_expr).split("/")
            dataflow_id, machine = parts[-3], parts[-1]
            if item.kind == zenoh.SampleKind.PUT:
                known = self.dataflows.get(dataflow_id)
                if known is None or (known.learnt and machine not in known.ready):
                    self._learn(dataflow_id, machine)
            else:
                # Its daemon's token may go a moment later (a SIGKILLed daemon takes its runs
                # with it): judge after RUN_GONE_GRACE, so the machine is named as lost.
                self.gone_runs.append((time.monotonic() + RUN_GONE_GRACE, dataflow_id, machine))

    # --- daemons and machine runs -------------------------------------------------------------

    def _ping(self) -> None:
        """Ping every daemon each PING_PERIOD; collect the answers of pings under way.

        The replies come on a Zenoh channel read here, on the coordinator's loop (at most
        0.2 s late), not through a callback on Zenoh's threads (channel_reader.py says why).
        """
        import zenoh

        for daemon in self.daemons.values():
            if daemon.ping is None:
                continue
            try:
                while (answer := daemon.ping.try_recv()) is not None:
                    daemon.answered = daemon.answered or answer.ok is not None
                    if answer.ok is not None:
                        with contextlib.suppress(ValueError, AttributeError):
                            pong = decode(answer.ok.payload)
                            daemon.version, daemon.host = pong.get("version"), pong.get("host")
            except zenoh.ZError:  # the channel is empty and closed: the query has ended
                daemon.ping = None
                self._on_pong(daemon, daemon.answered)
        now = time.monotonic()
        if now - self.pinged < PING_PERIOD:
            return
        self.pinged = now
        for daemon in self.daemons.values():
            if not daemon.alive or daemon.ping is not None:
                continue
            daemon.answered = False
            daemon.ping = self.session.get(
                keys.daemon_api(daemon.machine, "ping"),
                zenoh.handlers.FifoChannel(4),
                timeout=PING_TIMEOUT,
            )

    def _on_pong(self, daemon: _Daemon, answered: bool) -> None:
        if not daemon.alive or answered == daemon.reachable:
            return
        daemon.reachable = answered
        if answered:
            self.say(f"machine {daemon.machine!r} reachable again")
        else:
            self.say(f"machine {daemon.machine!r} unreachable: no answer within"
                     f" {PING_TIMEOUT:g} s (a partition?)")  # fmt: skip

    def _check_gone_runs(self) -> None:
        now = time.monotonic()
        due = [g for g in self.gone_runs if g[0] <= now]
        self.gone_runs = [g for g in self.gone_runs if g[0] > now]
        for _, dataflow_id, machine in due:
            record = self.dataflows.get(dataflow_id)
            if record is None or machine in record.done or record.status != "running":
                continue
            record.done[machine] = {"code": 1, "failures": [
                f"the run on machine {machine!r} ended without reporting"]}  # fmt: skip
            control = keys.control(record.id)
            self.session.put(control, encode({"op": "machine_lost", "machine": machine}))
            self._send_stop(record, {})
            self._maybe_finished(record)

    def _send_stop(self, record: _Record, request: dict[str, Any]) -> None:
        record.stop = request
        record.stop_sent = time.monotonic()
        self.session.put(keys.control(record.id), encode({"op": "stop", **request}))

    def _repeat_stops(self) -> None:
        """A stop published before a machine run subscribed is lost: say it again each second."""
        now = time.monotonic()
        for record in self.dataflows.values():
            if record.status == "running" and record.stop and now - record.stop_sent > 1.0:
                self._send_stop(record, record.stop)

    def _machine_lost(self, machine: str) -> None:
        daemon = self.daemons.get(machine)
        if daemon is not None:
            daemon.alive = False
        self.say(f"machine {machine!r} lost: its daemon stopped answering")
        for record in self.dataflows.values():
            if record.status != "running" or machine not in record.machines:
                continue
            if machine not in record.done:
                record.done[machine] = {"code": 1, "lost": True,
                                        "failures": [f"machine {machine!r} lost"]}  # fmt: skip
            control = keys.control(record.id)
            self.session.put(control, encode({"op": "machine_lost", "machine": machine}))
            self._send_stop(record, {})
            self._maybe_finished(record)

    def _learn(self, dataflow_id: str, machine: str) -> None:
        """A machine run we do not know (we restarted): ask it what it runs."""
        try:
            info = request(self.session, keys.run(dataflow_id, machine), {}, timeout=2.0,
                           what=f"dataflow {dataflow_id} on {machine}")  # fmt: skip
        except ClusterError as err:
            self.say(f"cannot learn dataflow {dataflow_id} back: {err}")
            return
        record = self.dataflows.get(dataflow_id)
        if record is None:
            record = _Record(dataflow_id, info.get("name"), str(info.get("graph")),
                             dict(info.get("placement") or {}))  # fmt: skip
            record.learnt = True
            self.dataflows[dataflow_id] = record
            self.say(f"learnt back dataflow {dataflow_id} ({record.name or 'no name'})")
        # A run's `ready` event may have been lost while we were down: its description says.
        # Once every part is ready (or started), `start` is sent; a part already started
        # ignores it, so the barrier is released even when we died before sending it.
        if info.get("ready") or info.get("started"):
            record.ready.add(machine)
            self._release_barrier(record)

    def _release_barrier(self, record: _Record) -> None:
        if not record.start_sent and record.ready >= set(record.machines):
            record.start_sent = True
            self.session.put(keys.control(record.id), encode({"op": "start"}))

    def _on_event(self, machine: str, message: dict[str, Any]) -> None:
        dataflow_id = message.get("dataflow") or ""
        record = self.dataflows.get(dataflow_id)
        if record is None:
            return
        op = message.get("op")
        if op == "ready":
            record.ready.add(machine)
            self._release_barrier(record)
        elif op == "usage":
            record.usage[machine] = (float(message.get("cpu", 0)), int(message.get("memory", 0)))
        elif op == "node_finished":
            node = str(message.get("node"))
            record.node_status[node] = "failed" if message.get("failure") else "finished"
        elif op == "done":
            if machine not in record.done:
                record.done[machine] = message
            self._maybe_finished(record)

    def _maybe_finished(self, record: _Record) -> None:
        if record.status != "running" or not set(record.machines) <= set(record.done):
            return
        failures = [f for m in record.machines for f in record.done[m].get("failures", [])]
        failed = any(record.done[m].get("code", 1) != 0 for m in record.machines)
        record.status = "failed" if failed else "finished"
        record.message = "; ".join(failures)
        self.session.put(keys.status(record.id), encode(record.row()))
        self.say(f"dataflow {record.id} {record.status}" + (f": {record.message}"
                                                          if record.message else ""))  # fmt: skip
        finished = [r for r in self.dataflows.values() if r.status != "running"]
        for old in finished[: max(0, len(finished) - FINISHED_KEPT)]:
            del self.dataflows[old.id]

    # --- requests -----------------------------------------------------------------------------

    def _answer(self, query: Any) -> None:
        verb = keys.last_chunk(query.key_expr)
        try:
            message = decode(query.payload)
            handler = getattr(self, f"_api_{verb}", None)
            if handler is None:
                raise ClusterError(f"coordinator: unknown request {verb!r}")
            answer = handler(message)
        except DoraRosError as err:
            answer = {"error": str(err)}
        except (ValueError, KeyError, TypeError) as err:
            answer = {"error": f"coordinator: malformed {verb} request: {err}"}
        reply(query, answer)

    def _alive(self) -> list[str]:
        return sorted(m for m, d in self.daemons.items() if d.alive)

    def find(self, target: str, *, running: bool) -> _Record:
        """A dataflow by UUID or name (the newest of that name)."""
        record = self.dataflows.get(target)
        if record is None:
            named = [r for r in self.dataflows.values() if r.name == target]
            if running:
                named = [r for r in named if r.status == "running"]
            record = max(named, key=lambda r: r.started_at) if named else None
        if record is None:
            which = "running dataflow" if running else "dataflow"
            raise ClusterError(f"no {which} is called {target!r} (see `dora-ros list`)")
        return record

    def _api_start(self, message: dict[str, Any]) -> dict[str, Any]:
        name = message.get("name")
        if name is not None:
            check_id("dataflow name", name)
            if any(r.name == name and r.status == "running" for r in self.dataflows.values()):
                raise ClusterError(f"a dataflow called {name!r} is already running")
        graph = Path(message["graph_path"])
        dataflow = parse_dataflow(message["graph_text"], graph, check_paths=False)  # structure
        where = placement(dataflow, self._alive())
        dataflow_id = str(uuid.uuid4())
        record = _Record(dataflow_id, name, str(graph), where)
        record.graph_text = message["graph_text"]
        record.out_dir = message.get("out_dir")
        self.dataflows[dataflow_id] = record
        started: list[str] = []
        try:
            for machine in record.machines:
                request(
                    self.session, keys.daemon_api(machine, "spawn"),
                    {"id": dataflow_id, "name": name, "machine": machine,
                     "graph_text": message["graph_text"], "graph_path": str(graph),
                     "placement": where, "out_dir": message.get("out_dir")},
                    timeout=SPAWN_TIMEOUT, what=f"daemon {machine!r}",
                )  # fmt: skip
                started.append(machine)
        except ClusterError:
            del self.dataflows[dataflow_id]
            if started:
                for _ in range(3):  # no record to repeat it: a few times now
                    self.session.put(keys.control(dataflow_id),
                                     encode({"op": "stop", "force": True}))  # fmt: skip
                    time.sleep(0.3)
            raise
        self.say(f"started dataflow {dataflow_id} ({name or 'no name'}) on {', '.join(started)}")
        return {"uuid": dataflow_id, "name": name, "machines": started}

    def _api_list(self, message: dict[str, Any]) -> dict[str, Any]:
        rows = [r.row() for r in sorted(self.dataflows.values(), key=lambda r: r.started_at)]
        return {"dataflows": rows}

    def _api_stop(self, message: dict[str, Any]) -> dict[str, Any]:
        if message.get("all"):
            records = [r for r in self.dataflows.values() if r.status == "running"]
        else:
            records = [self.find(str(message["target"]), running=True)]
        for record in records:
            request = {"force": bool(message.get("force")), "grace": message.get("grace")}
            self._send_stop(record, request)
        return {"stopping": [r.id for r in records]}

    def _api_logs(self, message: dict[str, Any]) -> dict[str, Any]:
        record = self.find(str(message["target"]), running=False)
        node = message.get("node")
        nodes = [node] if node else sorted(record.placement)
        out_dir = message.get("out_dir") or str(Path(record.graph).parent / "out")
        logs = []
        for node_id in nodes:
            machine = record.placement.get(node_id)
            if machine is None:
                raise ClusterError(f"dataflow {record.id} has no node {node_id!r}")
            answer = request(
                self.session, keys.daemon_api(machine, "logs"),
                {"id": record.id, "node": node_id, "tail": message.get("tail"),
                 "out_dir": out_dir},
                timeout=5.0, what=f"daemon {machine!r}",
            )  # fmt: skip
            logs.append({"node": node_id, "machine": machine, "text": answer.get("text", ""),
                         "missing": bool(answer.get("missing"))})  # fmt: skip
        return {"uuid": record.id, "logs": logs}

    def _api_descriptor(self, message: dict[str, Any]) -> dict[str, Any]:
        record = self.find(str(message["target"]), running=False)
        if record.graph_text is None:
            raise ClusterError(f"dataflow {record.id} was learnt back after a coordinator"
                               " restart: its descriptor is not known here; start it again")  # fmt: skip
        return {"uuid": record.id, "name": record.name, "graph_path": record.graph,
                "graph_text": record.graph_text, "out_dir": record.out_dir,
                "status": record.status}  # fmt: skip

    def _api_nodes(self, message: dict[str, Any]) -> dict[str, Any]:
        target = message.get("target")
        if target:
            records = [self.find(str(target), running=False)]
        else:
            records = [r for r in self.dataflows.values() if r.status == "running"]
        rows = []
        for record in records:
            for node, machine in sorted(record.placement.items()):
                status = record.node_status.get(node)
                if status is None:
                    status = "running" if record.status == "running" else record.status
                rows.append({"node": node, "dataflow": record.name or record.id,
                             "uuid": record.id, "machine": machine, "status": status})  # fmt: skip
        return {"nodes": rows}

    def _api_status(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "coordinator": {"version": version(), "zid": str(self.session.zid()),
                            "listen": list(self.settings.listen or ()),
                            "host": socket.gethostname()},
            "daemons": [{"machine": d.machine, "alive": d.alive, "since": d.since,
                         "reachable": d.reachable, "version": d.version, "host": d.host}
                        for d in sorted(self.daemons.values(), key=lambda d: d.machine)],
            "running": sum(r.status == "running" for r in self.dataflows.values()),
        }  # fmt: skip

    def _api_destroy(self, message: dict[str, Any]) -> dict[str, Any]:
        self.session.put(keys.DESTROY, b"{}")
        self.stopping.set()
        return {"ok": True}
