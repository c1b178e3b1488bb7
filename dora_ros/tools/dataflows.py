"""Find a running dataflow by name or UUID and ask its supervisors (the dataflow API).

One resolution for every tool that works on a running dataflow (``node``, ``top``, ``param``,
``topic``, ``record --proxy``): ``-d/--dataflow NAME|UUID`` is looked up in the local run
registry first (``dora-ros run``; ``cluster/dataflow_api.py`` writes it), then on the coordinator
(``--coordinator-addr/--coordinator-port``, ``DORA_COORDINATOR_ADDR/_PORT``) for dataflows started
with ``dora-ros start``. With no ``-d`` and exactly one dataflow running, that one is used (as
dora-rs); with several, one line lists them.

Usage::

    with DataflowClient.open(dataflow, addr, port) as client:
        answer = client.query("describe", {})            # the only machine, or ...
        answer = client.query("node_info", {"node": "camera"}, node="camera")  # ... node's one
        answers = client.query_all("describe", {})       # machine -> answer

or ``query(dataflow, verb, payload)`` for one request.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import click

from ..cluster import keys
from ..cluster.dataflow_api import registry_entries
from ..cluster.messages import decode, encode, request
from ..cluster.zenoh_config import (
    DEFAULT_ADDR,
    DEFAULT_PORT,
    ENV_ADDR,
    ENV_PORT,
    ClusterError,
    ZenohSettings,
    cli_settings,
    coordinator_endpoint,
)

QUERY_TIMEOUT = 5.0
# A TCP connect to the coordinator's port first: "nothing listens" is known at once, without
# Zenoh's connect timeout (tools with no -d ask the coordinator whether it runs dataflows too).
PROBE_TIMEOUT = 0.5


@dataclass(frozen=True)
class DataflowRef:
    """A running dataflow and how to reach its supervisors."""

    id: str
    name: str | None
    source: str  # "run" (local registry) or "coordinator"
    settings: ZenohSettings  # how to open a session that reaches its API
    placement: dict[str, str] = field(default_factory=dict)  # node -> machine
    machines: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id})" if self.name else self.id


def dataflow_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``-d/--dataflow`` and the coordinator's address, for every tool on a running dataflow."""
    func = click.option("--coordinator-port", type=int, envvar=ENV_PORT, default=DEFAULT_PORT,
                        show_default=True, help="Port of the coordinator.")(func)  # fmt: skip
    func = click.option("--coordinator-addr", envvar=ENV_ADDR, default=DEFAULT_ADDR,
                        show_default=True, help="Address of the coordinator.")(func)  # fmt: skip
    func = click.option("-d", "--dataflow", default=None, metavar="NAME|UUID",
                        help="The running dataflow: name, UUID or a unique UUID prefix (needed when several run).")(func)  # fmt: skip
    return func


def _run_ref(entry: dict[str, Any]) -> DataflowRef:
    settings = ZenohSettings(mode="client", connect=(str(entry["endpoint"]),),
                             connect_timeout_ms=1000)  # fmt: skip
    return DataflowRef(id=str(entry["id"]), name=entry.get("name"), source="run",
                       settings=settings, machines=(str(entry["machine"]),))  # fmt: skip


def _coordinator_listens(addr: str, port: int) -> bool:
    try:
        with socket.create_connection((addr, port), timeout=PROBE_TIMEOUT):
            return True
    except OSError:
        return False


def _coordinator_dataflows(addr: str, port: int, *, required: bool) -> list[dict[str, Any]]:
    """The coordinator's running dataflows; [] when none answers and ``required`` is false."""
    where = coordinator_endpoint(addr, port)
    if not required and not _coordinator_listens(addr, port):
        return []
    try:
        session = cli_settings(addr, port).open("coordinator")
    except ClusterError:
        if required:
            raise
        return []
    try:
        rows = request(session, keys.coordinator_api("list"), {}, timeout=QUERY_TIMEOUT,
                       what=f"coordinator at {where}")["dataflows"]  # fmt: skip
        running = [r for r in rows if r.get("status") == "running"]
        for row in running:
            nodes = request(session, keys.coordinator_api("nodes"), {"target": row["uuid"]},
                            timeout=QUERY_TIMEOUT, what=f"coordinator at {where}")  # fmt: skip
            row["placement"] = {n["node"]: n["machine"] for n in nodes["nodes"]}
        return running
    except ClusterError:
        if required:
            raise
        return []
    finally:
        with contextlib.suppress(Exception):
            session.close()


