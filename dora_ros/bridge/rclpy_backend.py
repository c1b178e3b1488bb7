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
(`RclpyServiceServer.drop`): its coroutine raises `Unanswered`, so rclpy sends no response and
the client times out on its own. Services live in `rclpy_services.py`, actions in
`rclpy_actions.py` (client) and `rclpy_action_server.py`.

Closing flushes: reliable publishers get a bounded wait for their subscribers' acknowledgements
and action results already sent get a bounded wait for their delivery (`CLOSE_FLUSH`), so the
last samples before a dora STOP are not lost with the participant.
"""

from __future__ import annotations

import atexit
import ctypes
import importlib
import logging
import math
import sys
import threading
import time
import weakref
from typing import Any

import numpy

from ..errors import BridgeError
from .backend import KEEP_ALL_DEPTH, Closeable, ReadyQueue, keep_large_buffers_mapped
from .endpoint_watch import POLL_PERIOD, EndpointWatch, PeerEndpoint
from .fastdds_tuning import FASTDDS_SOCKETS_ENV, fastdds_sockets_size, fastdds_transports_sized
from .graph_config import DEFAULT_RESULT_TIMEOUT
from .qos import SERVICE_QOS, Ros2Durability, Ros2Liveliness, Ros2QosPolicies, reader_qos
from .rclpy_action_server import RclpyActionServer
from .rclpy_actions import RclpyActionClient
from .rclpy_parameters import RclpyParameters
from .rclpy_services import (
    RclpyServiceClient,
    RclpyServiceServer,
    Unanswered,
)
from .reporting import CountedLog

log = logging.getLogger(__name__)

__all__ = ["FASTDDS_SOCKETS_ENV", "RclpyBackend", "fastdds_sockets_size", "import_interface"]

#: Seconds a closing backend waits, at most, for what its reliable writers still hold.
CLOSE_FLUSH = 2.0
#: Seconds `close()` takes at most by default, all its bounded waits (flush, spin thread,
#: executor) sharing one deadline; a bridge node passes what is left of its own budget.
CLOSE_BUDGET = 3.0


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
        self._backend.watch.remove(self)
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
        self._queue: ReadyQueue[bytes | memoryview] = ReadyQueue(
            KEEP_ALL_DEPTH if qos.keep_all else min(qos.keep_last, KEEP_ALL_DEPTH),
            f"topic {topic}",
            backend.report,  # drops are counted in the node's end-of-run summary
        )
        self.rejected = 0  # samples of publishers whose type definition differs (reject)
        self._vetted: set[bytes] = set()  # publishers whose type hash was looked at
        self._refused: frozenset[bytes] = frozenset()
        self._subscription: Any = backend.node.create_subscription(
            import_interface(type_name),
            topic,
            self._on_sample,
            to_qos_profile(qos),
            callback_group=MutuallyExclusiveCallbackGroup(),
            raw=True,
        )

    def fileno(self) -> int:
        return self._queue.fileno()

    def take(self, timeout: float | None = 0.0) -> bytes | memoryview | None:
        return self._queue.take(timeout)

    @property
    def dropped(self) -> int:
        """Samples dropped because the queue held its QoS depth (the oldest go first)."""
        return self._queue.dropped

    def _on_sample(self, message: bytes, info: Any) -> None:
        # Each publisher is vetted on its first sample (endpoint_watch.py): one whose type has
        # our name but another definition is dropped, not decoded into wrong values. rclpy takes
        # the message info with every sample anyway; this adds two lookups and a set test.
        gid = (info.get("publisher_gid") or _NO_GID).get("data", b"")
        if gid not in self._vetted:
            if len(self._vetted) >= _MAX_VETTED:  # publishers come and go over a long run
                self._vetted.clear()
            if self._backend.watch.vet(self, gid):
                self._vetted.add(gid)
        if gid in self._refused:
            self.rejected += 1
            return
        self._queue.put(message)

    def reject(self, publishers: frozenset[bytes]) -> None:
        """Drop, from now on, the samples of these publishers (rmw GIDs): peers whose type
        definition differs from ours (endpoint_watch.py)."""
        self._refused = publishers

    def matched_count(self) -> int:
        return int(self._subscription.get_publisher_count())

    def close(self) -> None:
        self._backend.watch.remove(self)
        if self._subscription is not None:
            self._backend._destroy(self._subscription)
            self._subscription = None
            self._queue.close()


class RclpyBackend(RclpyParameters, Closeable):
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
        #: Repeated problems of this node's endpoints, logged once with a running count.
        self.report = CountedLog(log, f"ROS 2 node {namespace.rstrip('/')}/{node_name}")
        keep_large_buffers_mapped()  # fresh 6 MB buffers fault in at 3.5 ms each (backend.py)
        self._entities: list[Any] = []
        self.context = Context()
        # The participant is created with the context's first node.
        with fastdds_transports_sized():
            # No signal handlers: SIGINT belongs to the dora node (or the user), not to rclpy.
            rclpy.init(
                args=ros_arguments(),
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
                # `-r __node:=` / `-r __ns:=` from the command line rename the node.
                self.node_name = self.node.get_name()
                self.namespace = self.node.get_namespace()
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
        # Endpoint logs (creation, first match, a peer's drifted type): endpoint_watch.py.
        self.watch = EndpointWatch(self._list_peers)
        self._watch_timer = self.node.create_timer(POLL_PERIOD, self.watch.poll)
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
            except Unanswered as dropped:  # on purpose: RclpyServiceServer.drop
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
        """Destroy an rclpy publisher, subscription, client, service, timer or action client."""
        if self._closed:
            return
        from rclpy.client import Client
        from rclpy.publisher import Publisher
        from rclpy.service import Service
        from rclpy.subscription import Subscription
        from rclpy.timer import Timer

        try:
            if isinstance(entity, Publisher):
                self.node.destroy_publisher(entity)
            elif isinstance(entity, Subscription):
                self.node.destroy_subscription(entity)
            elif isinstance(entity, Client):
                self.node.destroy_client(entity)
            elif isinstance(entity, Service):
                self.node.destroy_service(entity)
            elif isinstance(entity, Timer):
                self.node.destroy_timer(entity)
            else:
                entity.destroy()  # rclpy ActionClient
        except Exception:  # best effort on an entity whose node is going away
            log.debug("destroying %r", entity, exc_info=True)

    # --- topics (the Backend protocol) -----------------------------------------------------------

    def create_writer(self, topic: str, type_name: str, qos: Ros2QosPolicies) -> RclpyWriter:
        writer = self._track(RclpyWriter(self, topic, type_name, qos))
        own = self._own_type_hash(writer.topic, publishers=True)
        self.watch.add(writer, "publisher", writer.topic, type_name, qos, own)
        return writer

    def create_reader(self, topic: str, type_name: str, qos: Ros2QosPolicies) -> RclpyReader:
        qos = reader_qos(qos)
        reader = self._track(RclpyReader(self, topic, type_name, qos))
        own = self._own_type_hash(reader.topic, publishers=False)
        self.watch.add(reader, "subscription", reader.topic, type_name, qos, own, reader.reject)
        return reader

    def _list_peers(self, topic: str, publishers: bool) -> list[PeerEndpoint]:
        """The publishers (or subscriptions) on `topic` from rclpy's graph, ours marked `own`."""
        me = (self.node.get_name(), self.node.get_namespace())
        return [
            PeerEndpoint(
                _node_path(i),
                bytes(i.endpoint_gid),
                i.topic_type,
                _hash(i),
                own=(i.node_name, i.node_namespace) == me,
            )
            for i in self._endpoints_info(topic, publishers)
        ]

    def _own_type_hash(self, topic: str, publishers: bool) -> str | None:
        """The type hash rmw announces for our own endpoint on `topic` (None if it shows none)."""
        for info in self._endpoints_info(topic, publishers):
            if (info.node_name, info.node_namespace) == (
                self.node.get_name(),
                self.node.get_namespace(),
            ):
                return _hash(info)
        return None

    def _endpoints_info(self, topic: str, publishers: bool) -> list[Any]:
        name = self.node.resolve_topic_name(topic)
        if publishers:
            return list(self.node.get_publishers_info_by_topic(name))
        return list(self.node.get_subscriptions_info_by_topic(name))

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
        qos: Ros2QosPolicies,
        max_pending: int,
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
        result_timeout: float = DEFAULT_RESULT_TIMEOUT,
    ) -> RclpyActionServer:
        return self._track(
            RclpyActionServer(
                self, name, type_name, qos, auto_accept=auto_accept, result_timeout=result_timeout
            )
        )

    def _track(self, entity: Any) -> Any:
        self._entities.append(entity)
        return entity

    # --- lifetime --------------------------------------------------------------------------------

    def close(self, budget: float = CLOSE_BUDGET) -> None:
        """Flush, then destroy everything; at most about `budget` s, every bounded wait below
        sharing one deadline (the flush gets at most `CLOSE_FLUSH` s and half the budget)."""
        if self._closed:
            return
        import rclpy

        deadline = time.monotonic() + budget
        self._flush(min(CLOSE_FLUSH, budget / 2))
        for entity in reversed(self._entities):
            try:
                entity.close()
            except Exception:
                log.debug("closing %r", entity, exc_info=True)
        self._closed = True
        self._stop.set()
        self.executor.wake()
        self._thread.join(timeout=max(0.1, deadline - time.monotonic()))
        self.executor.shutdown(timeout_sec=max(0.1, deadline - time.monotonic()))
        self.node.destroy_node()
        if self.context.ok():
            rclpy.shutdown(context=self.context)
        self.report.close()

    def _flush(self, budget: float) -> None:
        """Wait, `budget` s at most in all, for reliable publishers' samples to be acknowledged
        and for action results already sent to be delivered to their clients."""
        from rclpy.duration import Duration

        deadline = time.monotonic() + budget
        for entity in self._entities:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if isinstance(entity, RclpyWriter) and entity._publisher is not None:
                try:
                    entity._publisher.wait_for_all_acked(Duration(seconds=remaining))
                except Exception:  # best effort: a publisher of a node going away
                    log.debug("flushing %s", entity.topic, exc_info=True)
            elif isinstance(entity, RclpyActionServer):
                for delivered in entity.undelivered():
                    delivered.wait(max(0.0, deadline - time.monotonic()))


