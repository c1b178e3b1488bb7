"""One machine's part of a multi-machine dataflow: the runtime's supervisor, synchronised over Zenoh.

A daemon starts ``python -m dora_ros.cluster.machine_run`` per dataflow and writes its
description (JSON) to its stdin. The process runs the same ``Coordinator`` as ``dora-ros run``
(one code path for spawning, logs, restarts, STOP escalation), for the nodes placed on this
machine; the nodes of other machines are known to it but never spawned here. Over Zenoh it:

- reports ``ready`` once its nodes are up, and releases the start barrier when the coordinator
  says ``start`` (every machine is ready);
- publishes ``node_finished`` when one of its nodes ends for good, and closes the inputs of its
  nodes fed by a node of another machine when that machine says so (INPUT_CLOSED, NODE_FAILED);
- obeys ``stop`` and ``machine_lost`` from the coordinator, and publishes ``done`` with its exit
  status and drop counts at the end;
- keeps a liveliness token and a queryable with its description, so that a restarted
  coordinator learns the dataflow back.

The local socket scope is ``<dataflow-id>.<machine>`` so that machines sharing one host (the
loopback setup) do not collide; logs go to ``out/<dataflow-id>/log_<node>.txt`` as with ``run``.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import sys
import time
from pathlib import Path
from typing import IO, Any

from ..runtime.descriptor import Dataflow, parse_dataflow
from ..runtime.node_logs import log_routes, stdout_record_route
from ..runtime.supervisor import Coordinator, _NodeState, _Terminal
from . import keys
from .channel_reader import read_queryable, read_subscriber
from .messages import decode, encode
from .node_paths import resolve_here
from .zenoh_config import ZenohSettings

# Data a sender published just before it ended may still be on its way when its machine says
# it ended (two Zenoh sessions, no order between them): wait this long before INPUT_CLOSED.
REMOTE_CLOSE_DELAY = 0.5
# How often a run publishes its nodes' CPU and memory (for `list`).
USAGE_PERIOD = 2.0


class _PublishingTerminal(_Terminal):
    """The run's terminal (a file the daemon keeps), plus each node line published for ``logs -f``."""

    def __init__(self, run: MachineRun) -> None:
        super().__init__()
        self.run = run

    def write(self, stream: IO[str], text: str) -> None:
        super().write(stream, text)
        node, sep, line = text.partition(": ")
        if sep and node in self.run.local:
            self.run.publish(keys.log(self.run.cluster_id, node), line.rstrip("\n").encode())


