"""Dataflow API verbs on nodes (``dora-ros node``, ``top``, ``param``): answered by a supervisor.

- ``nodes`` {node?}: one row per node this supervisor runs: status, pid, restarts, CPU (% of one
  core) and resident memory (sampled from /proc every ``SAMPLE_PERIOD``), inputs (source, queue
  size, queued, received, dropped), outputs (subscribers, sent), messages in/out per second
  (from the ``stats`` records nodes send every second, ``runtime/node.py``), drops.
- ``node_restart`` / ``node_stop`` {node, grace?}: STOP to that node alone, then SIGTERM after
  ``grace`` seconds (default ``NODE_STOP_GRACE``) and SIGKILL ``KILL_AFTER`` s later; a restarted
  node is spawned again whatever its restart_policy (the restart count goes up), a stopped one is
  never restarted and its receivers see INPUT_CLOSED, as dora-rs 1.1.
- ``params`` / ``param_get`` / ``param_set`` / ``param_delete`` {node, key?, value?}: the node's
  parameters, kept here; a set or delete reaches the running node as PARAM_UPDATE /
  PARAM_DELETED (a ``param`` control record), and a restarted node gets the current ones again.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .dataflow_api import ApiError, DataflowApi, node_state, periodic, verb

if TYPE_CHECKING:
    from ..runtime.supervisor import Coordinator, _NodeState

SAMPLE_PERIOD = 1.0
NODE_STOP_GRACE = 5.0  # dora-rs's default before it force-kills a node
KILL_AFTER = 2.0
PARAM_VALUE_LIMIT = 64 * 1024  # bytes of JSON per parameter value
PARAM_COUNT_LIMIT = 1024  # parameters per node
_HZ = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


class _Sample:
    """The last /proc and message-count sample of one node, and the rates since the one before."""

    __slots__ = (
        "at", "counted", "cpu", "in_rate", "memory", "out_rate", "pid", "received", "sent", "ticks",
    )  # fmt: skip

    def __init__(self) -> None:
        self.pid = 0
        self.at = 0.0
        self.ticks = 0
        self.counted = 0.0  # `t` of the node's stats record the counts below come from
        self.received = 0
        self.sent = 0
        self.cpu: float | None = None
        self.memory: int | None = None
        self.in_rate: float | None = None
        self.out_rate: float | None = None


def _samples(api: DataflowApi) -> dict[str, _Sample]:
    samples: dict[str, _Sample] = api.state.setdefault("node_samples", {})
    return samples


def _proc_usage(pid: int) -> tuple[int, int] | None:
    """(utime + stime in clock ticks, resident bytes) of ``pid``, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        return int(stat[11]) + int(stat[12]), pages * _PAGE
    except (OSError, ValueError, IndexError):
        return None


@periodic(SAMPLE_PERIOD)
def _sample(sup: Coordinator, api: DataflowApi, now: float) -> None:
    samples = _samples(api)
    for node_id, state in sup.nodes.items():
        if not sup._api_is_local(node_id):
            continue
        sample = samples.setdefault(node_id, _Sample())
        received = sum(state.io.get("received", {}).values())
        sent = sum(state.io.get("sent", {}).values())
        alive = state.proc is not None and state.proc.returncode is None
        usage = _proc_usage(state.proc.pid) if alive and state.proc is not None else None
        if usage is None:
            sample.cpu = sample.memory = sample.in_rate = sample.out_rate = None
            sample.pid = 0
            continue
        assert state.proc is not None
        ticks, memory = usage
        same = sample.pid == state.proc.pid and sample.at > 0
        span = now - sample.at
        if same and span > 0:
            sample.cpu = round(max(0, ticks - sample.ticks) / _HZ / span * 100, 1)
        if not same:
            sample.counted, sample.in_rate, sample.out_rate = 0.0, None, None
        # Rates between the node's two latest stats records (its own clock: sampling them on
        # ours, one second apart each, would alias to 0 or twice the rate).
        counted = state.io.get("t", 0.0)
        if counted != sample.counted:
            between = counted - sample.counted
            if sample.counted and between > 0:
                # Counts start again at 0 in a restarted process: a smaller count is a new one.
                sample.in_rate = round(max(0, received - sample.received) / between, 1)
                sample.out_rate = round(max(0, sent - sample.sent) / between, 1)
            sample.counted, sample.received, sample.sent = counted, received, sent
        elif sample.counted and now - sample.counted > 3 * SAMPLE_PERIOD:
            sample.in_rate = sample.out_rate = 0.0  # no record: nothing moved (an idle node)
        sample.pid, sample.at, sample.ticks, sample.memory = state.proc.pid, now, ticks, memory


def usage_totals(api: DataflowApi) -> tuple[float, int]:
    """CPU (% of one core) and resident bytes of the running nodes this supervisor samples."""
    samples = [s for s in _samples(api).values() if s.pid]
    cpu = sum(s.cpu for s in samples if s.cpu is not None)
    return round(cpu, 1), sum(s.memory for s in samples if s.memory is not None)