def _started_ref(row: dict[str, Any], addr: str, port: int) -> DataflowRef:
    return DataflowRef(id=str(row["uuid"]), name=row.get("name"), source="coordinator",
                       settings=cli_settings(addr, port), placement=dict(row["placement"]),
                       machines=tuple(row["machines"]))  # fmt: skip


def resolve(
    dataflow: str | None, addr: str = DEFAULT_ADDR, port: int = DEFAULT_PORT
) -> DataflowRef:
    """The running dataflow ``dataflow`` names (a name, a UUID or a unique prefix of one), or the
    only one running."""
    local = registry_entries()
    if dataflow is not None:
        by_id = [e for e in local if e["id"] == dataflow]
        by_name = [e for e in local if e.get("name") == dataflow]
        if by_id or len(by_name) == 1:
            return _run_ref((by_id or by_name)[0])
        if len(by_name) > 1:
            ids = ", ".join(e["id"] for e in by_name)
            raise ClusterError(f"{len(by_name)} running dataflows are called {dataflow!r}"
                               f" ({ids}): give the UUID")  # fmt: skip
    started = _coordinator_dataflows(addr, port, required=False)
    if dataflow is not None:
        found = [r for r in started if dataflow in (r["uuid"], r.get("name"))]
        if len(found) == 1:
            return _started_ref(found[0], addr, port)
        if len(found) > 1:
            ids = ", ".join(r["uuid"] for r in found)
            raise ClusterError(f"{len(found)} running dataflows are called {dataflow!r}"
                               f" ({ids}): give the UUID")  # fmt: skip
        # A unique prefix of a UUID, as `docker` and `git` take one (`-d 5ae9c32a`).
        prefixed = [_run_ref(e) for e in local if e["id"].startswith(dataflow)] + [
            _started_ref(r, addr, port) for r in started if str(r["uuid"]).startswith(dataflow)
        ]
        if len(prefixed) == 1:
            return prefixed[0]
        if len(prefixed) > 1:
            ids = ", ".join(ref.id for ref in prefixed)
            raise ClusterError(f"{len(prefixed)} running dataflows have a UUID starting with"
                               f" {dataflow!r} ({ids}): give more of it")  # fmt: skip
        raise ClusterError(f"no running dataflow is called {dataflow!r}"
                           f" ({_running_text(local, started)})")  # fmt: skip
    everything = [_run_ref(e) for e in local] + [_started_ref(r, addr, port) for r in started]
    if len(everything) == 1:
        return everything[0]
    if not everything:
        raise ClusterError("no dataflow is running (start one with `dora-ros run` or"
                           " `dora-ros start`)")  # fmt: skip
    raise ClusterError(f"{len(everything)} dataflows are running: choose one with -d NAME|UUID"
                       f" ({_running_text(local, started)})")  # fmt: skip


def _running_text(local: list[dict[str, Any]], started: list[dict[str, Any]]) -> str:
    names = [e.get("name") or e["id"] for e in local] + [
        r.get("name") or r["uuid"] for r in started
    ]
    return "running: " + ", ".join(names) if names else "none is running"


def running_refs(dataflow: str | None, addr: str = DEFAULT_ADDR,
                 port: int = DEFAULT_PORT) -> list[DataflowRef]:  # fmt: skip
    """``[resolve(dataflow)]`` with ``-d``; without, every running dataflow (local runs, then
    the coordinator's), for commands that show them all (``node list``, ``top``)."""
    if dataflow is not None:
        return [resolve(dataflow, addr, port)]
    local = [_run_ref(e) for e in registry_entries()]
    started = _coordinator_dataflows(addr, port, required=False)
    return local + [_started_ref(r, addr, port) for r in started]