class MachineRun(Coordinator):
    """The supervisor of one machine's nodes of a multi-machine dataflow (module docstring)."""

    def __init__(
        self, dataflow: Dataflow, *, dataflow_id: str, name: str | None, machine: str,
        placement: dict[str, str], node_settings: ZenohSettings, out_dir: Path, session: Any,
    ) -> None:  # fmt: skip
        super().__init__(dataflow, out_dir=out_dir, name=name, stop_after=None)
        self.cluster_id = dataflow_id
        self.id = f"{dataflow_id}.{machine}"
        self.log_dir = out_dir / dataflow_id
        self.machine = machine
        self.placement = placement
        self.local = {n for n, m in placement.items() if m == machine}
        self.remote = set(placement) - self.local
        self.node_settings = node_settings
        self.session = session
        self.terminal = _PublishingTerminal(self)
        self.inbox: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.reported_ready = False
        self.start_allowed = False
        self.closing: list[tuple[float, str, str | None]] = []  # (when, remote node, error)
        self.code: int | None = None
        self.usage_at = 0.0

    def publish(self, key: str, payload: bytes) -> None:
        with contextlib.suppress(Exception):  # a closed session at exit: nothing to tell
            self.session.put(key, payload)

    def _event(self, message: dict[str, Any]) -> None:
        message["machine"] = self.machine
        message["dataflow"] = self.cluster_id
        self.publish(keys.event(self.cluster_id, self.machine), encode(message))

    # --- the supervisor's steps, for a part of the graph -----------------------------------

    def _spawn(self, state: _NodeState) -> None:
        if state.spec.id in self.local:
            super()._spawn(state)

    def _maybe_start(self) -> None:
        if self.started:
            return
        waiting = [
            s for s in self.nodes.values()
            if s.spec.id in self.local and s.spec.kind != "dynamic" and not s.registered
            and not s.finished
        ]  # fmt: skip
        if waiting:
            return
        if not self.reported_ready:
            self.reported_ready = True
            self._event({"op": "ready"})
        if self.start_allowed:
            for node_id in self.remote:
                state = self.nodes[node_id]
                if not state.finished:
                    state.registered = True
            super()._maybe_start()

    def _finish(self, state: _NodeState) -> None:
        super()._finish(state)
        if state.spec.id in self.local:
            self._event(
                {"op": "node_finished", "node": state.spec.id, "error": state.error,
                 "failure": state.failure}
            )  # fmt: skip

    def _init_message(self, state: _NodeState) -> dict[str, Any]:
        message = super()._init_message(state)
        receivers = sorted({r for rs in message["routes"].values() for r in rs} & self.remote)
        senders = {
            sender: max(i.queue_size for i in state.spec.inputs if i.source_node == sender)
            for sender in sorted(set(message["inbound"]) & self.remote)
        }
        largest = max([i.queue_size for i in state.spec.inputs] or [1])
        # Output lines of senders on other machines this node takes (their runs send them):
        # [sender, output index, buffer size] per kind of lines.
        line_links = [
            [sender, index, largest]
            for sender in sorted(self.remote)
            for index in self._lines_taken(state.spec, sender)
        ]
        # dora/logs records cross machines from node to node as data does (node_loop's
        # LOG_ROUTE): this node's log receivers there, and the senders there of its log inputs.
        logs = log_routes(self.dataflow.raw, state.spec.id)
        receivers = sorted(set(receivers) | (logs.all_receivers & self.remote))
        for sender in sorted(set(logs.inbound) & self.remote):
            senders.setdefault(sender, largest)
        if receivers or senders or line_links:
            # The node loads its Zenoh links from here (runtime/link.py, providers_from_init).
            remote = {
                "prefix": keys.dataflow(self.cluster_id),
                "zenoh": self.node_settings.to_json(),
                "receivers": receivers,
                "senders": senders,
                "restarted": state.restarts > 0,
                "line_links": line_links,
            }
            message["link_providers"] = [
                {"factory": "dora_ros.cluster.remote_link:RemoteLinks", "config": remote}
            ]
        return message

    def _lines_taken(self, receiver: Any, sender: str) -> list[int]:
        """The output indexes of the lines ``sender`` prints that node spec ``receiver`` takes:
        its ``send_stdout_as`` output's, and LOG_INDEX_BASE for `stdout` log records."""
        spec = self.dataflow.node(sender)
        taken = []
        if spec.send_stdout_as is not None and any(
            i.source_node == sender and i.source_output == spec.send_stdout_as
            for i in receiver.inputs
        ):
            taken.append(list(spec.outputs).index(spec.send_stdout_as))
        route = stdout_record_route(self.dataflow.raw, spec.raw, sender)
        if route is not None and receiver.id in route[1]:
            taken.append(route[0])
        return taken

    def _usage(self) -> None:
        """Every USAGE_PERIOD: CPU (% of one core) and resident memory of this machine's nodes,
        summed from the per-node /proc samples the dataflow API takes for `node info` and `top`."""
        from .node_verbs import usage_totals

        now = time.monotonic()
        if now - self.usage_at < USAGE_PERIOD:
            return
        if self.usage_at and self.api is not None:
            cpu, memory = usage_totals(self.api)
            self._event({"op": "usage", "cpu": cpu, "memory": memory})
        self.usage_at = now

    def _done(self) -> bool:
        self._usage()
        self._handle_inbox()
        for state in self.nodes.values():
            if state.spec.id not in self.local:
                continue
            if state.spec.kind == "dynamic":
                if state.conn is not None:
                    return False
            elif not state.finished:
                return False
        return True

    def _link_log_dir(self) -> None:
        for link_name in ("latest", self.name):
            if link_name:
                link = self.log_dir.parent / link_name
                temporary = link.with_name(f".{link_name}.{self.id}")
                with contextlib.suppress(OSError):
                    temporary.symlink_to(self.cluster_id, target_is_directory=True)
                    os.replace(temporary, link)
                with contextlib.suppress(OSError):
                    temporary.unlink()

    def _report(self) -> int:
        code = super()._report()
        self.code = code
        # "<node>/<input>": dropped by the input's queue; "<node>-><receiver>": dropped by the
        # sender (receiver not there yet, or too slow).
        dropped = {f"{s.spec.id}/{i}": n for s in self.nodes.values() for i, n in s.dropped.items()}
        for state in self.nodes.values():
            for receiver, count in state.send_dropped.items():
                dropped[f"{state.spec.id}->{receiver}"] = count
        failures = [s.failure for s in self.nodes.values() if s.failure]
        self._event({"op": "done", "code": code, "failures": failures, "dropped": dropped})
        return code

    # --- messages from the other machines and the coordinator --------------------------------

    def _handle_inbox(self) -> None:
        while True:
            try:
                message = self.inbox.get_nowait()
            except queue.Empty:
                break
            op = message.get("op")
            if op == "start":
                self.start_allowed = True
                self._maybe_start()
            elif op == "stop":
                # The coordinator repeats `stop` until the run ends (one published before this
                # process subscribed is lost): only the first counts, and `force` kills.
                grace = message.get("grace")
                if not self.started:
                    # Stopped before every machine was ready: start what is here at once, so
                    # its nodes leave the barrier and see STOP (they would wait for `start`).
                    self.start_allowed = True
                    self._maybe_start()
                if self.stopping_since is None:
                    if grace is not None:
                        self.escalation = ((float(grace), signal.SIGTERM), *self.escalation[1:])
                    self.stop()
                if message.get("force") and self.escalation_step < len(self.escalation) - 1:
                    self.stop()  # a second stop kills
            elif op == "node_finished":
                node = message.get("node")
                if node in self.remote:
                    when = time.monotonic() + REMOTE_CLOSE_DELAY
                    self.closing.append((when, str(node), message.get("error")))
            elif op == "machine_lost":
                lost = message.get("machine")
                for node_id in sorted(self.remote):
                    state = self.nodes[node_id]
                    if self.placement.get(node_id) == lost and not state.finished:
                        # Now, before the coordinator's `stop` that follows: INPUT_CLOSED and
                        # NODE_FAILED first, as when a local sender fails.
                        state.error = f"machine {lost!r} was lost (its daemon stopped answering)"
                        super()._finish(state)
        now = time.monotonic()
        due = [c for c in self.closing if c[0] <= now]
        self.closing = [c for c in self.closing if c[0] > now]
        for _, node_id, why in due:
            state = self.nodes[node_id]
            if not state.finished:
                state.error = why
                super()._finish(state)

    # --- the dataflow API, on the run's own session (cluster/dataflow_api.py) ------------------

    def _serve_api(self) -> None:
        from .dataflow_api import DataflowApi

        self.api = DataflowApi(self, session=self.session)

    def _api_id(self) -> str:
        return self.cluster_id

    def _line_link(self, node: str, receiver: str, index: int) -> Any:
        link = self._line_link_ahead(node, receiver, index)
        return super()._line_link(node, receiver, index) if link is None else link

    def _line_link_ahead(self, node: str, receiver: str, index: int) -> Any:
        if receiver not in self.remote:
            return None
        # A receiver on another machine: the lines go to it over Zenoh, from this run (the node
        # does not send them), on a key of their own (remote_link.RemoteLines), declared when
        # the node is spawned: matched long before its first line, sent after the start.
        from .remote_link import RemoteLines

        return RemoteLines(self.session, keys.dataflow(self.cluster_id), node, receiver, index)

    def _api_machine(self) -> str:
        return self.machine

    def _api_is_local(self, node_id: str) -> bool:
        return node_id in self.local

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.cluster_id,
            "name": self.name,
            "machine": self.machine,
            "placement": self.placement,
            "graph": str(self.dataflow.path),
            "ready": self.reported_ready,
            "started": self.started,
            "code": self.code,
            "pid": os.getpid(),
        }