def node_status(sup: Coordinator, state: _NodeState) -> str:
    """What ``node list`` shows: running, starting, stopping, restarting, failed, finished,
    waiting (a dynamic node not connected) or not started."""
    if state.proc is not None and state.proc.returncode is None:
        if state.requested is not None:
            return "stopping" if state.requested == "stop" else "restarting"
        return "running" if state.registered else "starting"
    if state.restart_at is not None:
        return "restarting"
    if state.finished:
        return "failed" if state.failure else "finished"
    if state.spec.kind == "dynamic":
        return "running" if state.conn is not None else "waiting"
    return "not started"


def _row(sup: Coordinator, api: DataflowApi, state: _NodeState) -> dict[str, Any]:
    spec = state.spec
    sample = _samples(api).get(spec.id) or _Sample()
    received = state.io.get("received", {})
    queued = state.io.get("queued", {})
    sent = state.io.get("sent", {})
    inputs = []
    for inp in spec.inputs:
        inputs.append({"id": inp.id, "source": inp.source, "queue_size": inp.queue_size,
                       "queued": queued.get(inp.id, 0), "received": received.get(inp.id, 0),
                       "dropped": state.dropped.get(inp.id, 0)})  # fmt: skip
    outputs = []
    for output in spec.outputs:
        subscribers = [f"{r}/{i}" for r, i in sup.dataflow.subscribers(spec.id, output)]
        outputs.append({"id": output, "subscribers": subscribers, "sent": sent.get(output, 0)})
    alive = state.proc is not None and state.proc.returncode is None
    policy = spec.restart_policy
    return {
        "node": spec.id,
        "machine": sup._api_machine(),
        "status": node_status(sup, state),
        "pid": state.proc.pid if alive and state.proc is not None else None,
        "restarts": state.restarts,
        "restart_policy": policy.mode,
        "max_restarts": policy.max_restarts,
        "path": spec.raw.get("path"),
        "cpu": sample.cpu if alive else None,
        "memory": sample.memory if alive else None,
        "in_per_s": sample.in_rate if alive else None,
        "out_per_s": sample.out_rate if alive else None,
        "dropped": sum(state.dropped.values()),
        "send_dropped": sum(state.send_dropped.values()),
        "inputs": inputs,
        "outputs": outputs,
        "failure": state.failure,
    }


def _api(sup: Coordinator) -> DataflowApi:
    assert sup.api is not None
    api: DataflowApi = sup.api
    return api


@verb("nodes")
def _nodes(sup: Coordinator, request: dict[str, Any]) -> dict[str, Any]:
    api = _api(sup)
    if request.get("node") is not None:
        return {"nodes": [_row(sup, api, node_state(sup, request))]}
    rows = [_row(sup, api, s) for n, s in sup.nodes.items() if sup._api_is_local(n)]
    return {"nodes": rows}


# --- stopping or restarting one node -------------------------------------------------------------


def _grace(request: dict[str, Any]) -> float:
    grace = request.get("grace")
    if grace is None:
        return NODE_STOP_GRACE
    try:
        value = float(grace)
    except (TypeError, ValueError):
        value = -1.0
    if not value >= 0:
        raise ApiError(f"grace {grace!r}: expected a number of seconds >= 0")
    return value


def _end_node(sup: Coordinator, request: dict[str, Any], what: str) -> dict[str, Any]:
    state = node_state(sup, request)
    grace = _grace(request)
    if sup.stopping_since is not None:
        raise ApiError(f"dataflow {sup._api_id()} is stopping")
    if state.spec.kind == "dynamic":
        # Started by hand, not by us: STOP is all we can send, and nothing restarts it.
        if what == "restart" or state.conn is None:
            raise ApiError(f"node {state.spec.id!r} is a dynamic node (started by hand): "
                           + ("`node stop` only" if state.conn else "it is not connected"))  # fmt: skip
        state.tell({"op": "stop"}, keep=True)
        return {"node": state.spec.id, "action": what}
    if state.proc is None or state.proc.returncode is not None:
        if what == "restart" and state.restart_at is not None:
            state.restart_at = time.monotonic()  # waiting for its restart delay: now
            return {"node": state.spec.id, "action": what}
        if what == "stop" and state.restart_at is not None:
            # Waiting for its restart delay: no process to stop, it ends now (it was refused
            # as "not running (restarting)", to be stopped once restarted up to 30 s later).
            sup._finish(state)
            return {"node": state.spec.id, "action": what}
        status = node_status(sup, state)
        hint = ""
        if what == "restart" and status in ("failed", "finished"):
            # As dora-rs 1.1, which refuses to restart a node whose process has ended for good.
            hint = ("; a node that ended for good is not restarted: run the dataflow again, or"
                    " give the node a `restart_policy` (on-failure, always) in the graph")  # fmt: skip
        raise ApiError(f"node {state.spec.id!r} is not running ({status}){hint}")
    state.requested = what
    state.tell({"op": "stop"}, keep=True)  # never blocks: a node may not read (control.Outbox)
    kills: dict[str, tuple[float, int]] = _api(sup).state.setdefault("node_kills", {})
    kills[state.spec.id] = (time.monotonic() + grace, state.proc.pid)
    return {"node": state.spec.id, "action": what, "pid": state.proc.pid}


