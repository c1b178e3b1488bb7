"""The dataflow API: verbs on a running dataflow, answered by its supervisor over Zenoh.

Every supervisor serves it: ``dora-ros run``'s ``Coordinator`` and a daemon's ``MachineRun``
(both ``runtime/supervisor.py``). A verb is a Zenoh queryable
``dora-ros/df/<id>/run/<machine>/api/<verb>`` (``keys.run_api``): a JSON object in, a JSON object
out, ``{"error": "..."}`` when it fails (``messages.request`` turns that into a ``ClusterError``).
Tools find a dataflow and query it with ``dora_ros.tools.dataflows`` (``resolve``, ``query``).

Where the API lives:

- a daemon's machine run declares the queryables on the session it already has (a peer of the
  coordinator: the CLI reaches it through the coordinator's router);
- ``dora-ros run`` has no network presence: a thread (off the start-up path) opens a Zenoh
  session with multicast scouting off and no connect endpoints, listening only on
  ``unixsock-stream/<runtime dir>/<uuid>.sock``, and then writes ``<runtime dir>/runs/<uuid>.json``
  (id, name, pid, machine, endpoint, graph, start time), removed at exit. The runtime dir is
  ``$XDG_RUNTIME_DIR/dora-ros`` or ``/tmp/dora-ros-<uid>`` (mode 0700); ``registry_entries`` reads
  it and removes files whose process is gone. Where that socket path would not fit in a Unix
  socket address (over 107 bytes: a long ``XDG_RUNTIME_DIR``), the socket goes to
  ``/tmp/dora-ros-<uid>`` (the registry file still names it).

Adding a verb (in any module; the verb table is shared)::

    from dora_ros.cluster.dataflow_api import ApiError, verb

    @verb("tap")
    def _tap(sup: Coordinator, request: dict[str, Any]) -> dict[str, Any]:
        node = node_state(sup, request)          # the NodeState, or ApiError naming the node
        ...
        return {"ok": True}

then add the module to ``VERB_MODULES`` below, so a supervisor imports it before serving.
Work that must happen on its own (a lease that expires, metrics sampled each second) registers
with ``@periodic(seconds)``: ``fn(sup, api, now)`` runs on the supervisor's thread at most that
often. A module keeps its running state in ``api.state[<its name>]`` (one API per supervisor).
A handler runs on the supervisor's own thread, between two turns of its loop (``serve_pending``),
so it may read and change the supervisor's state (``sup.nodes``, control records to nodes) without
locks; it must not block (the loop waits for it). Raise ``ApiError`` (or any ``DoraRosError``) for
a one-line error reply; any other exception is replied as an internal error and logged.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import queue
import socket
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DoraRosError
from . import keys
from .channel_reader import ChannelReader, read_queryable
from .messages import decode, encode, reply
from .zenoh_config import ZenohSettings

if TYPE_CHECKING:
    from ..runtime.supervisor import Coordinator, _NodeState

Handler = Callable[["Coordinator", dict[str, Any]], dict[str, Any]]

# verb -> handler: every verb of every module, filled by @verb at import.
VERBS: dict[str, Handler] = {}
# Modules that define verbs; a supervisor imports them before it serves.
VERB_MODULES: tuple[str, ...] = (
    "dora_ros.cluster.dataflow_api", "dora_ros.cluster.tap_server", "dora_ros.cluster.node_verbs",
)  # fmt: skip
# (period in seconds, fn(sup, api, now)): work the supervisor's loop runs at most that often.
PERIODIC: list[tuple[float, Callable[[Coordinator, DataflowApi, float], None]]] = []
# A query not answered by the supervisor's loop within this long gets an error (a stuck loop).
ANSWER_TIMEOUT = 5.0
# A socket with no registry file this old belongs to a run that was killed while starting.
ORPHAN_SOCKET_AGE = 60.0
# Pending queries kept at most; more are refused at once (a flood must not grow memory).
MAX_PENDING = 256


class ApiError(DoraRosError):
    """A dataflow API request names something the dataflow does not have, or is malformed."""


def verb(name: str) -> Callable[[Handler], Handler]:
    """Register ``handler`` as verb ``name`` (see the module docstring)."""

    def register(handler: Handler) -> Handler:
        if name in VERBS and VERBS[name] is not handler:
            raise ValueError(f"dataflow API verb {name!r} is defined twice")
        VERBS[name] = handler
        return handler

    return register


def periodic(seconds: float) -> Callable[[Any], Any]:
    """Run the decorated ``fn(sup, api, now)`` every ``seconds`` on the supervisor's thread."""

    def register(fn: Any) -> Any:
        if all(f is not fn for _, f in PERIODIC):
            PERIODIC.append((seconds, fn))
        return fn

    return register


