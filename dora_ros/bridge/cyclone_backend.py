"""The Cyclone DDS backend: a pure Cyclone DDS participant that acts as one ROS 2 node, for topics.

Why it exists: rclpy can only publish types whose Python code was generated and built. Cyclone DDS
needs none: each DDS type is built at run time from msgconv's definition (`cyclone_types.py`), so a
user's own package of .msg files works as soon as its folder is on the message path.

Samples are written and taken *serialized*, through cyclonedds-python's public API only. Its
`DataWriter.write` and `DataReader.take` would serialize and deserialize in Python (about 200 ms
for a 1080p `sensor_msgs/Image`) with a plain struct; this backend's topic types are
`cyclone_types.serialized_type`s, whose public ``serialize``/``deserialize`` pass the CDR
(encapsulation header + body, as msgconv makes and decodes it) through unchanged:

- write: ``DataWriter.write(T.of(cdr))`` calls ``serialize()`` (returns `cdr`), pads it to a
  multiple of 4 with ``bytes.ljust`` (no copy when it already is one: see `_aligned`) and hands it
  to C, where the Python sertype's ``serdata_from_sample`` copies it once into Cyclone's sample.
  The zero padding is what went on the wire before too: Cyclone pads every payload to 4 bytes.
- take: ``DataReader.take(n)`` gets each sample's bytes as received (header + body, copied once
  into a Python `bytes` by C) and wraps them with ``T.deserialize``: no decoding, no copy.

So a message costs one copy on each side (two on the writing side when its length is not a
multiple of 4, or it is not a `bytes`) and no Python-level field work; decoding is msgconv's job
(measured in ``benchmarks/bridge.py``). Arriving samples are taken on Cyclone's listener thread
(``on_data_available``) into a `ReadyQueue`, whose file descriptor the bridge select()s on.

The node is made visible in the ROS graph by `ros_discovery.NodeAnnouncer`. Services, actions and
parameter services are refused (`check_role`): see `backend.CYCLONE_SERVICES_REASON`.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from pathlib import Path
from typing import Any

from cyclonedds.core import DDSException, Listener
from cyclonedds.domain import Domain, DomainParticipant
from cyclonedds.pub import DataWriter, Publisher
from cyclonedds.qos import Policy, Qos
from cyclonedds.sub import DataReader, Subscriber
from cyclonedds.topic import Topic
from cyclonedds.util import duration

from .. import msgconv
from ..errors import BridgeError, MsgConvError
from .backend import (
    CYCLONE_SERVICES_REASON,
    KEEP_ALL_DEPTH,
    Closeable,
    ReadyQueue,
    UnsupportedRoleError,
    keep_large_buffers_mapped,
)
from .cyclone_config import RECEIVE_BUFFER_MAX, DiscoverySettings, cyclone_config
from .cyclone_types import serialized_type
from .endpoint_watch import EndpointWatch, PeerEndpoint
from .qos import Ros2Durability, Ros2Liveliness, Ros2QosPolicies, reader_qos
from .reporting import CountedLog
from .ros_discovery import (
    ENCLAVE_USER_DATA,
    NodeAnnouncer,
    gid_bytes,
    type_hash_of_user_data,
    type_hash_user_data,
)

__all__ = ["CycloneBackend", "CycloneTopicReader", "CycloneTopicWriter", "dds_topic_name"]

log = logging.getLogger(__name__)

_TAKE_BATCH = 64


def dds_topic_name(topic: str) -> str:
    """The DDS topic of a ROS 2 topic: ``/ns/chatter`` -> ``rt/ns/chatter`` (rmw's mangling)."""
    return "rt/" + topic.lstrip("/")


def _ns(seconds: float) -> int:
    """Seconds as a Cyclone duration (math.inf -> DDS_INFINITY)."""
    return duration(infinite=True) if math.isinf(seconds) else int(seconds * 1e9)


def _qos(qos: Ros2QosPolicies, user_data: bytes) -> Qos:
    policies: list[Any] = [
        Policy.Reliability.Reliable(_ns(qos.max_blocking_time))
        if qos.reliable
        else Policy.Reliability.BestEffort,
        {
            Ros2Durability.Volatile: Policy.Durability.Volatile,
            Ros2Durability.TransientLocal: Policy.Durability.TransientLocal,
            Ros2Durability.Transient: Policy.Durability.Transient,
            Ros2Durability.Persistent: Policy.Durability.Persistent,
        }[qos.durability],
        Policy.History.KeepAll if qos.keep_all else Policy.History.KeepLast(qos.keep_last),
        {
            Ros2Liveliness.Automatic: Policy.Liveliness.Automatic,
            Ros2Liveliness.ManualByParticipant: Policy.Liveliness.ManualByParticipant,
            Ros2Liveliness.ManualByTopic: Policy.Liveliness.ManualByTopic,
        }[qos.liveliness](_ns(qos.lease_duration)),
        # Plain CDR (XCDR1), the representation of the bytes msgconv and rclpy produce.
        Policy.DataRepresentation(use_cdrv0_representation=True),
    ]
    if not math.isinf(qos.deadline):
        policies.append(Policy.Deadline(_ns(qos.deadline)))
    if not math.isinf(qos.lifespan):
        policies.append(Policy.Lifespan(_ns(qos.lifespan)))
    if user_data:
        policies.append(Policy.Userdata(user_data))
    return Qos(*policies)


# --- domains ----------------------------------------------------------------------------------

# Cyclone allows one configured domain per id and process, shared by every participant on it; a
# backend takes a reference and the last one out deletes it.
_domains: dict[int, tuple[Domain, int]] = {}
_domains_lock = threading.Lock()


def _acquire_domain(domain_id: int) -> Domain:
    with _domains_lock:
        entry = _domains.get(domain_id)
        if entry is not None:
            _domains[domain_id] = (entry[0], entry[1] + 1)
            return entry[0]
        settings = DiscoverySettings.from_env()
        try:
            domain = Domain(domain_id, cyclone_config(settings))
        except DDSException:
            # Cyclone DDS older than 0.11 knows no Compatibility/IgnoreTypeInformation: try
            # without it before blaming the configuration.
            try:
                domain = Domain(domain_id, cyclone_config(settings, ignore_fastdds_types=False))
            except DDSException as err:
                raise BridgeError(
                    f"Cyclone DDS rejected its configuration for domain {domain_id} (its own "
                    f"messages above say why; CYCLONEDDS_URI={os.environ.get('CYCLONEDDS_URI', '')!r})"
                ) from err
            log.warning("Cyclone DDS ignored IgnoreTypeInformation: Fast DDS types may not match")
        _domains[domain_id] = (domain, 1)
        return domain


def _release_domain(domain_id: int) -> None:
    with _domains_lock:
        entry = _domains.get(domain_id)
        if entry is None:
            return
        if entry[1] > 1:
            _domains[domain_id] = (entry[0], entry[1] - 1)
            return
        del _domains[domain_id]
    _delete(entry[0])


def _delete(entity: Any) -> None:
    """Delete a cyclonedds-python entity now (it otherwise waits for garbage collection)."""
    try:
        entity.__del__()
    except DDSException as err:  # already gone with its parent
        log.debug("deleting %r: %s", entity, err)


# --- endpoints --------------------------------------------------------------------------------


def _net_core(name: str) -> int | None:
    """`/proc/sys/net/core/<name>`, or None off Linux."""
    try:
        return int(Path("/proc/sys/net/core", name).read_text())
    except (OSError, ValueError):
        return None


_rmem_default, _rmem_max = _net_core("rmem_default"), _net_core("rmem_max")
# What a peer's UDP socket holds unless it asks for more (Fast DDS and rclpy do not by default).
_UDP_RECEIVE_BUFFER = 1 << 62 if _rmem_default is None else _rmem_default  # off Linux: say nothing
# What this backend's sockets hold: what it asks for, as far as rmem_max allows; the kernel keeps
# (and reports) twice the size set.
_OWN_RECEIVE_BUFFER = 1 << 62 if _rmem_max is None else 2 * min(RECEIVE_BUFFER_MAX, _rmem_max)
_warned_large = False
_warned_large_received = False


def _warn_large_sample(topic: str, size: int) -> None:
    """Once per process: a sample larger than the OS's default UDP receive buffer.

    Non-Cyclone subscribers (Fast DDS: rclpy's default) get it over UDP, and a burst larger than
    their socket's buffer loses datagrams that the reliable protocol must repair: a 1080p image
    took ~1.5x rclpy -> rclpy; 1.1x once the subscribers asked for 4 MB buffers, and 0.4x with
    the host's rmem_max and rmem_default raised to 4 MB (docs/benchmarks.md).
    """
    global _warned_large
    _warned_large = True
    log.warning(
        "%s: a %d-byte sample is larger than net.core.rmem_default (%d bytes), the UDP receive "
        "buffer of DDS subscribers on this host; samples this large reach Fast DDS (rclpy) "
        "subscribers slowly unless they ask for larger buffers (a Fast DDS XML profile, or "
        "FASTDDS_BUILTIN_TRANSPORTS='DEFAULT?sockets_size=4194304' where the discovery range is "
        "not LOCALHOST) and net.core.rmem_max allows them, the host's defaults are raised "
        "(sysctl -w net.core.rmem_max=4194304 net.core.rmem_default=4194304), or the rclpy "
        "backend is used (docs/bridge.md, Performance)",
        topic,
        size,
        _UDP_RECEIVE_BUFFER,
    )


def _warn_large_received(topic: str, size: int) -> None:
    """Once per process: a sample larger than this backend's own UDP receive buffer arrived.

    A Fast DDS publisher sends it over UDP in one burst; what overflows the socket is repaired by
    the reliable protocol, a few datagrams per round: with the kernel's stock `rmem_max` (208 kB)
    a 1080p image took ~2x rclpy -> rclpy, 0.1x with 4 MB (docs/benchmarks.md).
    """
    global _warned_large_received
    _warned_large_received = True
    log.warning(
        "%s: a %d-byte sample arrived, more than this backend's UDP receive buffer holds "
        "(%d bytes: net.core.rmem_max caps the 16 MB it asks for); samples this large from Fast "
        "DDS (rclpy) publishers arrive slowly unless the host allows more "
        "(sysctl -w net.core.rmem_max=16777216) or the rclpy backend is used "
        "(docs/bridge.md, Performance)",
        topic,
        size,
        _OWN_RECEIVE_BUFFER,
    )


def _aligned(data: bytes | bytearray | memoryview) -> bytes:
    """`data` as a `bytes` whose length is a multiple of 4, copied only if it is not one already.

    ``DataWriter.write`` pads what ``serialize()`` returns with ``ljust(len rounded up to 4)``,
    which returns an exact `bytes` of such a length itself and copies anything else (a bytearray
    always, a memoryview has no ``ljust``). So: msgconv's `bytes` of an aligned length pass with no
    copy; anything else is copied here once, padding included, so that ``ljust`` copies nothing.
    """
    if type(data) is bytes and not len(data) & 3:
        return data
    size = memoryview(data).nbytes
    return b"".join((data, b"\0" * (-size & 3)))


class CycloneTopicWriter:
    """Publishes serialized samples on one topic (see `backend.TopicWriter`)."""

    def __init__(
        self,
        backend: CycloneBackend,
        topic: str,
        type_name: str,
        writer: Any,
        data_type: Any,  # a cyclone_types.serialized_type
    ) -> None:
        self.topic = topic
        self.type_name = type_name
        self._backend = backend
        self._writer = writer
        self._sample = data_type.of
        self.gid = gid_bytes(writer.guid)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        writer = self._writer
        if writer is None:
            raise BridgeError(f"{self.topic}: publisher is closed")
        # No Python serializer (see the module docstring): `_aligned` copies nothing for msgconv's
        # aligned bytes, Cyclone copies the buffer once into a fresh serdata per write: 7.2 ms for
        # a 1080p image while glibc unmapped it after every message, 3.9 ms with
        # backend.keep_large_buffers_mapped. What is left of dora -> ROS over Cyclone is the UDP
        # hop into Fast DDS (docs/bridge.md, Performance).
        if len(data) > _UDP_RECEIVE_BUFFER and not _warned_large:
            _warn_large_sample(self.topic, len(data))
        try:
            writer.write(self._sample(_aligned(data)))
        except DDSException as err:
            raise BridgeError(
                f"{self.topic} ({self.type_name}): Cyclone DDS write failed: {err}"
            ) from err

    def matched_count(self) -> int:
        if self._writer is None:
            return 0
        return int(self._writer.get_publication_matched_status().current_count)

    def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        self._backend._forget(self, writer)


class CycloneTopicReader:
    """Receives serialized samples from one topic (see `backend.TopicReader`)."""

    def __init__(
        self, backend: CycloneBackend, topic: str, type_name: str, depth: int | None
    ) -> None:
        self.topic = topic
        self.type_name = type_name
        self._backend = backend
        self._queue: ReadyQueue[bytes | memoryview] = ReadyQueue(
            KEEP_ALL_DEPTH if depth is None else min(depth, KEEP_ALL_DEPTH),
            f"topic {topic}",
            backend.report,  # drops are counted in the node's end-of-run summary
        )
        self._reader: Any = None
        self.gid = b""
        self.rejected = 0  # samples of publishers whose type definition differs from ours
        self._vetted: set[int] = set()  # publication handles whose type hash was looked at
        self._refused: set[int] = set()

    def _attach(self, reader: Any) -> None:
        self._reader = reader
        self.gid = gid_bytes(reader.guid)
        self._drain()  # samples that came (transient_local) before the listener was set

    def _on_data_available(self, _reader: Any) -> None:
        # Cyclone's listener thread. Exceptions here would be lost in C: log them.
        try:
            self._drain()
        except Exception:
            log.exception("%s: taking samples failed", self.topic)

    def _drain(self) -> None:
        reader = self._reader
        if reader is None:
            return
        while True:
            try:
                # Every sample state; each sample holds the bytes as received in `cdr`
                # (cyclone_types.SerializedCdr), or is an InvalidSample (a dispose, an
                # unregister: no data).
                samples = reader.take(_TAKE_BATCH)
            except DDSException:  # the reader is being deleted
                return
            for sample in samples:
                info = sample.sample_info
                if info.valid_data:
                    publication = info.publication_handle
                    if publication not in self._vetted:
                        self._vet(publication)
                    if publication in self._refused:
                        self.rejected += 1
                        continue
                    data = sample.cdr
                    if len(data) > _OWN_RECEIVE_BUFFER and not _warned_large_received:
                        _warn_large_received(self.topic, len(data))
                    self._queue.put(data)
            if len(samples) < _TAKE_BATCH:
                return

    def _vet(self, publication: int) -> None:
        """A publisher's first sample: compare the type hash in its USER_DATA with ours, and
        refuse its samples if it differs (the warning: endpoint_watch.py)."""
        if len(self._vetted) >= 4096:  # publishers come and go over a long run
            self._vetted.clear()
        self._vetted.add(publication)
        try:
            data = self._reader.get_matched_publication_data(publication)
        except Exception:  # gone already, or the reader is being deleted
            log.debug("%s: no discovery data for publication %d", self.topic, publication)
            return
        if data is None:
            return
        user_data = data.qos[Policy.Userdata]
        peer = PeerEndpoint(
            f"(participant {data.participant_key})",
            gid_bytes(data.key),
            self.type_name,
            type_hash_of_user_data(user_data.data if user_data is not None else None),
        )
        if self._backend.watch.check_peer(self, peer):
            self._refused.add(publication)

    @property
    def dropped(self) -> int:
        """Samples dropped because the reader's history was full."""
        return self._queue.dropped

    def fileno(self) -> int:
        return self._queue.fileno()

    def take(self, timeout: float | None = 0.0) -> bytes | memoryview | None:
        return self._queue.take(timeout)

    def matched_count(self) -> int:
        if self._reader is None:
            return 0
        return int(self._reader.get_subscription_matched_status().current_count)

    def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is None:
            return
        self._backend._forget(self, reader)
        self._queue.close()


# --- the backend ------------------------------------------------------------------------------


class CycloneBackend(Closeable):
    """One ROS 2 node as a Cyclone DDS participant on `domain_id` (see `backend.Backend`).

    Args:
        node_name: the ROS 2 node name shown in the graph.
        namespace: absolute namespace (``/`` for the root).
        domain_id: the DDS domain (``ROS_DOMAIN_ID``, already resolved by the caller).
        msg_paths: extra folders of .msg packages for this backend's types (and their type hashes).

    Raises:
        BridgeError: the participant cannot be created (bad ``ROS_AUTOMATIC_DISCOVERY_RANGE``,
            Cyclone configuration errors).
    """

    name = "cyclonedds"

    def __init__(
        self,
        *,
        node_name: str,
        namespace: str = "/",
        domain_id: int = 0,
        msg_paths: tuple[str | Path, ...] = (),
    ) -> None:
        self.node_name = node_name
        self.namespace = namespace if namespace.startswith("/") else "/" + namespace
        self.domain_id = domain_id
        self._msg_dirs = tuple(Path(p) for p in msg_paths)
        #: Repeated problems of this node's endpoints (queue drops), logged once with a running
        #: count; summarised when the backend closes.
        self.report = CountedLog(log, f"ROS 2 node {self.namespace.rstrip('/')}/{node_name}")
        # Endpoint logs (creation, first match; no graph of peer names here). A publisher's type
        # hash is checked on its first sample, from its discovery data (CycloneTopicReader._vet).
        self.watch = EndpointWatch(lambda _topic, _publishers: [])
        for path in self._msg_dirs:
            msgconv.add_search_path(path)
        self._lock = threading.Lock()
        self._topics: dict[str, Any] = {}
        self._endpoints: list[CycloneTopicWriter | CycloneTopicReader] = []
        self._closed = False
        keep_large_buffers_mapped()  # fresh 6 MB buffers fault in at 3.5 ms each (backend.py)
        self._domain = _acquire_domain(domain_id)
        try:
            self._participant: Any = DomainParticipant(
                domain_id, qos=Qos(Policy.Userdata(ENCLAVE_USER_DATA))
            )
            self._publisher: Any = Publisher(self._participant)
            self._subscriber: Any = Subscriber(self._participant)
            self._announcer = NodeAnnouncer(self._participant)
            self._announcer.add_node(node_name, self.namespace)
        except DDSException as err:
            _release_domain(domain_id)
            raise BridgeError(
                f"cyclonedds backend: cannot create a participant on domain {domain_id}: {err}"
            ) from err

    # --- Backend protocol ---

    def check_role(self, role: str) -> None:
        if role in ("service", "action", "parameters"):
            raise UnsupportedRoleError(
                f"backend 'cyclonedds' cannot do {role}s: {CYCLONE_SERVICES_REASON}"
            )

    def create_writer(self, topic: str, type_name: str, qos: Ros2QosPolicies) -> CycloneTopicWriter:
        dds_topic, canonical = self._topic(topic, type_name)
        user_data = type_hash_user_data(canonical, self._msg_dirs)
        try:
            writer = DataWriter(self._publisher, dds_topic, qos=_qos(qos, user_data))
        except DDSException as err:
            raise BridgeError(f"{topic} ({canonical}): cannot create a writer: {err}") from err
        endpoint = CycloneTopicWriter(self, topic, canonical, writer, dds_topic.data_type)
        self._register(endpoint, is_writer=True)
        self._watch(endpoint, "publisher", topic, canonical, qos, user_data)
        return endpoint

    def create_reader(self, topic: str, type_name: str, qos: Ros2QosPolicies) -> CycloneTopicReader:
        qos = reader_qos(qos)  # a latched topic keeps every publisher's sample (qos.py)
        dds_topic, canonical = self._topic(topic, type_name)
        user_data = type_hash_user_data(canonical, self._msg_dirs)
        endpoint = CycloneTopicReader(self, topic, canonical, None if qos.keep_all else qos.depth)
        listener = Listener(on_data_available=endpoint._on_data_available)
        try:
            reader = DataReader(
                self._subscriber,
                dds_topic,
                qos=_qos(qos, user_data),
                listener=listener,
            )
        except DDSException as err:
            endpoint._queue.close()
            raise BridgeError(f"{topic} ({canonical}): cannot create a reader: {err}") from err
        endpoint._attach(reader)
        self._register(endpoint, is_writer=False)
        self._watch(endpoint, "subscription", topic, canonical, qos, user_data)
        return endpoint

    def _watch(
        self, endpoint: Any, kind: str, topic: str, type_name: str, qos: Any, user_data: bytes
    ) -> None:
        self.watch.add(endpoint, kind, topic, type_name, qos, type_hash_of_user_data(user_data))
        self.watch.start(self.node_name)  # with the first endpoint

    def close(self, budget: float | None = None) -> None:
        """Delete every entity; nothing here waits, so `budget` (the rclpy backend's) is unused."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            endpoints, self._endpoints = self._endpoints, []
        self.watch.close()
        for endpoint in endpoints:
            endpoint.close()
        self._announcer.close()
        # Deleting the participant deletes every entity in it (topics, publisher, subscriber).
        self._topics.clear()
        _delete(self._participant)
        _release_domain(self.domain_id)
        self.report.close()

    # --- internals ---

    @property
    def participant_gid(self) -> bytes:
        """The participant's GID (its GUID), as announced on ``ros_discovery_info``."""
        return self._announcer.participant_gid

    def _topic(self, topic: str, type_name: str) -> tuple[Any, str]:
        if self._closed:
            raise BridgeError(f"{topic}: the cyclonedds backend is closed")
        try:
            definition = msgconv.message_definition(type_name, "message_type")
            data_type = serialized_type(definition.name, msgconv.message_definition)
        except MsgConvError as err:
            raise BridgeError(f"{topic}: {err}") from err
        except BridgeError as err:
            raise BridgeError(f"{topic}: {err}") from err
        with self._lock:
            existing = self._topics.get(topic)
            if existing is not None:
                if existing[1] != definition.name:
                    raise BridgeError(
                        f"{topic}: already used with type {existing[1]}, not {definition.name}"
                    )
                return existing[0], definition.name
            try:
                dds_topic = Topic(self._participant, dds_topic_name(topic), data_type)
            except DDSException as err:
                raise BridgeError(
                    f"{topic} ({definition.name}): cannot create topic: {err}"
                ) from err
            self._topics[topic] = (dds_topic, definition.name)
            return dds_topic, definition.name

    def _register(
        self, endpoint: CycloneTopicWriter | CycloneTopicReader, *, is_writer: bool
    ) -> None:
        with self._lock:
            self._endpoints.append(endpoint)
        self._announcer.add_endpoint(
            self.node_name, self.namespace, endpoint.gid, is_writer=is_writer
        )

    def _forget(self, endpoint: CycloneTopicWriter | CycloneTopicReader, entity: Any) -> None:
        with self._lock:
            if endpoint in self._endpoints:
                self._endpoints.remove(endpoint)
            closed = self._closed
        if not closed:
            self._announcer.remove_endpoint(self.node_name, self.namespace, endpoint.gid)
        _delete(entity)