@periodic(0.1)
def _escalate(sup: Coordinator, api: DataflowApi, now: float) -> None:
    kills: dict[str, tuple[float, int]] = api.state.get("node_kills", {})
    for node_id, (when, pid) in list(kills.items()):
        state = sup.nodes[node_id]
        if state.proc is None or state.proc.pid != pid or state.proc.returncode is not None:
            del kills[node_id]  # it ended
        elif now >= when:
            sig = signal.SIGTERM if state.signalled is False else signal.SIGKILL
            sup._say(f"node {node_id!r} still running after `node {state.requested}`;"
                     f" sending {sig.name}")  # fmt: skip
            sup._signal(state, sig)
            kills[node_id] = (now + KILL_AFTER, pid)


@verb("node_restart")
def _node_restart(sup: Coordinator, request: dict[str, Any]) -> dict[str, Any]:
    return _end_node(sup, request, "restart")


@verb("node_stop")
def _node_stop(sup: Coordinator, request: dict[str, Any]) -> dict[str, Any]:
    return _end_node(sup, request, "stop")


# --- parameters ------------------------------------------------------------------------------------


def _params(sup: Coordinator, request: dict[str, Any]) -> tuple[_NodeState, dict[str, Any]]:
    state = node_state(sup, request)
    store: dict[str, dict[str, Any]] = _api(sup).state.setdefault("params", {})
    return state, store.setdefault(state.spec.id, {})


def _key(request: dict[str, Any]) -> str:
    key = request.get("key")
    if not isinstance(key, str) or not key:
        raise ApiError(f"parameter key {key!r}: expected a non-empty string")
    return key


def _tell(state: _NodeState, message: dict[str, Any]) -> bool:
    # Never blocks (control.Outbox): False if the node is not connected or does not read.
    return state.tell(message)


@verb("params")
def _param_list(sup: Coordinator, request: dict[str, Any]) -> dict[str, Any]:
    _, params = _params(sup, request)
    return {"params": dict(sorted(params.items()))}


@verb("param_get")
def _param_get(sup: Coordinator, request: dict[str, Any]) -> dict[str, Any]:
    state, params = _params(sup, request)
    key = _key(request)
    if key not in params:
        raise ApiError(f"node {state.spec.id!r} has no parameter {key!r}"
                       + (f" (parameters: {', '.join(sorted(params))})" if params else ""))  # fmt: skip
    return {"key": key, "value": params[key]}


@verb("param_set")
def _param_set(sup: Coordinator, request: dict[str, Any]) -> dict[str, Any]:
    state, params = _params(sup, request)
    key = _key(request)
    if "value" not in request:
        raise ApiError(f"parameter {key!r}: no value")
    value = request["value"]
    size = len(json.dumps(value))
    if size > PARAM_VALUE_LIMIT:
        raise ApiError(f"parameter {key!r}: value of {size} bytes (JSON) is over the limit of"
                       f" {PARAM_VALUE_LIMIT}")  # fmt: skip
    if key not in params and len(params) >= PARAM_COUNT_LIMIT:
        raise ApiError(f"node {state.spec.id!r} has {PARAM_COUNT_LIMIT} parameters already")
    params[key] = value
    delivered = _tell(state, {"op": "param", "key": key, "value": value})
    if delivered and state.registered:
        # this process has every parameter now (an earlier one was replayed or told live)
        told = _api(sup).state.setdefault("params_told", {})
        told.setdefault(state.spec.id, _incarnation(state))
    return {"key": key, "value": value, "delivered": delivered}


@verb("param_delete")
def _param_delete(sup: Coordinator, request: dict[str, Any]) -> dict[str, Any]:
    state, params = _params(sup, request)
    key = _key(request)
    if key not in params:
        raise ApiError(f"node {state.spec.id!r} has no parameter {key!r}")
    del params[key]
    delivered = _tell(state, {"op": "param", "key": key, "deleted": True})
    return {"key": key, "delivered": delivered}


def _incarnation(state: _NodeState) -> tuple[int, int]:
    """Which process of the node is connected (its parameters are told once to each)."""
    return (state.restarts, state.proc.pid if state.proc is not None else id(state.conn))


@periodic(0.2)
def _replay_params(sup: Coordinator, api: DataflowApi, now: float) -> None:
    """A node that (re)started gets the parameters set so far, once per process."""
    store: dict[str, dict[str, Any]] = api.state.get("params", {})
    told: dict[str, tuple[int, int]] = api.state.setdefault("params_told", {})
    for node_id, params in store.items():
        state = sup.nodes.get(node_id)
        if state is None or state.conn is None or not state.registered:
            continue
        if told.get(node_id) == _incarnation(state):
            continue
        told[node_id] = _incarnation(state)
        for key, value in params.items():
            _tell(state, {"op": "param", "key": key, "value": value})
