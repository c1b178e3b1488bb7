"""The process of a `ros2:` dataflow node: a ROS 2 node on one side, a dora-ros node on the other.

Started by the runtime with the argv of `graph_node.Ros2NodeKind.command`. This is the YAML face of
the bridge's core (`endpoints.py`, shared with the Python API): it turns `ros2:` keys, inputs and
metadata into calls on the core's endpoints and their results and failures into outputs, counted
log lines and `error` values. What crosses:

- topics: each ROS message goes out as a one-row struct array on its output; each input value is
  published (every row one message).
- service client: each input value is a request; the response goes out on `response` with the
  request's metadata; calls run concurrently. Server: each request goes out on `request` with a
  `request_id` metadata parameter; a value on any input with that `request_id` answers it, in any
  order. A request left unanswered for `response_timeout` seconds (30) is dropped with a warning:
  its ROS client gets no response and times out on its own; a late response is logged as an error.
- action client: each input value is a goal (except input `cancel`, whose `goal_id` metadata or
  string value cancels a goal); `feedback` and `result` go out with `goal_id` and, on the result,
  `goal_status` metadata (`succeeded`, `aborted`, `canceled`; `rejected` for a refused goal).
  Server: each goal goes out on `goal` with `goal_id`; inputs `feedback` and `result` (with
  `goal_id`, optional `goal_status`) answer it; cancel requests go out on `cancel`.

A value that does not fit the ROS type is logged as an error naming the input and the field, and
the bridge goes on; so is a malformed sample from the network. Failures reach the dora node: each
is logged (once, then as a running count, `reporting.py`) and, when the node declares an output
`error`, sent there as a string with the metadata of the input that caused it. The end of a run
logs a summary of problems and drops.

Service calls and goals run on a bounded pool of workers (`worker_pool.py`: `WORKERS` threads,
`WAITING` queued calls, the oldest dropped beyond), each with an overall timeout (ros2 keys
`response_timeout` for a call, `goal_timeout` for a goal), and every wait looks at STOP, so the
bridge ends within the supervisor's grace period (`CLOSE_BUDGET`). An action client's cancels run
on a small pool of their own, so they never wait behind the goals holding the workers. A service
server holds at most 64 requests without a response, as the Python API: a newer one drops the
oldest (`endpoints.MAX_PENDING_REQUESTS`).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from ..errors import BridgeError, DoraRosError
from ..msgconv import ROS_TYPE_KEY, default_value
from .backend import KEEP_ALL_DEPTH, ReadyQueue, open_backend
from .codec import MalformedSample
from .endpoints import (
    CALL_TIMEOUT,
    CANCEL_TIMEOUT,
    MAX_PENDING_REQUESTS,
    ActionClientEndpoint,
    ActionServerEndpoint,
    ServiceClientEndpoint,
    ServiceServerEndpoint,
    TopicPublisher,
    TopicSubscriber,
    result_status,
)
from .graph_config import BridgeSpec, parse_bridge_config
from .names import part_type, resolve_name
from .reporting import CountedLog
from .worker_pool import WorkerPool

log = logging.getLogger("dora_ros.bridge")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

#: Worker threads for blocking ROS calls (service calls, goals) of one bridge node.
WORKERS = 8
#: Calls or goals waiting for a worker; beyond, the oldest is dropped (reported, `error` output).
WAITING = 64
#: Worker threads for cancel requests of an action client: apart from the goals' workers, which
#: a running goal holds until its result, so a cancel never waits behind the goals it cancels.
CANCEL_WORKERS = 2
#: Of the supervisor's grace period after STOP (5 s), what the workers get to finish.
STOP_BUDGET = 1.5
#: The whole close path's budget: the supervisor SIGTERMs a node 5 s after STOP
#: (runtime/supervisor.py), so every bounded wait of `BridgeNode.close` shares one deadline of
#: 4 s, leaving 1 s for the process to exit. Worst case: workers and cancels STOP_BUDGET (1.5 s)
#: + the service server's timeout thread (0.5 s at most) + the backend what is left (>= 2 s:
#: its flush at most half of it, then its spin thread and executor the rest).
CLOSE_BUDGET = 4.0

__all__ = ["BridgeNode", "main", "run"]


class _Source:
    """An external event source for `Node.merge_external_events`: a ReadyQueue of ready events."""

    def __init__(self) -> None:
        self.queue: ReadyQueue[dict[str, Any]] = ReadyQueue(KEEP_ALL_DEPTH, "bridge events")

    def fileno(self) -> int:
        return self.queue.fileno()

    def take(self) -> dict[str, Any] | None:
        return self.queue.take(0.0)

    def put(self, event: dict[str, Any]) -> None:
        self.queue.put(event)


class _TopicSource:
    """ROS messages of one subscribed topic as external events for its output."""

    def __init__(self, subscriber: TopicSubscriber, output: str, report: CountedLog) -> None:
        self.subscriber = subscriber
        self.output = output
        self.report = report

    def fileno(self) -> int:
        return self.subscriber.fileno()

    def take(self) -> dict[str, Any] | None:
        try:
            value = self.subscriber.take(0.0)
        except MalformedSample as err:
            self.report.error(
                f"{self.subscriber.topic}: dropped a malformed {err.type_name} sample from the "
                f"network: {err.cause}",
                key=f"malformed:{self.subscriber.topic}",
            )
            return {"kind": "external", "drop": True}
        if value is None:
            return None
        return {"kind": "external", "output": self.output, "value": value, "metadata": {}}


class _PendingRequests:
    """Requests of a service server waiting for the dora handler's response, dropped after a timeout.

    One thread sleeps until the oldest request's deadline and drops what has expired (every request
    gets the same timeout, so insertion order is deadline order): the backend answers nothing, so
    the ROS client times out on its own, as with dora-rs. Without this a request the handler never
    answers would stay pending for the bridge's lifetime. The ids of the last `REMEMBERED` dropped
    requests are kept so that a late response gets an error saying what happened.
    """

    REMEMBERED = 1024
    #: Requests waiting at once; a newer one drops the oldest, as the backend's server does.
    LIMIT = MAX_PENDING_REQUESTS

    def __init__(self, server: ServiceServerEndpoint, timeout: float, report: CountedLog) -> None:
        self.timeout = timeout
        self._server = server
        self._report = report
        self._waiting: dict[str, tuple[int, float]] = {}  # request_id -> (backend id, deadline)
        self._dropped: dict[str, str] = {}  # dropped request_id -> why, oldest first
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._evict, name="service-timeouts", daemon=True)
        self._thread.start()

    def add(self, request_id: str, rid: int) -> None:
        """Track a request. The overflow rule is the backend server's alone (the oldest of
        `MAX_PENDING_REQUESTS` is dropped, `endpoints.py`): here, when the table is full,
        the requests the server no longer holds are forgotten and remembered as dropped."""
        with self._cond:
            if len(self._waiting) >= self.LIMIT:
                for gone in [
                    k for k, (r, _) in self._waiting.items() if not self._server.is_pending(r)
                ]:
                    del self._waiting[gone]
                    self._remember(gone, f"as the oldest of {self.LIMIT} waiting for a response")
            self._waiting[request_id] = (rid, time.monotonic() + self.timeout)
            if len(self._waiting) == 1:
                self._cond.notify()

    def _remember(self, request_id: str, why: str) -> None:
        self._dropped[request_id] = why
        if len(self._dropped) > self.REMEMBERED:
            del self._dropped[next(iter(self._dropped))]

    def get(self, request_id: str) -> int | None:
        with self._cond:
            entry = self._waiting.get(request_id)
        return None if entry is None else entry[0]

    def pop(self, request_id: str) -> int | None:
        with self._cond:
            entry = self._waiting.pop(request_id, None)
        return None if entry is None else entry[0]

    def why_dropped(self, request_id: str) -> str | None:
        """Why `request_id` was dropped, if it was (among the last `REMEMBERED`)."""
        with self._cond:
            return self._dropped.get(request_id)

    def _evict(self) -> None:
        with self._cond:
            while not self._closed:
                if not self._waiting:
                    self._cond.wait()
                    continue
                request_id, (rid, deadline) = next(iter(self._waiting.items()))
                delay = deadline - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                del self._waiting[request_id]
                self._remember(
                    request_id,
                    f"after {self.timeout:g} s without a response (ros2 key 'response_timeout')",
                )
                self._report.warning(
                    f"service {self._server.name}: no response to request_id {request_id} within "
                    f"{self.timeout:g} s; request dropped (its ROS client gets no response)",
                    key=f"timeout:{self._server.name}",
                )
                self._server.drop(rid)

    def close(self, budget: float = 1.0) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=budget)


class BridgeNode:
    """Runs one `ros2:` node: a ROS 2 node on one side, a dora-ros node on the other."""

    def __init__(
        self, spec: BridgeSpec, node_id: str, declared_outputs: list[str], inputs: list[str]
    ):
        self.spec = spec
        self.node_id = node_id
        self.declared_outputs = declared_outputs
        self.inputs = inputs
        self.events = _Source()  # results of worker threads (service/action clients)
        self.backend: Any = None
        self._publishers: dict[str, TopicPublisher] = {}  # input id -> its topic's publisher
        self._requests: _PendingRequests | None = None  # service server only
        self._server: Any = None  # a ServiceServerEndpoint or ActionServerEndpoint
        self._client: Any = None  # a ServiceClientEndpoint or ActionClientEndpoint
        #: Problems of this bridge node, logged once with a running count; summarised at close.
        self.report = CountedLog(log, f"bridge node '{node_id}'")
        self._workers = WorkerPool(f"{node_id}-calls", WORKERS, WAITING, self._dropped_job)
        self._cancels = WorkerPool(
            f"{node_id}-cancels",
            CANCEL_WORKERS,
            WAITING,
            self._dropped_job,
            stop=self._workers.stop,
        )
        self._stopping = self._workers.stop

    # --- set-up ----------------------------------------------------------------------------------

    def open(self, node: Any) -> None:
        spec = self.spec
        node_name = spec.node_name or self.node_id.replace("-", "_").replace(".", "_")
        self.backend = open_backend(
            spec.backend, node_name=node_name, namespace=spec.namespace, enable_rosout=False
        )
        namespace = self.backend.namespace

        def full(name: str) -> str:
            return resolve_name(name, namespace, node_name)

        if spec.mode == "topics":
            for topic in spec.topics:
                if topic.direction == "subscribe":
                    subscriber = TopicSubscriber(
                        self.backend, full(topic.topic), topic.message_type, topic.qos
                    )
                    output = topic.dora_id
                    declared = [o for o in self.declared_outputs if o != "error"]
                    if spec.single and declared:
                        output = declared[0]
                    node.merge_external_events(_TopicSource(subscriber, output, self.report))
                else:
                    publisher = TopicPublisher(
                        self.backend, full(topic.topic), topic.message_type, topic.qos
                    )
                    ids = self.inputs if spec.single and self.inputs else [topic.dora_id]
                    for input_id in ids:
                        self._publishers[input_id] = publisher
        else:
            assert spec.name is not None and spec.type_name is not None
            name = full(spec.name)
            if spec.mode == "service" and spec.role == "server":
                self._server = ServiceServerEndpoint(self.backend, name, spec.type_name, spec.qos)
                self._requests = _PendingRequests(self._server, spec.response_timeout, self.report)
                node.merge_external_events(
                    _Adapter(
                        self._server.take, self._server.fileno, self._on_request, self._malformed
                    )
                )
            elif spec.mode == "service":
                self._client = ServiceClientEndpoint(self.backend, name, spec.type_name, spec.qos)
            elif spec.role == "server":
                self._server = ActionServerEndpoint(
                    self.backend, name, spec.type_name, spec.qos,
                    result_timeout=spec.result_timeout,
                )  # fmt: skip
                node.merge_external_events(
                    _Adapter(
                        self._server.take_goal,
                        self._server.goals.fileno,
                        self._on_goal,
                        self._malformed,
                    )
                )
                node.merge_external_events(
                    _Adapter(
                        self._server.cancels.take, self._server.cancels.fileno, self._on_cancel
                    )
                )
            else:
                self._client = ActionClientEndpoint(self.backend, name, spec.type_name, spec.qos)
        node.merge_external_events(self.events)

    def _fail(self, message: str, params: Mapping[str, Any] | None, key: str | None = None) -> None:
        """A failure the dora node should hear of: logged (counted), and sent on its `error`
        output when it declares one, with the metadata of the input that caused it. Messages that
        differ only in a request or goal id count as one."""
        self.report.error(message, key if key is not None else _UUID.sub("<id>", message))
        if "error" in self.declared_outputs:
            self.events.put(
                {
                    "kind": "external",
                    "output": "error",
                    "value": pa.array([message]),
                    "metadata": dict(params or {}),
                }
            )

    def _dropped_job(self, what: tuple[str, dict[str, Any]], reason: str) -> None:
        kind, params = what
        if self._stopping.is_set():
            self.report.warning(f"{kind}s abandoned: {reason}", key=f"abandoned:{kind}")
            return
        self._fail(f"{kind} dropped: {reason}", params, key=f"dropped:{kind}")

    # --- ROS -> dora -----------------------------------------------------------------------------

    def _malformed(self, err: MalformedSample) -> None:
        """A request (dropped by the core) or goal (aborted by the core) that did not decode."""
        done = "dropped" if self.spec.mode == "service" else "aborted"
        self.report.error(
            f"{err.what}: {done}, malformed: {err.cause}", key=f"malformed:{self._server.name}"
        )

    def _on_request(self, item: tuple[int, pa.StructArray]) -> dict[str, Any] | None:
        rid, value = item
        assert self._requests is not None
        request_id = str(uuid.uuid4())
        self._requests.add(request_id, rid)
        return {"output": "request", "value": value, "metadata": {"request_id": request_id}}

    def _on_goal(self, item: tuple[str, pa.StructArray]) -> dict[str, Any] | None:
        goal_id, value = item
        return {"output": "goal", "value": value, "metadata": {"goal_id": goal_id}}

    def _on_cancel(self, goal_id: str) -> dict[str, Any]:
        return {"output": "cancel", "value": pa.array([goal_id]), "metadata": {"goal_id": goal_id}}

    # --- dora -> ROS -----------------------------------------------------------------------------

    def on_input(self, input_id: str, value: Any, metadata: Mapping[str, Any]) -> None:
        """Route one dora input; a value that does not fit the type raises BridgeError."""
        spec = self.spec
        where = f"input '{input_id}'"
        if spec.mode == "topics":
            target = self._publishers.get(input_id)
            if target is None:
                raise BridgeError(
                    f"{where} is not bridged to any topic (known: {', '.join(self._publishers)})"
                )
            # The hot path of dora -> ROS. Measured per 1080p Image (6.2 MB, rclpy backend, quiet
            # VM): the value arrives over shared memory 0.4 ms after the dora node's send_output
            # (1.7 ms) returns; msgconv's encode from the Arrow row 1.5 ms (one copy of the
            # pixels into the CDR bytes); the write 3.3 ms (rcl takes the bytes in place, rmw
            # copies them into Fast DDS). Nothing here touches the payload in Python.
            target.publish(value, f"{where} -> {target.topic}")
            return
        assert spec.type_name is not None
        params = dict(metadata or {})
        if spec.mode == "service" and spec.role == "server":
            assert self._requests is not None
            request_id = str(params.get("request_id", ""))
            if self._requests.get(request_id) is None:
                raise self._no_request(where, request_id)
            # Encoded before the request leaves the table: a handler whose response does not fit
            # the type can still send a fixed one.
            data = self._server.encode_response(value, f"{where} (response)")
            rid = self._requests.pop(request_id)
            if rid is None:  # dropped by the timeout in the meantime
                raise self._no_request(where, request_id)
            self._server.respond(rid, data)
        elif spec.mode == "service":
            data = self._client.encode_request(value, f"{where} (request)")
            self._workers.submit(
                lambda stop: self._call(data, params, stop), ("service call", params)
            )
        elif spec.role == "server":
            goal_id = str(params.get("goal_id", ""))
            if not goal_id:
                raise BridgeError(
                    f"{where}: no 'goal_id' metadata parameter; pass the goal's metadata back"
                )
            if input_id == "feedback":
                self._server.send_feedback(goal_id, value, f"{where} (feedback)")
            elif input_id == "result":
                asked = str(params.get("goal_status") or "succeeded")
                status, known = result_status(asked)
                if not known:
                    log.warning(
                        "%s: goal_status %r is not succeeded/aborted/canceled: aborting",
                        where,
                        asked.lower(),
                    )
                data = self._server.encode_result(value, f"{where} (result)")
                self._server.send_result(goal_id, data, status)
            else:
                raise BridgeError(f"{where}: an action server takes inputs 'feedback' and 'result'")
        elif input_id == "cancel":
            cancel_id = params.get("goal_id") or _first_string(value)
            self._cancels.submit(lambda stop: self._cancel(cancel_id, params), ("cancel", params))
        else:
            data = self._client.encode_goal(value, f"{where} (goal)")
            self._workers.submit(lambda stop: self._run_goal(data, params, stop), ("goal", params))

    def _no_request(self, where: str, request_id: str) -> BridgeError:
        assert self._requests is not None
        why = self._requests.why_dropped(request_id)
        if why is not None:
            return BridgeError(
                f"{where}: late response to request_id {request_id!r} on service "
                f"{self._server.name}: the request was dropped {why}; response ignored"
            )
        return BridgeError(
            f"{where}: response without a known 'request_id' metadata parameter "
            f"({request_id!r}); pass the request's metadata back with the response"
        )

    def _call(self, data: bytes, params: dict[str, Any], stop: threading.Event) -> None:
        try:
            value = self._client.call(data, self.spec.response_timeout, stop)
        except DoraRosError as err:
            if not stop.is_set():
                self._fail(str(err), params)
            return
        self.events.put(
            {"kind": "external", "output": "response", "value": value, "metadata": params}
        )

    def _run_goal(self, data: bytes, params: dict[str, Any], stop: threading.Event) -> None:
        """Send one goal, forward its feedback and result; at most `goal_timeout` s in all (then
        the goal is canceled), and ends as soon as `stop` is set."""
        assert self.spec.type_name is not None
        client = self._client
        timeout = self.spec.goal_timeout
        deadline = time.monotonic() + timeout
        try:
            goal_id = client.send_goal(data, min(CALL_TIMEOUT, timeout), stop)
        except DoraRosError as err:
            if not stop.is_set():
                self._fail(str(err), params)
            return
        if goal_id is None:
            self.events.put(
                {
                    "kind": "external",
                    "output": "result",
                    "value": default_value(part_type(self.spec.type_name, "Result")),
                    "metadata": {**params, "goal_status": "rejected"},
                }
            )
            return
        meta = {**params, "goal_id": goal_id}
        try:
            while not stop.is_set():
                ended = client.ended(goal_id)  # before draining: no feedback is left behind
                while True:
                    try:
                        value = client.take_feedback(goal_id, 0.0 if ended else 0.05)
                    except MalformedSample as err:  # one bad feedback does not end the goal
                        self.report.error(
                            f"action {client.name}: dropped a malformed feedback of goal "
                            f"{goal_id}: {err.cause}",
                            key=f"malformed feedback:{client.name}",
                        )
                        continue
                    if value is None:
                        break
                    self.events.put(
                        {"kind": "external", "output": "feedback", "value": value, "metadata": meta}
                    )
                    if not ended:
                        break  # look at the goal's end and at STOP between feedbacks
                if ended:
                    outcome = client.take_result(goal_id, 0.0)
                    break
                if time.monotonic() > deadline:
                    client.cancel(goal_id, 5.0)
                    raise BridgeError(
                        f"action {client.name}: goal {goal_id} has no result after "
                        f"{timeout:g} s (ros2 key 'goal_timeout'); canceled"
                    )
            else:
                return  # stopping
            if outcome is None:  # ended, so the result is there; None only if just released
                raise BridgeError(f"action {client.name}: goal {goal_id} ended without a result")
            status, value = outcome
        except DoraRosError as err:
            if not stop.is_set():
                self._fail(str(err), meta)
            return
        self.events.put(
            {
                "kind": "external",
                "output": "result",
                "value": value,
                "metadata": {**meta, "goal_status": status},
            }
        )

    def _cancel(self, goal_id: Any, params: dict[str, Any]) -> None:
        try:
            code = self._client.cancel(str(goal_id) if goal_id else None, CANCEL_TIMEOUT)
            if code:
                self._fail(
                    f"action {self._client.name}: cancel of goal {goal_id} answered with code "
                    f"{code}",
                    params,
                    key=f"cancel refused:{self._client.name}",
                )
        except DoraRosError as err:
            self._fail(str(err), params)

    def close(self) -> None:
        """Stop within the supervisor's grace period, `CLOSE_BUDGET` s in all: workers get
        `STOP_BUDGET` s, then the backend closes with what is left (flushing first); then the
        summary of this run's problems."""
        deadline = time.monotonic() + CLOSE_BUDGET
        workers_done = time.monotonic() + STOP_BUDGET
        running = self._workers.close(STOP_BUDGET)
        running += self._cancels.close(max(0.0, workers_done - time.monotonic()))
        if running:
            self.report.warning(f"{running} calls still running at STOP, left behind")
        if self._requests is not None:
            self._requests.close(min(0.5, max(0.0, deadline - time.monotonic())))
        if self.backend is not None:
            self.backend.close(max(0.0, deadline - time.monotonic()))
        self.events.queue.close()
        self.report.close()


