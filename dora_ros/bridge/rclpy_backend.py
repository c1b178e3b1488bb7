"""The default DDS backend: one rclpy node spun by a background executor thread.

Topics move raw CDR: subscriptions are created with `raw=True` (rclpy hands the callback the
serialized bytes, no message object is built) and publishers are given `bytes`, which rclpy
publishes with `publish_raw`. Conversion to and from Arrow is msgconv's, done by the caller.

Services and actions use rclpy's own machinery (it pairs replies with requests the way Fast DDS
expects) and therefore rclpy message objects on their control path: a request arriving here is
re-serialized with `serialize_message` and handed on as CDR, and CDR coming back is turned into a
message object with `deserialize_message`. Both are C functions working on the type support, so
this is the fastest correct path that keeps msgconv the only Arrow<->CDR converter; services and
actions are not hot paths.

Threading: one `SingleThreadedExecutor` thread runs every callback. Service and action handlers
that wait for an answer from the user are coroutines awaiting an rclpy `Future` that the user's
thread completes (`_complete`), followed by `executor.wake()`, so a pending request never holds
the executor thread and any number can be in flight. A service request can also be dropped
(`RclpyServiceServer.drop`): its coroutine raises `_Unanswered`, so rclpy sends no response and
the client times out on its own.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib
import itertools
import logging
import math
import os
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy

from ..errors import BridgeError
from .backend import Closeable, ReadyQueue, keep_large_buffers_mapped
from .qos import SERVICE_QOS, Ros2Durability, Ros2Liveliness, Ros2QosPolicies, reader_qos

log = logging.getLogger(__name__)

__all__ = ["FASTDDS_SOCKETS_ENV", "RclpyBackend", "fastdds_sockets_size", "import_interface"]

# Fast DDS sizes its built-in transports from the OS socket defaults: UDP buffers of
# `net.core.rmem_default` (~208 kB) and a shared-memory segment of 512 kB. A 6 MB image does not fit
# the sender's segment: its fragments wait for space or are dropped and repaired by the reliable
# protocol, so a 1080p image between two default rclpy nodes on one host takes ~115 ms here, ~20 ms
# with an 8 MiB segment (docs/bridge.md, Performance). So the bridge's own participant asks for
# 4 MiB sockets, which Fast DDS also takes for the segment (twice the requested socket size).
FASTDDS_SOCKETS_ENV = "DORA_ROS_FASTDDS_SOCKETS_SIZE"
DEFAULT_FASTDDS_SOCKETS_SIZE = 4 * 1024 * 1024
# Fast DDS's own minimum: its UDP transport refuses buffers smaller than its 65500-byte messages.
MIN_FASTDDS_SOCKETS_SIZE = 65500
# Below this much free /dev/shm (a container's default is 64 MB) the segment, which Fast DDS fills
# with zeros when it creates the participant, is left at Fast DDS's default.
_MIN_FREE_SHM_SEGMENTS = 4
# Any of these means the user configures Fast DDS 3's transports: leave them to it.
_FASTDDS_USER_ENV = ("FASTDDS_BUILTIN_TRANSPORTS", "FASTDDS_DEFAULT_PROFILES_FILE")
_FASTDDS_USER_FILE = "DEFAULT_FASTDDS_PROFILES.xml"  # read from the working directory
_environ_lock = threading.Lock()


def fastdds_sockets_size() -> int | None:
    """The `sockets_size` the bridge gives Fast DDS's built-in transports, or None for Fast DDS's own.

    `$DORA_ROS_FASTDDS_SOCKETS_SIZE` in bytes (0: Fast DDS's defaults), else 4 MiB. None as well
    when the user configures Fast DDS (`FASTDDS_BUILTIN_TRANSPORTS`,
    `FASTDDS_DEFAULT_PROFILES_FILE`, or a `DEFAULT_FASTDDS_PROFILES.xml` in the working directory
    that `SKIP_DEFAULT_XML_FILE=1` does not turn off), and when /dev/shm has less room than four
    segments.

    Raises:
        BridgeError: the variable is not 0 or a whole number of bytes from 65500 to 2 GiB.
    """
    configured = [name for name in _FASTDDS_USER_ENV if os.environ.get(name)]
    if os.environ.get("SKIP_DEFAULT_XML_FILE") != "1" and os.path.exists(_FASTDDS_USER_FILE):
        configured.append(_FASTDDS_USER_FILE)
    if configured:
        log.debug("Fast DDS transports left as configured by %s", ", ".join(configured))
        return None
    text = os.environ.get(FASTDDS_SOCKETS_ENV, "").strip()
    if not text:
        size = DEFAULT_FASTDDS_SOCKETS_SIZE
    else:
        try:
            size = int(text)
        except ValueError:
            size = -1
        if size != 0 and not MIN_FASTDDS_SOCKETS_SIZE <= size < 2**31:  # C ints in Fast DDS
            raise BridgeError(
                f"{FASTDDS_SOCKETS_ENV}={text!r} is not a size in bytes from "
                f"{MIN_FASTDDS_SOCKETS_SIZE} to 2 GiB (0 keeps Fast DDS's defaults)"
            )
        if size == 0:
            return None
    try:
        shm = os.statvfs("/dev/shm")
    except OSError:
        return size
    free = shm.f_bavail * shm.f_frsize
    if free < _MIN_FREE_SHM_SEGMENTS * 2 * size:
        log.info(
            "Fast DDS keeps its default transport sizes: /dev/shm has %d MB free, too little for "
            "%d-MB segments (see %s in docs/bridge.md)",
            free // 10**6,
            2 * size // 10**6,
            FASTDDS_SOCKETS_ENV,
        )
        return None
    return size


@contextlib.contextmanager
def _fastdds_transports_sized() -> Iterator[None]:
    """While a context's participant is created: Fast DDS's built-in transports sized for large data.

    Fast DDS reads `FASTDDS_BUILTIN_TRANSPORTS` when it creates a participant, so the variable is
    set only meanwhile, then put back as it was: processes the user starts afterwards keep their own
    Fast DDS defaults. The lock keeps two bridge nodes created at once from reading each other's
    value as the user's; threads of the user's that read the environment meanwhile see it too.
    rmw_fastrtps replaces the built-in transports with its own under
    `ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`, and then the variable has no effect.
    """
    localhost = os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "").upper() == "LOCALHOST" or (
        not os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE")
        and os.environ.get("ROS_LOCALHOST_ONLY") == "1"
    )
    with _environ_lock:
        size = fastdds_sockets_size()  # checked under LOCALHOST too: a bad value is an error
        if size is None or localhost:
            yield
            return
        previous = os.environ.get("FASTDDS_BUILTIN_TRANSPORTS")  # unset or empty: not the user's
        os.environ["FASTDDS_BUILTIN_TRANSPORTS"] = f"DEFAULT?sockets_size={size}"
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("FASTDDS_BUILTIN_TRANSPORTS", None)
            else:
                os.environ["FASTDDS_BUILTIN_TRANSPORTS"] = previous


def import_interface(type_name: str) -> Any:
    """The rclpy class of `pkg/msg/Type`, `pkg/srv/Type` or `pkg/action/Type`.

    Raises:
        BridgeError: no generated Python code for the type (the rclpy backend needs it).
    """
    parts = type_name.split("/")
    if len(parts) != 3:
        raise BridgeError(f"type name {type_name!r} is not of the form 'pkg/msg/Type'")
    pkg, kind, name = parts
    try:
        module = importlib.import_module(f"{pkg}.{kind}")
        return getattr(module, name)
    except (ImportError, AttributeError) as err:
        raise BridgeError(
            f"{type_name}: no generated Python code for this type is installed, so the rclpy "
            "backend cannot use it; for topics of a package that was never built use "
            "backend 'cyclonedds'"
        ) from err


def to_qos_profile(qos: Ros2QosPolicies) -> Any:
    """The rclpy `QoSProfile` equal to `qos`."""
    from rclpy.duration import Duration
    from rclpy.qos import (
        DurabilityPolicy,
        HistoryPolicy,
        LivelinessPolicy,
        QoSProfile,
        ReliabilityPolicy,
    )

    durability = {
        Ros2Durability.Volatile: DurabilityPolicy.VOLATILE,
        Ros2Durability.TransientLocal: DurabilityPolicy.TRANSIENT_LOCAL,
    }.get(qos.durability)
    if durability is None:
        raise BridgeError(
            f"durability {qos.durability.name} is not supported by ROS 2 (use Volatile or TransientLocal)"
        )
    liveliness = {
        Ros2Liveliness.Automatic: LivelinessPolicy.AUTOMATIC,
        Ros2Liveliness.ManualByParticipant: LivelinessPolicy.MANUAL_BY_TOPIC,
        Ros2Liveliness.ManualByTopic: LivelinessPolicy.MANUAL_BY_TOPIC,
    }[qos.liveliness]
    profile = QoSProfile(
        history=HistoryPolicy.KEEP_ALL if qos.keep_all else HistoryPolicy.KEEP_LAST,
        depth=qos.keep_last,
        reliability=ReliabilityPolicy.RELIABLE if qos.reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=durability,
        liveliness=liveliness,
    )
    if not math.isinf(qos.lease_duration):
        profile.liveliness_lease_duration = Duration(seconds=qos.lease_duration)
    if not math.isinf(qos.deadline):
        profile.deadline = Duration(seconds=qos.deadline)
    if not math.isinf(qos.lifespan):
        profile.lifespan = Duration(seconds=qos.lifespan)
    return profile


class _SerializedMessage(ctypes.Structure):
    """rcl's `rcl_serialized_message_t` (`rcutils_uint8_array_t`: buffer, length, capacity and
    an allocator of four function pointers and a state pointer, which publishing never uses)."""

    _fields_ = [
        ("buffer", ctypes.c_void_p),
        ("buffer_length", ctypes.c_size_t),
        ("buffer_capacity", ctypes.c_size_t),
        ("allocator", ctypes.c_void_p * 5),
    ]


_rcl_functions: list[Any] | None = None


def _rcl_publish_serialized() -> Any:
    """`rcl_publish_serialized_message` from the librcl that rclpy loaded, or None.

    rclpy's `publish(bytes)` (publish_raw) takes the message as a C++ `std::string`, i.e. one more
    copy of a 6 MB image into freshly allocated memory, with the GIL held. Calling rcl's C function
    (a stable public API) through ctypes publishes the caller's buffer in place, and ctypes releases
    the GIL while rmw copies it into Fast DDS. The publisher's address is rclpy's own
    `Publisher.handle.pointer`. When any of this is missing we fall back to publish_raw.
    """
    global _rcl_functions
    if _rcl_functions is None:
        _rcl_functions = [None, None]
        try:
            rcl = ctypes.CDLL("librcl.so")  # already loaded by rclpy: found by its soname
            publish = rcl.rcl_publish_serialized_message
            publish.argtypes = [
                ctypes.c_void_p,
                ctypes.POINTER(_SerializedMessage),
                ctypes.c_void_p,
            ]
            publish.restype = ctypes.c_int
            reset = rcl.rcutils_reset_error
            reset.argtypes, reset.restype = [], None
            _rcl_functions = [publish, reset]
        except (OSError, AttributeError) as err:
            log.debug("rcl_publish_serialized_message unavailable (%s): using publish_raw", err)
    return _rcl_functions[0]


def _rcl_reset_error() -> None:
    if _rcl_functions and _rcl_functions[1] is not None:
        _rcl_functions[1]()


class RclpyWriter:
    """A topic publisher taking serialized bytes."""

    def __init__(self, backend: RclpyBackend, topic: str, type_name: str, qos: Ros2QosPolicies):
        self.topic = topic
        self.type_name = type_name
        self._backend = backend
        self._publisher: Any = backend.node.create_publisher(
            import_interface(type_name), topic, to_qos_profile(qos)
        )

    def write(self, data: bytes | bytearray | memoryview) -> None:
        publisher = self._publisher
        if publisher is None:
            raise BridgeError(f"{self.topic}: publisher is closed")
        publish = _rcl_publish_serialized()
        if publish is None:
            # rclpy's publish_raw accepts only `bytes`, and copies them into a std::string.
            publisher.publish(data if type(data) is bytes else bytes(data))
            return
        # The message is handed to rcl in place (see _rcl_publish_serialized): 6.2 MB (1080p)
        # publish 3.7 -> 3.1 ms against publish_raw, any buffer type, and the GIL is released.
        array = numpy.frombuffer(data, numpy.uint8)  # a view (~1 us): any buffer, read-only too
        message = _SerializedMessage(array.ctypes.data, array.nbytes, array.nbytes)
        with publisher.handle:
            ret = publish(publisher.handle.pointer, ctypes.byref(message), None)
        if ret != 0:
            _rcl_reset_error()
            raise BridgeError(
                f"{self.topic} ({self.type_name}): rcl_publish_serialized_message failed "
                f"(rcl return code {ret})"
            )

    def matched_count(self) -> int:
        return int(self._publisher.get_subscription_count())

    def close(self) -> None:
        if self._publisher is not None:
            self._backend._destroy(self._publisher)
            self._publisher = None


class RclpyReader:
    """A raw topic subscription feeding a `ReadyQueue`."""

    def __init__(self, backend: RclpyBackend, topic: str, type_name: str, qos: Ros2QosPolicies):
        from rclpy.callback_groups import MutuallyExclusiveCallbackGroup

        self.topic = topic
        self.type_name = type_name
        self._backend = backend
        self._queue = ReadyQueue(None if qos.keep_all else qos.keep_last)
        self._subscription: Any = backend.node.create_subscription(
            import_interface(type_name),
            topic,
            self._queue.put,
            to_qos_profile(qos),
            callback_group=MutuallyExclusiveCallbackGroup(),
            raw=True,
        )

    def fileno(self) -> int:
        return self._queue.fileno()

    def take(self, timeout: float | None = 0.0) -> bytes | memoryview | None:
        return self._queue.take(timeout)

    def matched_count(self) -> int:
        return int(self._subscription.get_publisher_count())

    def close(self) -> None:
        if self._subscription is not None:
            self._backend._destroy(self._subscription)
            self._subscription = None
            self._queue.close()


class RclpyServiceClient:
    """Calls a ROS 2 service with CDR requests, giving CDR responses."""

    def __init__(self, backend: RclpyBackend, name: str, type_name: str, qos: Ros2QosPolicies):
        self.name = name
        self.type_name = type_name
        self._backend = backend
        self._srv = import_interface(type_name)
        self._client: Any = backend.node.create_client(
            self._srv, name, qos_profile=to_qos_profile(qos), callback_group=backend.group
        )
        self._lock = threading.Lock()

    def wait_for_service(self, timeout: float | None = None) -> bool:
        return bool(self._client.wait_for_service(timeout_sec=timeout))

    def call(self, request: bytes, timeout: float | None) -> bytes:
        """Send one request and wait for its response (raises BridgeError on timeout)."""
        from rclpy.serialization import deserialize_message, serialize_message

        message = deserialize_message(request, self._srv.Request)
        started, total = time.monotonic(), timeout
        if not self._client.service_is_ready():
            # A request sent before the server is matched is lost (volatile): wait for it first,
            # within the same timeout.
            self._client.wait_for_service(timeout_sec=timeout)
        if timeout is not None:
            timeout = max(0.0, timeout - (time.monotonic() - started))
        done = threading.Event()
        future = self._client.call_async(message)
        future.add_done_callback(lambda _f: done.set())
        self._backend.executor.wake()
        if not done.wait(timeout):
            self._client.remove_pending_request(future)
            ready = self._client.service_is_ready()
            raise BridgeError(
                f"service {self.name} ({self.type_name}): no response within {total:g} s"
                + ("" if ready else " (no server is available)")
            )
        return bytes(serialize_message(future.result()))

    def close(self) -> None:
        if self._client is not None:
            self._backend._destroy(self._client)
            self._client = None


class _Unanswered(Exception):
    """Raised by a service handler whose request was dropped: rclpy then sends no response.

    It propagates out of `executor.spin_once`, where `RclpyBackend._spin` expects it.
    """


_DROPPED = object()  # completes a dropped request's future


class RclpyServiceServer:
    """Serves a ROS 2 service: requests come out of `take()`, responses go in by request id.

    rclpy hands every request over as it arrives, so requests nobody takes or answers would pile
    up: with `max_pending`, a request arriving while that many are pending (taken or not) drops
    the oldest one, whose client gets no response; the first drop and every 100th are logged.
    None: unbounded, for owners with their own policy that take every request at once (the YAML
    bridge, `bridge_node._PendingRequests`).
    """

    def __init__(
        self,
        backend: RclpyBackend,
        name: str,
        type_name: str,
        qos: Ros2QosPolicies,
        max_pending: int | None = None,
    ):
        self.name = name
        self.type_name = type_name
        self.max_pending = max_pending
        self.evicted = 0  # requests dropped over `max_pending`
        self._backend = backend
        self._srv = import_interface(type_name)
        # With a bound, the queue drops its oldest item exactly when `_handle` evicts the oldest
        # pending request: the queue is full only when every pending request is untaken.
        self._queue = ReadyQueue(max_pending)
        self._pending: dict[int, Any] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._service: Any = backend.node.create_service(
            self._srv,
            name,
            self._handle,
            qos_profile=to_qos_profile(qos),
            callback_group=backend.group,
        )

    async def _handle(self, request: Any, response: Any) -> Any:
        from rclpy.serialization import deserialize_message, serialize_message

        future = self._backend.executor.create_future()
        evicted = None
        with self._lock:
            request_id = next(self._ids)
            if self.max_pending is not None and len(self._pending) >= self.max_pending:
                oldest = next(iter(self._pending))  # dicts keep arrival order
                evicted = (oldest, self._pending.pop(oldest))
                self.evicted += 1
            self._pending[request_id] = future
        if evicted is not None:
            if self.evicted == 1 or self.evicted % 100 == 0:
                log.warning(
                    "service %s: %d requests pending (taken or not) without a response; dropping "
                    "the oldest, request %d (%d dropped so far; its client gets no response)",
                    self.name,
                    self.max_pending,
                    evicted[0],
                    self.evicted,
                )
            self._backend._complete(evicted[1], _DROPPED)
        self._queue.put((request_id, bytes(serialize_message(request))))  # type: ignore[arg-type]
        answer = await future
        if answer is _DROPPED:
            raise _Unanswered(f"service {self.name}: request {request_id} dropped")
        if answer is None:
            return response  # the bridge gave up on this request (closed): default response
        return deserialize_message(answer, self._srv.Response)

    def fileno(self) -> int:
        return self._queue.fileno()

    def take(self, timeout: float | None = 0.0) -> tuple[int, bytes] | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            item: Any = self._queue.take(remaining)
            if item is None:
                return None
            with self._lock:
                if item[0] in self._pending:
                    return item
            # dropped over `max_pending` before anyone took it: the next one

    def send_response(self, request_id: int, response: bytes) -> None:
        with self._lock:
            future = self._pending.pop(request_id, None)
        if future is None:
            raise BridgeError(
                f"service {self.name}: no pending request with id {request_id!r} (already "
                f"answered, never taken, or dropped as the oldest of {self.max_pending} "
                "pending requests)"
                if self.max_pending is not None
                else f"service {self.name}: no pending request with id {request_id!r} "
                "(already answered, or never taken)"
            )
        self._backend._complete(future, response)

    def drop(self, request_id: int) -> bool:
        """Give up on a pending request without answering it (its client gets no response).

        False if `request_id` is not pending (answered, dropped, or never taken).
        """
        with self._lock:
            future = self._pending.pop(request_id, None)
        if future is None:
            return False
        self._backend._complete(future, _DROPPED)
        return True

    def close(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for future in pending.values():
            self._backend._complete(future, None)
        if self._service is not None:
            self._backend._destroy(self._service)
            self._service = None
            self._queue.close()


GOAL_STATUS_NAMES = {
    0: "unknown",
    1: "accepted",
    2: "executing",
    3: "canceling",
    4: "succeeded",
    5: "canceled",
    6: "aborted",
}


# How long a goal's first feedback waits for the client's feedback subscription to be discovered.
FEEDBACK_SUBSCRIBER_WAIT = 2.0


@dataclass
class _ServerGoal:
    goal_id: str
    decision: Any = None  # rclpy Future: True (accept) / False (reject), when not auto-accepting
    handle: Any = None  # rclpy ServerGoalHandle once accepted
    result: Any = None  # rclpy Future: (status, result CDR)
    feedback_sent: bool = False


def uuid_str(raw: Any) -> str:
    """The canonical string of a `unique_identifier_msgs/UUID` byte array."""
    return str(uuid.UUID(bytes=bytes(bytearray(raw))))


class RclpyActionServer:
    """Serves a ROS 2 action; goals and cancel requests come out of queues, by goal id string."""

    def __init__(
        self,
        backend: RclpyBackend,
        name: str,
        type_name: str,
        qos: Ros2QosPolicies,
        auto_accept: bool = True,
        result_timeout: int = 900,
    ):
        from rclpy.action import ActionServer
        from rclpy.qos import qos_profile_action_status_default

        self.name = name
        self.type_name = type_name
        self._backend = backend
        self._action = import_interface(type_name)
        self._auto_accept = auto_accept
        self.goals = ReadyQueue(None)  # (goal_id, goal CDR)
        self.cancels = ReadyQueue(None)  # goal_id
        self._goals: dict[str, _ServerGoal] = {}
        self._lock = threading.Lock()
        owner = self

        class _Server(ActionServer):
            # rclpy gives the goal callback only the goal message, not its UUID; remember the
            # UUID of the request being decided so the user sees the real goal id before deciding.
            async def _execute_goal_request(self, header_and_request: Any) -> None:
                request = header_and_request[1]
                owner._deciding[id(request.goal)] = uuid_str(request.goal_id.uuid)
                try:
                    await super()._execute_goal_request(header_and_request)
                finally:
                    owner._deciding.pop(id(request.goal), None)

        self._deciding: dict[int, str] = {}
        self._feedback_topic = f"{name}/_action/feedback"
        profile = to_qos_profile(qos)
        self._server: Any = _Server(
            backend.node,
            self._action,
            name,
            self._execute,
            callback_group=backend.group,
            goal_callback=self._on_goal,  # type: ignore[arg-type]  # rclpy awaits coroutines
            cancel_callback=self._on_cancel,
            goal_service_qos_profile=profile,
            result_service_qos_profile=profile,
            cancel_service_qos_profile=profile,
            feedback_pub_qos_profile=profile,
            status_pub_qos_profile=qos_profile_action_status_default,
            result_timeout=result_timeout,
        )

    async def _on_goal(self, goal: Any) -> Any:
        from rclpy.action import GoalResponse
        from rclpy.serialization import serialize_message

        goal_id = self._deciding.get(id(goal), str(uuid.uuid4()))
        entry = _ServerGoal(goal_id)
        with self._lock:
            self._goals[goal_id] = entry
        if self._auto_accept:
            return GoalResponse.ACCEPT
        entry.decision = self._backend.executor.create_future()
        self.goals.put((goal_id, bytes(serialize_message(goal))))  # type: ignore[arg-type]
        accepted = await entry.decision
        if not accepted:
            with self._lock:
                self._goals.pop(goal_id, None)
        return GoalResponse.ACCEPT if accepted else GoalResponse.REJECT

    async def _execute(self, goal_handle: Any) -> Any:
        from rclpy.serialization import deserialize_message, serialize_message

        goal_id = uuid_str(goal_handle.goal_id.uuid)
        with self._lock:
            entry = self._goals.setdefault(goal_id, _ServerGoal(goal_id))
            entry.handle = goal_handle
            entry.result = self._backend.executor.create_future()
        if self._auto_accept:
            self.goals.put((goal_id, bytes(serialize_message(goal_handle.request))))  # type: ignore[arg-type]
        outcome = await entry.result
        with self._lock:
            self._goals.pop(goal_id, None)
        status, result = outcome if outcome is not None else ("aborted", None)
        if status == "succeeded":
            goal_handle.succeed()
        elif status == "canceled" and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.abort()
        if result is None:
            return self._action.Result()
        return deserialize_message(result, self._action.Result)

    def _on_cancel(self, goal_handle: Any) -> Any:
        from rclpy.action import CancelResponse

        self.cancels.put(uuid_str(goal_handle.goal_id.uuid))  # type: ignore[arg-type]
        return CancelResponse.ACCEPT

    def decide(self, goal_id: str, accept: bool) -> None:
        """Accept or reject a goal taken with `auto_accept=False`."""
        with self._lock:
            entry = self._goals.get(goal_id)
        if entry is None or entry.decision is None or entry.decision.done():
            raise BridgeError(f"action {self.name}: goal {goal_id} is not waiting for a decision")
        self._backend._complete(entry.decision, accept)

    def _entry(self, goal_id: str) -> _ServerGoal:
        deadline = time.monotonic() + 2.0
        while True:
            with self._lock:
                entry = self._goals.get(goal_id)
                if entry is not None and entry.result is not None:
                    return entry
            # Just accepted: the executor is about to start it; give it a moment.
            if entry is None or time.monotonic() > deadline:
                raise BridgeError(
                    f"action {self.name}: goal {goal_id} is not executing "
                    "(unknown, rejected, or already finished)"
                )
            time.sleep(0.001)

    def send_feedback(self, goal_id: str, feedback: bytes) -> None:
        from rclpy.serialization import deserialize_message

        entry = self._entry(goal_id)
        if not entry.feedback_sent:
            entry.feedback_sent = True
            self._await_feedback_subscriber()
        entry.handle.publish_feedback(deserialize_message(feedback, self._action.Feedback))

    def _await_feedback_subscriber(self) -> None:
        """Before a goal's first feedback, wait (at most `FEEDBACK_SUBSCRIBER_WAIT`) for a subscriber.

        A client subscribes to feedback when it is created, but this participant may learn of that
        subscription after the goal itself arrived (each endpoint is discovered on its own, and a
        lost discovery message is repaired later); feedback is volatile, so what is published before
        is lost to that client. rmw_fastrtps waits the same way before a service response. With
        other clients' subscriptions already known there is no wait (the graph does not say whose
        subscription is whose).
        """
        node = self._backend.node
        if node.count_subscribers(self._feedback_topic):
            return
        deadline = time.monotonic() + FEEDBACK_SUBSCRIBER_WAIT
        while time.monotonic() < deadline:
            time.sleep(0.005)
            if node.count_subscribers(self._feedback_topic):
                # Fast DDS updates the graph just before it pairs the reader with our writer (the
                # same thread, which a loaded machine can preempt in between).
                time.sleep(0.05)
                return
        log.debug(
            "action %s: no feedback subscriber after %g s", self.name, FEEDBACK_SUBSCRIBER_WAIT
        )

    def send_result(self, goal_id: str, result: bytes | None, status: str) -> None:
        entry = self._entry(goal_id)
        self._backend._complete(entry.result, (status, result))

    def is_cancel_requested(self, goal_id: str) -> bool:
        with self._lock:
            entry = self._goals.get(goal_id)
        return bool(
            entry is not None and entry.handle is not None and entry.handle.is_cancel_requested
        )

    def close(self) -> None:
        with self._lock:
            goals, self._goals = self._goals, {}
        for entry in goals.values():
            if entry.decision is not None and not entry.decision.done():
                self._backend._complete(entry.decision, False)
            if entry.result is not None and not entry.result.done():
                self._backend._complete(entry.result, ("aborted", None))
        if self._server is not None:
            self._backend._destroy(self._server)
            self._server = None
            self.goals.close()
            self.cancels.close()


@dataclass
class _ClientGoal:
    goal_id: str
    handle: Any
    feedback: ReadyQueue
    result: Any = None  # rclpy Future of the GetResult response, once asked for


class RclpyActionClient:
    """Calls a ROS 2 action with CDR goals; feedback is queued per goal."""

    def __init__(self, backend: RclpyBackend, name: str, type_name: str, qos: Ros2QosPolicies):
        from rclpy.action import ActionClient
        from rclpy.qos import qos_profile_action_status_default

        self.name = name
        self.type_name = type_name
        self._backend = backend
        self._action = import_interface(type_name)
        self._goals: dict[str, _ClientGoal] = {}
        self._lock = threading.Lock()
        profile = to_qos_profile(qos)
        self._client: Any = ActionClient(
            backend.node,
            self._action,
            name,
            callback_group=backend.group,
            goal_service_qos_profile=profile,
            result_service_qos_profile=profile,
            cancel_service_qos_profile=profile,
            feedback_sub_qos_profile=profile,
            status_sub_qos_profile=qos_profile_action_status_default,
        )

    def wait_for_server(self, timeout: float | None = None) -> bool:
        return bool(self._client.wait_for_server(timeout_sec=timeout))

    def _wait(self, future: Any, timeout: float | None) -> bool:
        done = threading.Event()
        future.add_done_callback(lambda _f: done.set())
        self._backend.executor.wake()
        return done.wait(timeout)

    def send_goal(self, goal: bytes, timeout: float | None) -> str | None:
        """Send a goal; its id string if accepted, None if rejected; BridgeError on timeout."""
        from rclpy.serialization import deserialize_message

        message = deserialize_message(goal, self._action.Goal)
        goal_uuid = uuid.uuid4()
        feedback = ReadyQueue(None)
        goal_id = str(goal_uuid)
        entry = _ClientGoal(goal_id, None, feedback)
        with self._lock:
            self._goals[goal_id] = entry
        from unique_identifier_msgs.msg import UUID

        future = self._client.send_goal_async(
            message,
            feedback_callback=self._on_feedback,
            goal_uuid=UUID(uuid=list(goal_uuid.bytes)),
        )
        if not self._wait(future, timeout):
            with self._lock:
                self._goals.pop(goal_id, None)
            ready = self._client.server_is_ready()
            raise BridgeError(
                f"action {self.name} ({self.type_name}): goal not answered within {timeout:g} s"
                + ("" if ready else " (no action server is available)")
            )
        handle: Any = future.result()
        if not handle.accepted:
            with self._lock:
                self._goals.pop(goal_id, None)
            return None
        entry.handle = handle
        return goal_id

    def _on_feedback(self, message: Any) -> None:
        from rclpy.serialization import serialize_message

        goal_id = uuid_str(message.goal_id.uuid)
        with self._lock:
            entry = self._goals.get(goal_id)
        if entry is not None:
            entry.feedback.put(bytes(serialize_message(message.feedback)))

    def _goal(self, goal_id: str) -> _ClientGoal:
        with self._lock:
            entry = self._goals.get(goal_id)
        if entry is None or entry.handle is None:
            raise BridgeError(f"action {self.name}: unknown goal id {goal_id!r}")
        return entry

    def feedback_queue(self, goal_id: str) -> ReadyQueue:
        return self._goal(goal_id).feedback

    def take_result(self, goal_id: str, timeout: float | None) -> tuple[str, bytes] | None:
        from rclpy.serialization import serialize_message

        entry = self._goal(goal_id)
        if entry.result is None:
            entry.result = entry.handle.get_result_async()
        if not self._wait(entry.result, timeout):
            return None
        response = entry.result.result()
        with self._lock:
            self._goals.pop(goal_id, None)
        entry.feedback.close()
        status = GOAL_STATUS_NAMES.get(int(response.status), "unknown")
        return status, bytes(serialize_message(response.result))

    def cancel(self, goal_id: str | None, timeout: float | None) -> int:
        """Cancel one goal (or every goal this client has in flight); the CancelGoal return code."""
        with self._lock:
            targets = list(self._goals.values()) if goal_id is None else []
        if goal_id is not None:
            targets = [self._goal(goal_id)]
        code = 0
        for entry in targets:
            future = entry.handle.cancel_goal_async()
            if not self._wait(future, timeout):
                raise BridgeError(
                    f"action {self.name}: cancel of goal {entry.goal_id} not answered within {timeout:g} s"
                )
            code = code or int(future.result().return_code)
        return code

    def close(self) -> None:
        with self._lock:
            goals, self._goals = self._goals, {}
        for entry in goals.values():
            entry.feedback.close()
        if self._client is not None:
            self._backend._destroy(self._client)
            self._client = None


class RclpyBackend(Closeable):
    """One rclpy node on its own rclpy context and domain, spun by a background thread."""

    name = "rclpy"

    def __init__(
        self,
        *,
        node_name: str,
        namespace: str = "/",
        domain_id: int = 0,
        enable_rosout: bool = True,
        parameters: dict[str, object] | None = None,
    ) -> None:
        import rclpy
        from rclpy.callback_groups import ReentrantCallbackGroup
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.signals import SignalHandlerOptions

        self.node_name = node_name
        self.namespace = namespace or "/"
        self.domain_id = domain_id
        self._closed = False
        keep_large_buffers_mapped()  # fresh 6 MB buffers fault in at 3.5 ms each (backend.py)
        self._entities: list[Any] = []
        self.context = Context()
        # The participant is created with the context's first node.
        with _fastdds_transports_sized():
            # No signal handlers: SIGINT belongs to the dora node (or the user), not to rclpy.
            rclpy.init(
                args=[],
                context=self.context,
                domain_id=domain_id,
                signal_handler_options=SignalHandlerOptions.NO,
            )
            try:
                self.node = rclpy.create_node(
                    node_name,
                    namespace=self.namespace,
                    context=self.context,
                    enable_rosout=enable_rosout,
                    allow_undeclared_parameters=True,
                )
            except Exception as err:
                rclpy.shutdown(context=self.context)
                raise BridgeError(
                    f"cannot create ROS 2 node {node_name!r} in {namespace!r}: {err}"
                ) from err
        self.group = ReentrantCallbackGroup()
        for key, value in (parameters or {}).items():
            self.set_parameter(key, value)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, name=f"rclpy-{node_name}", daemon=True)
        self._thread.start()
        # Code written for dora-rs never closes its context: close at exit, or the executor thread
        # still inside rcl makes the C++ runtime abort the interpreter ("terminate called ...").
        atexit.register(_close_at_exit, weakref.ref(self))

    def _spin(self) -> None:
        while not self._stop.is_set() and self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.2)
            except _Unanswered as dropped:  # on purpose: RclpyServiceServer.drop
                log.debug("%s", dropped)
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("rclpy executor of %s", self.node_name)

    def _complete(self, future: Any, value: Any) -> None:
        """Complete `future` from a user thread and wake the executor to resume its awaiter."""
        if not future.done():
            future.set_result(value)
        self.executor.wake()

    def _destroy(self, entity: Any) -> None:
        """Destroy an rclpy publisher, subscription, client, service or action endpoint."""
        if self._closed:
            return
        from rclpy.client import Client
        from rclpy.publisher import Publisher
        from rclpy.service import Service
        from rclpy.subscription import Subscription

        try:
            if isinstance(entity, Publisher):
                self.node.destroy_publisher(entity)
            elif isinstance(entity, Subscription):
                self.node.destroy_subscription(entity)
            elif isinstance(entity, Client):
                self.node.destroy_client(entity)
            elif isinstance(entity, Service):
                self.node.destroy_service(entity)
            else:
                entity.destroy()  # rclpy ActionServer / ActionClient
        except Exception:  # best effort on an entity whose node is going away
            log.debug("destroying %r", entity, exc_info=True)

    # --- topics (the Backend protocol) -----------------------------------------------------------

    def create_writer(self, topic: str, type_name: str, qos: Ros2QosPolicies) -> RclpyWriter:
        return self._track(RclpyWriter(self, topic, type_name, qos))

    def create_reader(self, topic: str, type_name: str, qos: Ros2QosPolicies) -> RclpyReader:
        return self._track(RclpyReader(self, topic, type_name, reader_qos(qos)))

    def check_role(self, role: str) -> None:
        return None

    # --- services, actions -----------------------------------------------------------------------

    def create_service_client(
        self, name: str, type_name: str, qos: Ros2QosPolicies = SERVICE_QOS
    ) -> RclpyServiceClient:
        return self._track(RclpyServiceClient(self, name, type_name, qos))

    def create_service_server(
        self,
        name: str,
        type_name: str,
        qos: Ros2QosPolicies = SERVICE_QOS,
        max_pending: int | None = None,
    ) -> RclpyServiceServer:
        return self._track(RclpyServiceServer(self, name, type_name, qos, max_pending))

    def create_action_client(
        self, name: str, type_name: str, qos: Ros2QosPolicies = SERVICE_QOS
    ) -> RclpyActionClient:
        return self._track(RclpyActionClient(self, name, type_name, qos))

    def create_action_server(
        self,
        name: str,
        type_name: str,
        qos: Ros2QosPolicies = SERVICE_QOS,
        auto_accept: bool = True,
    ) -> RclpyActionServer:
        return self._track(RclpyActionServer(self, name, type_name, qos, auto_accept=auto_accept))

    def _track(self, entity: Any) -> Any:
        self._entities.append(entity)
        return entity

    # --- parameters ------------------------------------------------------------------------------

    def set_parameter(self, name: str, value: Any) -> None:
        from rclpy.parameter import Parameter

        converted = _parameter_value(name, value)
        parameter = Parameter(name, value=converted)
        if not self.node.has_parameter(name):
            self.node.declare_parameter(name, converted)
            return
        result = self.node.set_parameters([parameter])[0]
        if not result.successful:
            raise BridgeError(f"parameter {name!r}: {result.reason}")

    def get_parameter(self, name: str) -> Any:
        if not self.node.has_parameter(name):
            return None
        parameter = self.node.get_parameter(name)
        value = parameter.value
        if parameter.type_ == parameter.Type.BYTE_ARRAY:
            return b"".join(value)
        if isinstance(value, (list, tuple)) or type(value).__name__ == "array":
            return list(value)
        return value

    def list_parameters(self) -> list[str]:
        # rclpy declares `start_type_description_service` (Jazzy+) on every node for its own
        # machinery; dora-rs's nodes do not have it, and code listing parameters should not see it.
        names = self.node.list_parameters([], 0).names
        return sorted(n for n in names if n not in _INTERNAL_PARAMETERS)

    def has_parameter(self, name: str) -> bool:
        return bool(self.node.has_parameter(name))

    # --- lifetime --------------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        import rclpy

        for entity in reversed(self._entities):
            try:
                entity.close()
            except Exception:
                log.debug("closing %r", entity, exc_info=True)
        self._closed = True
        self._stop.set()
        self.executor.wake()
        self._thread.join(timeout=5)
        self.executor.shutdown(timeout_sec=1)
        self.node.destroy_node()
        if self.context.ok():
            rclpy.shutdown(context=self.context)


def _close_at_exit(ref: weakref.ref[RclpyBackend]) -> None:
    backend = ref()
    if backend is not None:
        backend.close()


#: Parameters rclpy declares for its own use, not shown by `list_parameters` (`use_sim_time` is
#: shown: dora-rs lists it too, and it is the user's to set).
_INTERNAL_PARAMETERS = frozenset({"start_type_description_service"})


def _parameter_value(name: str, value: Any) -> Any:
    """A Python value as rclpy's Parameter accepts it (bytes become a byte array)."""
    if isinstance(value, (bytes, bytearray)):
        return [bytes([b]) for b in value]
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        items = list(value)
        kinds = {type(v) for v in items}
        if len(kinds) <= 1 and kinds <= {bool, int, float, str}:
            return items
        if kinds == {int, float}:
            return [float(v) for v in items]
    raise BridgeError(
        f"parameter {name!r}: {value!r} is not a ROS 2 parameter value "
        "(bool, int, float, str, bytes, or a list of one of bool/int/float/str)"
    )