def node_state(sup: Coordinator, request: dict[str, Any]) -> _NodeState:
    """The supervisor's state of ``request["node"]``, or an ApiError naming the known nodes."""
    node = request.get("node")
    state = sup.nodes.get(str(node)) if node is not None else None
    if state is None or not sup._api_is_local(str(node)):
        raise ApiError(
            no_node(sup._api_id(), str(node), [n for n in sup.nodes if sup._api_is_local(n)])
        )
    return state


def no_node(dataflow: str, node: str, nodes: list[str]) -> str:
    """``dataflow X has no node 'y' (did you mean 'z'?) (nodes: a, b)``, nodes sorted."""
    from ..runtime.descriptor import closest

    return (f"dataflow {dataflow} has no node {node!r}{closest(node, nodes)}"
            f" (nodes: {', '.join(sorted(nodes))})")  # fmt: skip


# --- where `run` keeps its endpoint ------------------------------------------------------------


def runtime_dir() -> Path:
    """``$XDG_RUNTIME_DIR/dora-ros``, else ``/tmp/dora-ros-<uid>``; created with mode 0700."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    folder = Path(base) / "dora-ros" if base else Path(f"/tmp/dora-ros-{os.getuid()}")
    (folder / "runs").mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    return folder


def run_machine() -> str:
    """The machine id of a ``dora-ros run``: the host name's first label, else ``local``."""
    name = socket.gethostname().split(".")[0]
    return name if name and not any(c in name for c in "/*$#?@ \t\n") else "local"