class DataflowClient:
    """A Zenoh session that reaches one dataflow's supervisors; a context manager."""

    def __init__(self, ref: DataflowRef, session: Any) -> None:
        self.ref = ref
        self.session = session

    @classmethod
    def open(cls, dataflow: str | None, addr: str = DEFAULT_ADDR,
             port: int = DEFAULT_PORT) -> contextlib.AbstractContextManager[DataflowClient]:  # fmt: skip
        """A client of the dataflow ``dataflow`` names (``resolve``)."""
        return cls.connect(resolve(dataflow, addr, port))

    @classmethod
    @contextlib.contextmanager
    def connect(cls, ref: DataflowRef) -> Iterator[DataflowClient]:
        """A client of the dataflow ``ref``."""
        try:
            session = ref.settings.open(f"dataflow {ref.label}")
        except ClusterError as err:
            raise ClusterError(f"dataflow {ref.label}: cannot reach its supervisor: {err}") from err
        try:
            yield cls(ref, session)
        finally:
            with contextlib.suppress(Exception):
                session.close()

    def machine_of(self, node: str) -> str:
        """The machine that runs ``node`` (ClusterError naming the dataflow's nodes if none)."""
        if self.ref.source == "run":
            return self.ref.machines[0]
        machine = self.ref.placement.get(node)
        if machine is None:
            from ..cluster.dataflow_api import no_node

            raise ClusterError(no_node(self.ref.label, node, list(self.ref.placement)))
        return machine

    def query(self, verb: str, payload: dict[str, Any], *, node: str | None = None,
              machine: str | None = None, timeout: float = QUERY_TIMEOUT) -> dict[str, Any]:  # fmt: skip
        """One machine's answer: ``machine``, else the one running ``node``, else the only one."""
        if machine is None:
            if node is not None:
                machine = self.machine_of(node)
            elif len(self.ref.machines) == 1:
                machine = self.ref.machines[0]
            else:
                raise ClusterError(f"dataflow {self.ref.label} runs on several machines"
                                   f" ({', '.join(self.ref.machines)}): say which")  # fmt: skip
        answers = self._ask(keys.run_api(self.ref.id, machine, verb), payload, timeout, {machine})
        return answers[machine]

    def _ask(self, key: str, payload: dict[str, Any], timeout: float,
             machines: set[str]) -> dict[str, dict[str, Any]]:  # fmt: skip
        """Answers of ``machines`` (machine -> answer) to a query on ``key``. A machine whose
        run has not declared its API yet (a dataflow started a moment ago) is asked again until
        ``timeout``; an ``error`` answer is a ClusterError."""
        import zenoh

        answers: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.05, deadline - time.monotonic())
            for item in self.session.get(key, payload=encode(payload), timeout=left,
                                         target=zenoh.QueryTarget.ALL):  # fmt: skip
                if item.ok is None:
                    raise ClusterError(f"dataflow {self.ref.label}: "
                                       f"{item.err.payload.to_string()}")  # fmt: skip
                answer = decode(item.ok.payload)
                if "error" in answer:
                    raise ClusterError(str(answer["error"]))
                # `.../run/<machine>/api/<verb>`: the run replies on its own key
                answers[str(item.ok.key_expr).split("/")[-3]] = answer
            missing = sorted(machines - set(answers))
            if not missing:
                return answers
            if time.monotonic() >= deadline:
                raise ClusterError(f"dataflow {self.ref.label}: no answer from"
                                   f" {', '.join(missing)} within {timeout:g} s")  # fmt: skip
            time.sleep(0.1)

    def query_all(self, verb: str, payload: dict[str, Any],
                  timeout: float = QUERY_TIMEOUT) -> dict[str, dict[str, Any]]:  # fmt: skip
        """Every machine's answer (machine -> answer); an ``error`` answer is a ClusterError."""
        key = keys.run_api(self.ref.id, "*", verb)
        return self._ask(key, payload, timeout, set(self.ref.machines))


def query(dataflow: str | None, verb: str, payload: dict[str, Any], *,
          addr: str = DEFAULT_ADDR, port: int = DEFAULT_PORT) -> dict[str, Any]:  # fmt: skip
    """One request to the dataflow's (only, or node's) supervisor; see ``DataflowClient``."""
    with DataflowClient.open(dataflow, addr, port) as client:
        return client.query(verb, payload, node=payload.get("node"))
