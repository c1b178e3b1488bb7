"""The interface between the bridge and a DDS implementation ("backend"), and backend selection.

The bridge's core (`endpoints.py`, behind the Python API in `context.py` and the YAML bridge node
in `bridge_node.py`) never talks to DDS directly: it asks a `Backend` for topic writers and readers
that move *serialized* messages (and, through `roles.py`, for services, actions and parameters).
Conversion between Arrow and CDR is msgconv's job, done by the core, so a backend only moves
bytes. Two backends exist:

- `rclpy` (default, `rclpy_backend.py`): an rclpy node spun in a background thread; topics,
  services, actions and parameter services.
- `cyclonedds` (`cyclone_backend.py`): a pure Cyclone DDS participant; topics only, including types
  that were never built (no generated code), built from msgconv's definitions.

Contract every backend implements (checked by `tests/bridge/test_topics.py`, parametrized over
backends):

Names
    `topic` is a fully qualified ROS 2 topic name (`/turtle1/pose`); the bridge has already applied
    the node namespace. `type_name` is canonical `pkg/msg/Type` (`std_msgs/msg/String`).

Bytes
    A sample is the full serialized message as ROS 2 puts it on the wire: the 4-byte encapsulation
    header (`00 01 00 00` for little-endian plain CDR) followed by the CDR body; exactly what
    `rclpy.serialization.serialize_message` returns and what msgconv's `encode` produces.
    `TopicWriter.write` accepts any bytes-like object (bytes, bytearray, memoryview) and may not keep
    a reference to it after returning. `TopicReader.take` returns `bytes` (or a read-only
    memoryview) that the caller owns.

Waiting
    `TopicReader.fileno()` is a file descriptor that is readable (level-triggered) while at least
    one sample is queued; the bridge node and `Node.merge_external_events` select() on it.
    `take(timeout=0.0)` pops the oldest sample without blocking, or waits up to `timeout` seconds
    (`None` = forever) and returns `None` when nothing came. Samples arrive in order; when the
    reader's QoS depth is reached (keep_all: `KEEP_ALL_DEPTH`), the oldest queued sample is
    dropped, counted and reported. `ReadyQueue` (`ready_queue.py`) implements both for a backend
    whose DDS library delivers samples on a callback or a thread of its own.

QoS
    A `Ros2QosPolicies` (see `qos.py`); backends map every attribute to their DDS policy.

Lifetime
    `close()` on writers, readers and the backend is idempotent and releases the DDS entities;
    `Backend.close()` closes everything the backend created. A backend is a context manager.

Errors
    Anything the user can fix raises `BridgeError` (or a subclass) with a message naming the topic
    and the type. A backend that cannot do services or actions raises `UnsupportedRoleError`
    (see `Backend.check_role`).
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import Protocol, TypeVar, runtime_checkable

from ..errors import BridgeError
from .qos import Ros2QosPolicies
from .ready_queue import KEEP_ALL_DEPTH, ReadyQueue

__all__ = [
    "BACKENDS",
    "BACKEND_ENV",
    "DEFAULT_BACKEND",
    "KEEP_ALL_DEPTH",
    "Backend",
    "Closeable",
    "ReadyQueue",
    "TopicReader",
    "TopicWriter",
    "UnsupportedRoleError",
    "keep_large_buffers_mapped",
    "open_backend",
    "resolve_backend_name",
]

BACKEND_ENV = "DORA_ROS_BRIDGE_BACKEND"
DEFAULT_BACKEND = "rclpy"
BACKENDS = ("rclpy", "cyclonedds")

# Why a pure Cyclone participant cannot serve or call rclpy services (said in every such error).
CYCLONE_SERVICES_REASON = (
    "Fast DDS pairs a service reply with its request through the RTPS inline QoS "
    "'related_sample_identity', which the Cyclone DDS Python binding can neither write nor read "
    "(and rmw_cyclonedds's in-payload request header is not understood by Fast DDS), so a pure "
    "Cyclone DDS participant cannot serve or call rclpy services or actions reliably; "
    "use backend 'rclpy' (the default) for services and actions"
)


_C = TypeVar("_C", bound="Closeable")


class Closeable:
    """Base of the bridge's objects that own DDS entities: `with obj:` calls `obj.close()`.

    The backends and the Python API's contexts, nodes, publishers and subscriptions share it.
    """

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class UnsupportedRoleError(BridgeError):
    """A backend was asked for something it cannot do (a service or action on `cyclonedds`)."""


@runtime_checkable
class TopicWriter(Protocol):
    """Publishes serialized samples on one topic."""

    topic: str
    type_name: str

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Publish one serialized sample (encapsulation header + CDR body)."""
        ...

    def matched_count(self) -> int:
        """How many readers (subscriptions) currently match this writer."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class TopicReader(Protocol):
    """Receives serialized samples from one topic."""

    topic: str
    type_name: str

    def fileno(self) -> int:
        """A descriptor readable while at least one sample is queued."""
        ...

    def take(self, timeout: float | None = 0.0) -> bytes | memoryview | None:
        """The oldest queued sample, waiting up to `timeout` s (None = forever); None if none."""
        ...

    def matched_count(self) -> int:
        """How many writers (publishers) currently match this reader."""
        ...

    @property
    def dropped(self) -> int:
        """Samples dropped because the queue held its QoS depth (the oldest go first)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Backend(Protocol):
    """One ROS 2 participant/node of the bridge on one DDS domain."""

    name: str  # "rclpy" or "cyclonedds"
    node_name: str
    namespace: str  # absolute, "/" for the root
    domain_id: int

    def create_writer(self, topic: str, type_name: str, qos: Ros2QosPolicies) -> TopicWriter: ...

    def create_reader(self, topic: str, type_name: str, qos: Ros2QosPolicies) -> TopicReader: ...

    def check_role(self, role: str) -> None:
        """Raise `UnsupportedRoleError` if `role` (`"service"`, `"action"`, `"parameters"`) is
        not available on this backend; return None otherwise."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Backend: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


# glibc malloc settings for processes that move multi-megabyte samples (see keep_large_buffers_mapped).
MMAP_THRESHOLD = 32 << 20  # glibc's ceiling for M_MMAP_THRESHOLD on 64-bit
TRIM_THRESHOLD = 64 << 20
_malloc_tuned: bool | None = None


def keep_large_buffers_mapped() -> bool:
    """Let glibc reuse freed multi-megabyte buffers instead of unmapping them (once per process).

    Every 1080p image crossing the bridge allocates fresh 6 MB buffers (msgconv's CDR, rclpy's and
    Cyclone's copies). glibc's adaptive thresholds hand back memory as soon as 12 MB are free at the
    top of the heap, which here is after every message, so each next buffer is mapped again and
    faults in page by page: ~1500 faults, 3.5 ms per 6 MB buffer on our VM, twice per message on
    the dora -> ROS path (msgconv encode 1.3 -> 4.9 ms, rclpy publish 3.6 -> 7.6 ms). With fixed
    thresholds (buffers below 32 MB come from the heap, up to 64 MB of free memory stays mapped) the
    buffers are reused warm. Costs: up to 64 MB of freed memory kept per malloc arena.

    Skipped when the user set glibc's own malloc variables, and off glibc. Returns whether applied.
    """
    global _malloc_tuned
    if _malloc_tuned is not None:
        return _malloc_tuned
    _malloc_tuned = False
    if os.environ.get("GLIBC_TUNABLES") or any(k.startswith("MALLOC_") for k in os.environ):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
        _malloc_tuned = bool(
            libc.mallopt(m_mmap_threshold, MMAP_THRESHOLD)
            and libc.mallopt(m_trim_threshold, TRIM_THRESHOLD)
        )
    except (OSError, AttributeError):  # not glibc
        pass
    return _malloc_tuned


def resolve_backend_name(name: str | None = None) -> str:
    """The backend to use: `name` if given, else `$DORA_ROS_BRIDGE_BACKEND`, else `rclpy`.

    Raises:
        BridgeError: the name is not one of `rclpy`, `cyclonedds`.
    """
    chosen = name if name is not None else os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND
    chosen = chosen.strip().lower()
    if chosen == "cyclone":
        chosen = "cyclonedds"
    if chosen not in BACKENDS:
        source = "backend" if name is not None else f"${BACKEND_ENV}"
        raise BridgeError(
            f"{source}: unknown bridge backend {chosen!r} (use one of {', '.join(BACKENDS)})"
        )
    return chosen


def open_backend(
    name: str | None,
    *,
    node_name: str,
    namespace: str = "/",
    domain_id: int | None = None,
    enable_rosout: bool = True,
    parameters: dict[str, object] | None = None,
) -> Backend:
    """Open the backend called `name` (see `resolve_backend_name`) as one ROS 2 node.

    `domain_id=None` means `$ROS_DOMAIN_ID`, else 0. The Cyclone backend must be importable as
    `dora_ros.bridge.cyclone_backend.CycloneBackend` with the keyword arguments `node_name`,
    `namespace`, `domain_id` (an int, already resolved).
    """
    chosen = resolve_backend_name(name)
    if domain_id is None:
        domain_id = domain_id_from_env()
    if chosen == "rclpy":
        from .rclpy_backend import RclpyBackend

        return RclpyBackend(
            node_name=node_name,
            namespace=namespace,
            domain_id=domain_id,
            enable_rosout=enable_rosout,
            parameters=parameters,
        )
    try:
        from .cyclone_backend import CycloneBackend  # type: ignore[import-not-found,unused-ignore]
    except ImportError as err:
        raise BridgeError(f"bridge backend 'cyclonedds' is not available: {err}") from err
    backend: Backend = CycloneBackend(node_name=node_name, namespace=namespace, domain_id=domain_id)
    return backend


def domain_id_from_env() -> int:
    """`$ROS_DOMAIN_ID` as an int (0 when unset or empty)."""
    raw = os.environ.get("ROS_DOMAIN_ID", "").strip()
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError as err:
        raise BridgeError(f"ROS_DOMAIN_ID={raw!r} is not an integer") from err
    if not 0 <= value <= 232:
        raise BridgeError(f"ROS_DOMAIN_ID={value} is out of range 0..232")
    return value