class _Adapter:
    """Turns an endpoint's queue (`take`, `fileno`) into an external source through `convert`;
    a sample that did not decode goes to `malformed` and is skipped."""

    def __init__(self, take: Any, fileno: Any, convert: Any, malformed: Any = None) -> None:
        self._take = take
        self._fileno = fileno
        self._convert = convert
        self._malformed = malformed

    def fileno(self) -> int:
        return int(self._fileno())

    def take(self) -> dict[str, Any] | None:
        try:
            item = self._take(0.0)
        except MalformedSample as err:
            if self._malformed is None:
                raise
            self._malformed(err)
            return {"kind": "external", "drop": True}
        if item is None:
            return None
        event = self._convert(item)
        return (
            {"kind": "external", "drop": True} if event is None else {"kind": "external", **event}
        )


def _first_string(value: Any) -> str | None:
    try:
        item = value[0].as_py() if len(value) else None
    except Exception:
        return None
    return item if isinstance(item, str) else None


def run(payload: Mapping[str, Any]) -> int:
    """Run the bridge node described by `payload` (see `Ros2NodeKind.command`)."""
    from .. import Node

    node_id = str(payload.get("node_id", "ros2"))
    spec = parse_bridge_config(payload.get("ros2") or {}, node_id)
    output_types = spec.output_types()
    node = Node()
    bridge = BridgeNode(
        spec, node_id, list(payload.get("declared_outputs", [])), list(payload.get("inputs", []))
    )
    try:
        bridge.open(node)
        for event in node:
            if event is None:
                break
            if event.get("kind") == "external":
                if event.get("drop"):
                    continue
                # Every value names its ROS type (`ros2.type`), so a receiver can tell what it got.
                metadata = dict(event.get("metadata") or {})
                ros_type = output_types.get(event["output"])
                if ros_type is not None:
                    metadata[ROS_TYPE_KEY] = ros_type
                node.send_output(event["output"], event["value"], metadata or None)
                continue
            kind = event.get("type")
            if kind == "INPUT":
                metadata = event.get("metadata") or {}
                try:
                    bridge.on_input(event["id"], event["value"], metadata)
                except DoraRosError as err:
                    bridge._fail(str(err), metadata)
            elif kind == "STOP":
                break
            elif kind == "ERROR":
                log.error("dora error event: %s", event.get("error"))
    finally:
        bridge.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dora_ros.bridge.bridge_node", description=__doc__
    )
    parser.add_argument(
        "--config", required=True, help="JSON: node_id, ros2, declared_outputs, inputs"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        return run(json.loads(args.config))
    except DoraRosError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