_NO_GID: dict[str, bytes] = {}
_MAX_VETTED = 4096


def _node_path(info: Any) -> str:
    if info.node_name == "_CREATED_BY_BARE_DDS_APP_":  # rmw's name before ros_discovery_info
        return "(a DDS participant not known as a ROS node yet)"
    return f"{info.node_namespace.rstrip('/')}/{info.node_name}"


def _hash(info: Any) -> str | None:
    """A TopicEndpointInfo's type hash as `RIHS01_<hex>`, or None when it has none."""
    text = str(getattr(info, "topic_type_hash", "") or "")
    return text if text.startswith("RIHS") and not text.startswith("RIHS00") else None


def ros_arguments(argv: list[str] | None = None) -> list[str]:
    """The process's command line for `rclpy.init` when it has `--ros-args`, else none.

    A bridge started by a launch file (`<node pkg=... exec=...>`) gets ROS 2's arguments:
    `--ros-args -r __node:=<name> -r __ns:=<ns> --params-file <f> -r <from>:=<to>`. rcl applies
    them to every node of the context, as it does in any ROS 2 process: remaps, the node's name
    and namespace, and parameters (`use_sim_time` among them). rcl reads only the `--ros-args`
    sections, so the program's own arguments are left alone.
    """
    args = list(sys.argv if argv is None else argv)
    return args if "--ros-args" in args[1:] else []


def _close_at_exit(ref: weakref.ref[RclpyBackend]) -> None:
    backend = ref()
    if backend is not None:
        backend.close()