def registry_entries() -> list[dict[str, Any]]:
    """The running ``dora-ros run`` dataflows of this user, oldest first; files of dead runs are
    removed."""
    entries = []
    folder = runtime_dir() / "runs"
    for path in folder.glob("*.json"):
        try:
            entry = json.loads(path.read_text())
            pid = int(entry["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being written, or not ours
        if not _alive(pid):
            with contextlib.suppress(OSError):
                path.unlink()
            endpoint = str(entry.get("endpoint", ""))
            if endpoint.startswith(_UNIXSOCK) and endpoint.endswith(f"/{path.stem}.sock"):
                _remove_socket(Path(endpoint[len(_UNIXSOCK) :]))
            continue
        entries.append(entry)
    # A socket without its file for a while: a run killed before it wrote the file.
    for sock in folder.parent.glob("*.sock"):
        with contextlib.suppress(OSError):
            if not (folder / f"{sock.stem}.json").exists() and (
                time.time() - sock.lstat().st_mtime > ORPHAN_SOCKET_AGE
            ):
                _remove_socket(sock)
    return sorted(entries, key=lambda e: e.get("started_at", 0))


_UNIXSOCK = "unixsock-stream/"
# A Unix socket's path holds at most 107 bytes (sun_path).
_SUN_PATH = 107


def socket_path(folder: Path, dataflow_id: str) -> Path:
    """Where a run's socket goes: the runtime dir, or ``/tmp/dora-ros-<uid>`` when that path
    would not fit in a Unix socket address (a long ``XDG_RUNTIME_DIR``)."""
    path = folder / f"{dataflow_id}.sock"
    if len(os.fsencode(path)) <= _SUN_PATH:
        return path
    short = Path(f"/tmp/dora-ros-{os.getuid()}")
    short.mkdir(exist_ok=True, mode=0o700)
    os.chmod(short, 0o700)
    return short / f"{dataflow_id}.sock"


def _remove_socket(path: Path) -> None:
    """A run's socket and the lock file Zenoh keeps beside it."""
    for each in (path, path.with_name(path.name + ".lock")):
        with contextlib.suppress(OSError):
            each.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not running.
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


# --- the server --------------------------------------------------------------------------------


class DataflowApi:
    """The API of one supervisor. ``serve_pending`` runs on the supervisor's loop; ``close``
    at its end. With ``session=None`` (``dora-ros run``) it opens its own local session in a
    thread and registers the run (module docstring)."""

    def __init__(self, sup: Coordinator, *, session: Any = None) -> None:
        self.sup = sup
        self.dataflow_id = sup._api_id()
        self.machine = sup._api_machine()
        self.session = session
        self.own_session = session is None
        self.pending: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        self.closed = threading.Event()
        self.lock = threading.Lock()
        self.queryable: ChannelReader | None = None
        self.registry: Path | None = None
        self.socket_path: Path | None = None
        self.thread: threading.Thread | None = None
        self.state: dict[str, Any] = {}  # per verb module: its running state
        self.due: dict[Any, float] = {}  # periodic fn -> when it runs next
        for module in VERB_MODULES:
            importlib.import_module(module)
        if session is None:
            self.thread = threading.Thread(target=self._open_local, daemon=True)
            self.thread.start()
        else:
            self._declare()

    def fileno(self) -> int:
        """Readable when queries wait for ``serve_pending`` (the supervisor selects on it)."""
        return self.wake_r.fileno()

    def _open_local(self) -> None:
        try:
            folder = runtime_dir()
            self.socket_path = socket_path(folder, self.dataflow_id)
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()  # a stale one of a killed run with the same id
            endpoint = f"{_UNIXSOCK}{self.socket_path}"
            settings = ZenohSettings(mode="peer", listen=(endpoint,), multicast=False)
            session = settings.open(f"dataflow {self.dataflow_id} API")
            with self.lock:
                if self.closed.is_set():
                    session.close()
                    return
                self.session = session
                self._declare()
            entry = {
                "id": self.dataflow_id,
                "name": self.sup.name,
                "pid": os.getpid(),
                "machine": self.machine,
                "endpoint": endpoint,
                "graph": str(self.sup.dataflow.path),
                "started_at": time.time(),
            }
            path = folder / "runs" / f"{self.dataflow_id}.json"
            temporary = path.with_suffix(".tmp")
            temporary.write_text(json.dumps(entry))
            os.replace(temporary, path)
            self.registry = path
            if self.closed.is_set():  # closed while writing
                self._unregister()
        except Exception as err:  # the dataflow runs on without its API; say why once
            self.sup._say(f"warning: the dataflow API is not available: {err}")

    def _declare(self) -> None:
        # A channel and a thread of ours, not a Python callback: Zenoh's threads then never run
        # (or drop) Python code, which aborted 5 of 24 loaded `run`s at exit ("FATAL: exception
        # not rethrown", status -6) when one did so while the interpreter was finalizing.
        key = keys.run_api(self.dataflow_id, self.machine, "*")
        self.queryable = read_queryable(self.session, key, self._on_query, name="dataflow-api",
                                        capacity=64)  # fmt: skip

    def _on_query(self, query: Any) -> None:
        # On the reader thread: hand it to the supervisor's loop.
        if self.closed.is_set() or self.pending.qsize() >= MAX_PENDING:
            reply(query, {"error": f"dataflow {self.dataflow_id} is busy or ending"})
            return
        self.pending.put((query, time.monotonic()))
        with contextlib.suppress(OSError):
            self.wake_w.send(b"\0")

    def serve_pending(self) -> None:
        """Answer the queries waiting (on the supervisor's thread)."""
        with contextlib.suppress(OSError):
            while self.wake_r.recv(4096):
                pass
        while True:
            try:
                query, since = self.pending.get_nowait()
            except queue.Empty:
                return
            self._answer(query, since)

    def tick(self, now: float) -> None:
        """The periodic work that is due (``@periodic``); the supervisor calls it every turn."""
        for period, fn in PERIODIC:
            if now >= self.due.get(fn, 0.0):
                self.due[fn] = now + period
                try:
                    fn(self.sup, self, now)
                except Exception:  # a bug: say it, keep the dataflow running
                    self.sup._say("warning: dataflow API periodic work failed:\n"
                                  + traceback.format_exc().rstrip())  # fmt: skip

    def _answer(self, query: Any, since: float) -> None:
        name = keys.last_chunk(query.key_expr)
        if time.monotonic() - since > ANSWER_TIMEOUT:
            message: dict[str, Any] = {"error": f"dataflow {self.dataflow_id}: answered too late"}
        else:
            handler = VERBS.get(name)
            try:
                if handler is None:
                    raise ApiError(f"dataflow API has no verb {name!r} (verbs: "
                                   f"{', '.join(sorted(VERBS))})")  # fmt: skip
                message = handler(self.sup, decode(query.payload))
            except DoraRosError as err:
                message = {"error": str(err)}
            except Exception as err:  # a bug: reply and keep the dataflow running
                self.sup._say(f"warning: dataflow API verb {name!r} failed:\n"
                              + traceback.format_exc().rstrip())  # fmt: skip
                message = {"error": f"verb {name!r} failed inside dora-ros: {err!r}"}
        # Replied on this run's own key, so a query over every machine (`run/*/api/<verb>`) tells
        # who answered.
        key = keys.run_api(self.dataflow_id, self.machine, name)
        try:
            query.reply(key, encode(message))
        except Exception:  # the client may have gone
            pass
        finally:
            query.drop()

    def close(self) -> None:
        """Stop serving; remove the registry file and the socket (``run``)."""
        self.closed.set()
        if self.thread is not None:
            # The opener may still be inside zenoh.open: it sees `closed` once out and closes
            # what it opened. A daemon thread still in Zenoh when the interpreter exits aborts
            # the process ("FATAL: exception not rethrown", exit status 134), and its socket
            # would be left behind.
            self.thread.join(timeout=10)
        with self.lock:
            self.closed.set()
            reader, self.queryable = self.queryable, None
        if reader is not None:
            reader.undeclare()  # and joins its thread, which ends once the channel is closed
        with self.lock:
            while True:
                try:
                    query, _ = self.pending.get_nowait()
                except queue.Empty:
                    break
                with contextlib.suppress(Exception):
                    reply(query, {"error": f"dataflow {self.dataflow_id} ended"})
            self._unregister()
            if self.own_session and self.session is not None:
                with contextlib.suppress(Exception):
                    self.session.close()
                self.session = None
        if self.socket_path is not None:
            _remove_socket(self.socket_path)
        self.wake_r.close()
        self.wake_w.close()

    def _unregister(self) -> None:
        if self.registry is not None:
            with contextlib.suppress(OSError):
                self.registry.unlink()
            self.registry = None


# --- the verbs every supervisor has ---------------------------------------------------------------


@verb("ping")
def _ping(sup: Coordinator, request: dict[str, Any]) -> dict[str, Any]:
    return {"pong": True, "id": sup._api_id(), "machine": sup._api_machine()}


@verb("describe")
def _describe(sup: Coordinator, request: dict[str, Any]) -> dict[str, Any]:
    """The dataflow as this supervisor sees it: id, name, machine, pid, graph, its nodes."""
    local = [n for n in sup.nodes if sup._api_is_local(n)]
    return {
        "id": sup._api_id(),
        "name": sup.name,
        "machine": sup._api_machine(),
        "pid": os.getpid(),
        "graph": str(sup.dataflow.path),
        "started": sup.started,
        "stopping": sup.stopping_since is not None,
        "nodes": local,
        "verbs": sorted(VERBS),
    }
