"""The bridge's Python API: `Ros2Context` and friends, call-compatible with dora-rs 1.1's.

Code written for `dora.Ros2Context` runs by changing its import to `dora_ros.bridge`: the classes,
method names, signatures, defaults and return values are dora-rs 1.1's (checked against the
installed `dora` with `inspect.signature` in `tests/bridge/test_python_api.py`). Differences:

- QoS defaults are ROS 2's (reliable, volatile, keep_last 10), see `qos.py`.
- Additions that do not break dora's calls: `Ros2Context(backend=...)`; `wait_for_service`,
  `wait_for_action_server`; `create_action_server(..., auto_accept=False)` with
  `accept_goal`/`reject_goal`; feedback queued per goal; `Ros2Subscription.next(timeout=...)`,
  `fileno()`/`take()` for `Node.merge_external_events`; every object has `close()` and is a
  context manager.

Values are Arrow: each message crosses as a one-row `pa.StructArray` of msgconv's schema; anything
msgconv can encode (a dict, a struct array with looser types, missing fields) is accepted going out.

This is the Python face of the bridge's core (`endpoints.py`, shared with the YAML bridge): the
classes here give dora-rs's names, signatures and defaults and raise errors (every `BridgeError`
is a `RuntimeError`); what an endpoint does is the core's.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from typing import Any

import pyarrow as pa

from ..errors import BridgeError, MsgConvError
from .backend import (
    Backend,
    Closeable,
    UnsupportedRoleError,
    domain_id_from_env,
    open_backend,
    resolve_backend_name,
)
from .codec import MalformedSample, decode, encode
from .endpoints import (
    CALL_TIMEOUT,
    CANCEL_TIMEOUT,
    END_STATUSES,
    RESULT_TIMEOUT,
    ActionClientEndpoint,
    ActionServerEndpoint,
    ServiceClientEndpoint,
    ServiceServerEndpoint,
    TopicPublisher,
    TopicSubscriber,
    result_status,
)
from .graph_config import DEFAULT_RESULT_TIMEOUT, positive_seconds
from .names import canonical_type, part_type, resolve_name
from .qos import SERVICE_QOS, Ros2QosPolicies
from .roles import require
from .ros2_transport import transport_kind

log = logging.getLogger(__name__)

__all__ = [
    "Ros2ActionClient",
    "Ros2ActionServer",
    "Ros2Context",
    "Ros2Node",
    "Ros2NodeOptions",
    "Ros2Publisher",
    "Ros2ServiceClient",
    "Ros2ServiceServer",
    "Ros2Subscription",
    "Ros2Topic",
    "decode",
    "encode",
]


def _timeout(value: float | None, default: float) -> float:
    if value is None:
        return default
    value = float(value)
    return value if value >= 0 else default


# --- context, node, options ----------------------------------------------------------------------


class Ros2NodeOptions:
    """Options of a bridge ROS 2 node (signature of `dora.Ros2NodeOptions`)."""

    def __init__(self, rosout: bool | None = None) -> None:
        self.rosout = bool(rosout) if rosout is not None else False

    def __repr__(self) -> str:
        return f"Ros2NodeOptions(rosout={self.rosout})"


class Ros2Context(Closeable):
    """Where ROS 2 nodes of the bridge live: one DDS domain, one backend.

    Args:
        ros_paths: extra folders with interface packages (`<dir>/<pkg>/msg/*.msg` or a prefix with
            `share/<pkg>/...`), searched by msgconv in addition to `AMENT_PREFIX_PATH`.
        transport: `Ros2Transport.dds()` (or None, `"dds"`): the bridge's DDS backends. A
            `Ros2Transport.zenoh(...)` is a BridgeError: dora-ros does not speak rmw_zenoh.
        domain_id: the ROS 2 domain; None = `$ROS_DOMAIN_ID`, else 0.
        backend: `"rclpy"` (default) or `"cyclonedds"` (topics only); None = `$DORA_ROS_BRIDGE_BACKEND`.
    """

    def __init__(
        self,
        ros_paths: list[str] | None = None,
        transport: Any = None,
        domain_id: int | None = None,
        backend: str | None = None,
    ) -> None:
        kind = transport_kind(transport)
        if kind == "zenoh":
            raise BridgeError(
                "transport 'zenoh' is not supported: dora-ros's bridge speaks DDS only and does not "
                "implement rmw_zenoh's protocol; use Ros2Transport.dds() (the default) and run the "
                "ROS 2 peers with a DDS rmw (rmw_fastrtps_cpp or rmw_cyclonedds_cpp)"
            )
        if kind != "dds":
            raise BridgeError(
                f"transport {kind!r} is not supported: dora-ros's bridge speaks DDS "
                "(Ros2Transport.dds(), the default)"
            )
        self.transport_kind = kind
        self.backend = resolve_backend_name(backend)
        self.domain_id = domain_id_from_env() if domain_id is None else int(domain_id)
        if not 0 <= self.domain_id <= 232:
            raise BridgeError(f"domain_id {self.domain_id} is out of range 0..232")
        self.ros_paths = [os.fspath(p) for p in ros_paths or ()]
        if self.ros_paths:
            _add_msg_paths(self.ros_paths)
        self._nodes: list[Ros2Node] = []

    def new_node(
        self,
        name: str,
        namespace: str,
        options: Ros2NodeOptions,
        parameters: dict[str, Any] | None = None,
    ) -> Ros2Node:
        """Create a ROS 2 node; `parameters` declares its initial ROS 2 parameters."""
        if parameters and self.backend != "rclpy":
            raise UnsupportedRoleError(
                f"ROS 2 parameters need backend 'rclpy' (this context uses {self.backend!r})"
            )
        if parameters and "use_sim_time" in parameters:
            # As dora-rs: every ROS 2 node has it already; it is set, not declared.
            raise BridgeError(
                f"node {name!r}: `use_sim_time` is a built-in parameter and cannot be declared in "
                "`parameters`; set it with `set_parameter('use_sim_time', True)` instead"
            )
        node = Ros2Node(self, name, namespace, options, parameters)
        self._nodes.append(node)
        return node

    def close(self) -> None:
        """Close every node of this context."""
        for node in self._nodes:
            node.close()
        self._nodes.clear()

    def __repr__(self) -> str:
        return f"Ros2Context(domain_id={self.domain_id}, backend={self.backend!r})"


def _add_msg_paths(paths: list[str]) -> None:
    from .. import msgconv

    adder = getattr(msgconv, "add_search_path", None) or getattr(msgconv, "add_msg_path", None)
    if adder is None:  # pragma: no cover - depends on msgconv's final API
        os.environ["DORA_ROS_MSG_PATH"] = os.pathsep.join(
            [*paths, *filter(None, os.environ.get("DORA_ROS_MSG_PATH", "").split(os.pathsep))]
        )
        return
    for path in paths:
        adder(path)


class Ros2Topic:
    """A topic name with its message type and QoS (made by `Ros2Node.create_topic`)."""

    def __init__(self, name: str, message_type: str, qos: Ros2QosPolicies) -> None:
        self.name = name
        self.message_type = message_type
        self.qos = qos

    def __repr__(self) -> str:
        return f"Ros2Topic({self.name!r}, {self.message_type!r})"


class Ros2Node(Closeable):
    """One ROS 2 node of the bridge (made by `Ros2Context.new_node`)."""

    def __init__(
        self,
        context: Ros2Context,
        name: str,
        namespace: str,
        options: Ros2NodeOptions,
        parameters: dict[str, Any] | None,
    ) -> None:
        self.name = name
        self.namespace = "/" + namespace.strip("/") if namespace and namespace.strip("/") else "/"
        self.context = context
        self._backend: Backend = open_backend(
            context.backend,
            node_name=name,
            namespace=self.namespace,
            domain_id=context.domain_id,
            enable_rosout=bool(options.rosout) if options is not None else False,
            parameters=parameters,
        )
        # The names in effect: a launch file's `--ros-args -r __node:=/__ns:=` renames the node.
        self.name = getattr(self._backend, "node_name", name)
        self.namespace = getattr(self._backend, "namespace", self.namespace)
        self._closables: list[Any] = []

    @property
    def backend(self) -> Backend:
        return self._backend

    def _name(self, name: str) -> str:
        return resolve_name(name, self.namespace, self.name)

    def _track(self, obj: Any) -> Any:
        self._closables.append(obj)
        return obj

    # --- topics ----------------------------------------------------------------------------------

    def create_topic(self, name: str, message_type: str, qos: Ros2QosPolicies) -> Ros2Topic:
        """A topic to publish or subscribe to (the type is checked here)."""
        canonical = canonical_type(message_type, "msg")
        _check_type(canonical)
        return Ros2Topic(self._name(name), canonical, qos if qos is not None else Ros2QosPolicies())

    def create_publisher(
        self, topic: Ros2Topic, qos: Ros2QosPolicies | None = None
    ) -> Ros2Publisher:
        """A publisher on `topic` (with `qos`, or the topic's)."""
        core = TopicPublisher(self._backend, topic.name, topic.message_type, qos or topic.qos)
        return self._track(Ros2Publisher(topic, core))

    def create_subscription(
        self, topic: Ros2Topic, qos: Ros2QosPolicies | None = None
    ) -> Ros2Subscription:
        """A subscription to `topic` (with `qos`, or the topic's)."""
        core = TopicSubscriber(self._backend, topic.name, topic.message_type, qos or topic.qos)
        return self._track(Ros2Subscription(topic, core))

    # --- services and actions --------------------------------------------------------------------

    def create_service_client(
        self,
        service_name: str,
        service_type: str,
        qos: Ros2QosPolicies | None = None,
        wait_timeout_s: float = 20.0,
    ) -> Ros2ServiceClient:
        """A service client; waits up to `wait_timeout_s` (20 s, as dora) for a server."""
        canonical = canonical_type(service_type, "srv")
        _check_type(part_type(canonical, "Request"))
        client = ServiceClientEndpoint(
            self._backend, self._name(service_name), canonical, qos or SERVICE_QOS
        )
        wrapper = self._track(Ros2ServiceClient(canonical, client))
        if wait_timeout_s and not client.wait_for_service(wait_timeout_s):
            raise BridgeError(
                f"service {client.name} ({canonical}) not available after {wait_timeout_s:g} s"
            )
        return wrapper

    def create_service_server(
        self, service_name: str, service_type: str, qos: Ros2QosPolicies | None = None
    ) -> Ros2ServiceServer:
        """A service server driven by `take_request` / `send_response`."""
        canonical = canonical_type(service_type, "srv")
        _check_type(part_type(canonical, "Request"))
        server = ServiceServerEndpoint(
            self._backend, self._name(service_name), canonical, qos or SERVICE_QOS
        )
        return self._track(Ros2ServiceServer(canonical, server))

    def create_action_client(
        self, action_name: str, action_type: str, qos: Ros2QosPolicies | None = None
    ) -> Ros2ActionClient:
        """An action client (see `Ros2ActionClient`)."""
        canonical = canonical_type(action_type, "action")
        _check_type(part_type(canonical, "Goal"))
        client = ActionClientEndpoint(
            self._backend, self._name(action_name), canonical, qos or SERVICE_QOS
        )
        return self._track(Ros2ActionClient(canonical, client))

    def create_action_server(
        self,
        action_name: str,
        action_type: str,
        qos: Ros2QosPolicies | None = None,
        auto_accept: bool = True,
        result_timeout: float = DEFAULT_RESULT_TIMEOUT,
    ) -> Ros2ActionServer:
        """An action server; with `auto_accept=False` each goal waits for `accept_goal`/`reject_goal`.
        An ended goal's result is kept `result_timeout` s for clients that ask later (rclpy's
        `ActionServer(result_timeout=...)`, 900 by default)."""
        canonical = canonical_type(action_type, "action")
        _check_type(part_type(canonical, "Goal"))
        if not positive_seconds(result_timeout):
            raise BridgeError(
                f"create_action_server({action_name!r}): result_timeout {result_timeout!r} must be"
                " a positive number of seconds"
            )
        server = ActionServerEndpoint(
            self._backend, self._name(action_name), canonical, qos or SERVICE_QOS, auto_accept,
            result_timeout=float(result_timeout),
        )  # fmt: skip
        return self._track(Ros2ActionServer(canonical, server))

    # --- parameters ------------------------------------------------------------------------------

    def set_parameter(self, name: str, value: bool | int | float | str | bytes | list[Any]) -> None:
        """Set (declaring if needed) a ROS 2 parameter; visible to `ros2 param` and rclpy clients."""
        require(self._backend, "parameters").set_parameter(name, value)

    def get_parameter(self, name: str) -> bool | int | float | str | bytes | list[Any] | None:
        """A parameter's value, or None if it is not set."""
        return require(self._backend, "parameters").get_parameter(name)

    def list_parameters(self) -> list[str]:
        """The names of all declared parameters."""
        return require(self._backend, "parameters").list_parameters()

    def has_parameter(self, name: str) -> bool:
        """Whether a parameter is declared."""
        return bool(require(self._backend, "parameters").has_parameter(name))

    def close(self) -> None:
        """Destroy the node and everything created on it."""
        self._closables.clear()
        self._backend.close()

    def __repr__(self) -> str:
        return (
            f"Ros2Node({self.name!r}, namespace={self.namespace!r}, backend={self._backend.name!r})"
        )


def _check_type(type_name: str) -> None:
    """Fail early, naming the type, if msgconv does not know `type_name`."""
    from .. import msgconv

    try:
        msgconv.arrow_type(type_name)
    except MsgConvError as err:
        raise BridgeError(str(err)) from err


# --- topics --------------------------------------------------------------------------------------
#
# The classes below are the Python API's face of the core (`endpoints.py`): dora-rs's names,
# signatures and defaults, errors raised (a `BridgeError` is a `RuntimeError`), nothing else.


class Ros2Publisher(Closeable):
    """Publishes Arrow values on a topic."""

    def __init__(self, topic: Ros2Topic, core: TopicPublisher) -> None:
        self.topic = topic
        self._core = core
        self._writer = core.writer

    def publish(self, data: Any) -> None:
        """Publish each row of a struct array (or one dict) as one message.

        Raises:
            BridgeError: the value does not fit the message type (names the field).
        """
        self._core.publish(data, f"publish on {self.topic.name}")

    def matched_count(self) -> int:
        """How many subscriptions currently match (extension)."""
        return self._core.matched_count()

    def close(self) -> None:
        self._core.close()

    def __repr__(self) -> str:
        return f"Ros2Publisher({self.topic.name!r})"


class Ros2Subscription(Closeable):
    """Receives messages of a topic as one-row struct arrays.

    `next()` returns the next message or None when none is queued (dora's behaviour); with
    `timeout` it waits that long. For `Node.merge_external_events`, `fileno()` is readable while
    a message is queued and `take()` gives `{"kind": "external", "value": array}`. A sample whose
    bytes do not decode is logged and dropped.
    """

    def __init__(self, topic: Ros2Topic, core: TopicSubscriber) -> None:
        self.topic = topic
        self._core = core
        self._reader = core.reader

    @property
    def dropped(self) -> int:
        """Messages dropped because the queue held its QoS depth (`keep_last`), the oldest first."""
        return self._core.dropped

    @property
    def malformed(self) -> int:
        """Samples whose bytes did not decode, logged and dropped."""
        return self._core.malformed

    def next(self, timeout: float | None = 0.0) -> pa.StructArray | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return self._core.take(remaining)
            except MalformedSample as err:
                log.warning(
                    "%s: dropped a malformed %s sample: %s",
                    self.topic.name,
                    self.topic.message_type,
                    err.cause,
                )

    def fileno(self) -> int:
        return self._core.fileno()

    def take(self) -> dict[str, Any] | None:
        value = self.next(0.0)
        return None if value is None else {"kind": "external", "value": value}

    def matched_count(self) -> int:
        """How many publishers currently match (extension)."""
        return self._core.matched_count()

    def close(self) -> None:
        self._core.close()

    def __iter__(self) -> Ros2Subscription:
        return self

    def __next__(self) -> pa.StructArray:
        value = self.next(None)
        if value is None:
            raise StopIteration
        return value

    def __repr__(self) -> str:
        return f"Ros2Subscription({self.topic.name!r})"


# --- services ------------------------------------------------------------------------------------


class Ros2ServiceClient:
    """Calls a ROS 2 service with Arrow requests."""

    def __init__(self, service_type: str, core: ServiceClientEndpoint) -> None:
        self.service_type = service_type
        self._core = core
        self._client = core.client

    def wait_for_service(self, timeout_s: float | None = None) -> bool:
        """Wait up to `timeout_s` (None = forever) for a server; whether one is there (extension)."""
        return self._core.wait_for_service(timeout_s)

    def call(self, request: Any, timeout_s: float | None = None) -> pa.StructArray:
        """Send `request` and block for the response (default timeout 30 s, then BridgeError).

        A response whose bytes do not decode as the type is a BridgeError (a RuntimeError, as
        dora-rs raises) naming the service and the type."""
        data = self._core.encode_request(request, f"request to {self._core.name}")
        return self._core.call(data, _timeout(timeout_s, CALL_TIMEOUT))

    def close(self) -> None:
        self._core.close()

    def __repr__(self) -> str:
        return f"Ros2ServiceClient({self._core.name!r}, {self.service_type!r})"


class Ros2ServiceServer:
    """Serves a ROS 2 service: `take_request` then `send_response` (any order between requests)."""

    def __init__(self, service_type: str, core: ServiceServerEndpoint) -> None:
        self.service_type = service_type
        self._core = core
        self._server = core.server

    def take_request(self, timeout_s: float | None = None) -> tuple[int, pa.StructArray] | None:
        """The next `(request_id, request)`, waiting up to `timeout_s` (default 1 s); else None.

        At most `MAX_PENDING_REQUESTS` (64) requests are held, taken or not; a newer one drops
        the oldest, which then gets no response (logged once, then as a running count). A request
        that does not decode is dropped (its client gets no response) and raised as a BridgeError
        naming the service and the type.
        """
        return self._core.take(_timeout(timeout_s, 1.0))

    def send_response(self, request_id: int, response: Any) -> None:
        """Answer the request `request_id` (BridgeError naming the field if it does not fit)."""
        data = self._core.encode_response(response, f"response on {self._core.name}")
        self._core.respond(int(request_id), data)

    def fileno(self) -> int:
        return self._core.fileno()

    def close(self) -> None:
        self._core.close()

    def __repr__(self) -> str:
        return f"Ros2ServiceServer({self._core.name!r}, {self.service_type!r})"


# --- actions -------------------------------------------------------------------------------------


class Ros2ActionClient:
    """Calls a ROS 2 action: `send_goal`, per-goal `take_feedback`, `take_result`, `cancel`."""

    def __init__(self, action_type: str, core: ActionClientEndpoint) -> None:
        self.action_type = action_type
        self._core = core
        self._client = core.client

    def wait_for_action_server(self, timeout_s: float | None = None) -> bool:
        """Wait up to `timeout_s` (None = forever) for the server; whether it is there (extension)."""
        return self._core.wait_for_server(timeout_s)

    wait_for_server = wait_for_action_server

    def send_goal(self, goal: Any, timeout_s: float | None = None) -> str | None:
        """Send a goal; its goal id (UUID string) if accepted, None if rejected (timeout 30 s).

        Within the timeout, waits for the action server to be matched before sending (a goal
        sent earlier would be lost). At most 8 goals are in flight at once (dora-rs's bound).
        """
        data = self._core.encode_goal(goal, f"goal to {self._core.name}")
        return self._core.send_goal(data, _timeout(timeout_s, CALL_TIMEOUT))

    def take_feedback(self, goal_id: str, timeout_s: float | None = None) -> pa.StructArray | None:
        """One feedback message of `goal_id`, waiting up to `timeout_s` (default 1 s); else None.

        Raises:
            BridgeError: unknown goal_id (never accepted, or its result was taken already), or a
                feedback message that does not decode as the type (the goal goes on: take the
                next one).
        """
        return self._core.take_feedback(goal_id, _timeout(timeout_s, 1.0))

    def take_result(
        self, goal_id: str, timeout_s: float | None = None
    ) -> tuple[str, pa.StructArray] | None:
        """`(status, result)` of `goal_id` once it ends, or None on timeout (default 300 s); a
        result that does not decode is a BridgeError naming the action and the type."""
        return self._core.take_result(goal_id, _timeout(timeout_s, RESULT_TIMEOUT))

    def cancel(self, goal_id: str | None = None, timeout_s: float | None = None) -> int:
        """Cancel `goal_id` (all goals when None); the CancelGoal return code (0 = accepted)."""
        return self._core.cancel(goal_id, _timeout(timeout_s, CANCEL_TIMEOUT))

    def close(self) -> None:
        self._core.close()

    def __repr__(self) -> str:
        return f"Ros2ActionClient({self._core.name!r}, {self.action_type!r})"


class Ros2ActionServer:
    """Serves a ROS 2 action: `take_goal`, `send_feedback`, `send_result`, `take_cancel`."""

    def __init__(self, action_type: str, core: ActionServerEndpoint) -> None:
        self.action_type = action_type
        self._core = core
        self._server = core.server

    @property
    def result_timeout(self) -> float:
        """Seconds an ended goal's result is kept for clients (`create_action_server`'s)."""
        return self._server.result_timeout

    def take_goal(self, timeout_s: float | None = None) -> tuple[str, pa.StructArray] | None:
        """The next `(goal_id, goal)`, waiting up to `timeout_s` (default 1 s); else None.

        With auto-accept (the default) the goal is already accepted and executing; otherwise
        answer it with `accept_goal` or `reject_goal`. A goal that does not decode is aborted
        (rejected without auto-accept) and raised as a BridgeError naming the action and the type.
        """
        return self._core.take_goal(_timeout(timeout_s, 1.0))

    def accept_goal(self, goal_id: str) -> None:
        """Accept a goal taken from a server made with `auto_accept=False` (extension)."""
        self._core.decide(goal_id, True)

    def reject_goal(self, goal_id: str) -> None:
        """Reject a goal taken from a server made with `auto_accept=False` (extension)."""
        self._core.decide(goal_id, False)

    def send_feedback(self, goal_id: str, feedback: Any) -> None:
        """Publish one feedback message for an executing goal."""
        self._core.send_feedback(goal_id, feedback, f"feedback on {self._core.name}")

    def send_result(
        self,
        goal_id: str,
        result: Any,
        status: str | None = None,
        timeout_s: float | None = None,
    ) -> None:
        """End `goal_id` with `result` and `status` (`succeeded` default, `aborted`, `canceled`;
        anything else is aborted, with a warning).

        As in dora-rs, waits (up to `timeout_s`, default 300 s) until the result has been
        delivered in answer to a client's get-result request, so a server may exit right after;
        if no client asks in time, a warning is logged and the result stays with the server for
        clients that ask later (until the goal expires)."""
        name, known = result_status(status)
        if not known:
            warnings.warn(
                f"goal status {status!r} is not one of {END_STATUSES}: aborting", stacklevel=2
            )
        data = self._core.encode_result(result, f"result on {self._core.name}")
        delivered = self._core.send_result(goal_id, data, name)
        wait = _timeout(timeout_s, RESULT_TIMEOUT)
        try:
            if not delivered.wait(wait):
                log.warning(
                    "action %s: no client asked for the result of goal %s within %g s; the "
                    "server keeps it until the goal expires",
                    self._core.name,
                    goal_id,
                    wait,
                )
        finally:
            self._core.forget_delivery(goal_id)

    def take_cancel(self, timeout_s: float | None = None) -> list[str] | None:
        """Goal ids a client asked to cancel (answer each with `send_result(status="canceled")`),
        waiting up to `timeout_s` (default 1 s); None if none."""
        first = self._core.cancels.take(_timeout(timeout_s, 1.0))
        if first is None:
            return None
        ids = [first]
        while (more := self._core.cancels.take(0.0)) is not None:
            ids.append(more)
        return ids

    def is_cancel_requested(self, goal_id: str) -> bool:
        """Whether a client asked to cancel `goal_id` (extension)."""
        return self._core.is_cancel_requested(goal_id)

    def close(self) -> None:
        self._core.close()

    def __repr__(self) -> str:
        return f"Ros2ActionServer({self._core.name!r}, {self.action_type!r})"