def main() -> int:
    spec = json.loads(sys.stdin.read())
    dataflow_id: str = spec["id"]
    machine: str = spec["machine"]
    graph = Path(spec["graph_path"])
    dataflow = resolve_here(parse_dataflow(spec["graph_text"], graph, check_paths=False),
                            machine, spec["placement"])  # fmt: skip
    settings = ZenohSettings.from_json(spec["zenoh"])
    session = settings.open(f"dataflow {dataflow_id} on {machine}")
    run = MachineRun(
        dataflow, dataflow_id=dataflow_id, name=spec.get("name"), machine=machine,
        placement=spec["placement"], node_settings=ZenohSettings.from_json(spec["node_zenoh"]),
        out_dir=Path(spec["out_dir"]), session=session,
    )  # fmt: skip

    def on_message(sample: Any) -> None:
        with contextlib.suppress(ValueError):
            message = decode(sample.payload)
            if message.get("machine") != machine:
                run.inbox.put(message)

    def on_query(query: Any) -> None:
        from .messages import reply

        reply(query, run.describe())

    # Read by threads of ours, never Python callbacks on Zenoh's threads (channel_reader.py):
    # a callback run while the interpreter finalized aborted the process at exit.
    declared: list[Any] = [
        read_subscriber(session, keys.control(dataflow_id), on_message, name="control"),
        read_subscriber(
            session, f"{keys.dataflow(dataflow_id)}/event/*", on_message, name="events"
        ),
        read_queryable(session, keys.run(dataflow_id, machine), on_query, name="run"),
        session.liveliness().declare_token(keys.run(dataflow_id, machine)),
    ]
    try:
        return run.run()
    finally:
        time.sleep(0.1)  # let `done` leave before the session closes
        for entity in declared:
            with contextlib.suppress(Exception):
                entity.undeclare()
        with contextlib.suppress(Exception):
            session.close()


if __name__ == "__main__":
    sys.exit(main())
