"""Make a pure Cyclone DDS participant visible as a ROS 2 node in the ROS graph.

DDS discovery alone tells an rmw implementation which topics exist, but not which *nodes* exist: a
ROS 2 node is a name that rmw implementations announce on the topic ``ros_discovery_info``
(``rmw_dds_common/msg/ParticipantEntitiesInfo``: the participant's GID and, per node, its name,
namespace and the GIDs of its readers and writers). Each participant publishes one sample, reliable,
transient_local, depth 1, and publishes it again whenever a node or endpoint comes or goes; late
joiners get the last one. A GID is the 16-byte DDS GUID (prefix + entity id), the same bytes
``rclpy`` shows in ``TopicEndpointInfo.endpoint_gid``.

rmw implementations also put ``enclave=/;`` in the participant's USER_DATA and
``typehash=RIHS01_<hex>;`` in each endpoint's USER_DATA, read from the type description that
rosidl installs next to each interface (``share/<pkg>/msg/<T>.json``); ``ros2 topic info -v`` shows
it. Types that were never built have no such file and go without one (rmw does the same for types
without a description).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cyclonedds.idl import make_idl_struct
from cyclonedds.idl import types as idl_types

__all__ = [
    "DISCOVERY_TOPIC",
    "ENCLAVE_USER_DATA",
    "Gid",
    "NodeAnnouncer",
    "NodeEntitiesInfo",
    "ParticipantEntitiesInfo",
    "gid_bytes",
    "type_hash",
    "type_hash_user_data",
]

log = logging.getLogger(__name__)

DISCOVERY_TOPIC = "ros_discovery_info"  # no "rt/" prefix: it is not a ROS topic itself
ENCLAVE_USER_DATA = b"enclave=/;"


# The DDS types of rmw_dds_common/msg/{Gid,NodeEntitiesInfo,ParticipantEntitiesInfo} (identical in
# Jazzy and Kilted). Built here rather than from the installed .msg files so the graph works with
# any message path; the names and members are what rmw implementations register.
_idl: Any = idl_types
Gid: Any = make_idl_struct(
    "Gid", "rmw_dds_common::msg::dds_::Gid_", {"data": _idl.array[_idl.uint8, 16]}
)
NodeEntitiesInfo: Any = make_idl_struct(
    "NodeEntitiesInfo",
    "rmw_dds_common::msg::dds_::NodeEntitiesInfo_",
    {
        "node_namespace": _idl.bounded_str[256],
        "node_name": _idl.bounded_str[256],
        "reader_gid_seq": _idl.sequence[Gid],
        "writer_gid_seq": _idl.sequence[Gid],
    },
)
ParticipantEntitiesInfo: Any = make_idl_struct(
    "ParticipantEntitiesInfo",
    "rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_",
    {"gid": Gid, "node_entities_info_seq": _idl.sequence[NodeEntitiesInfo]},
)


def gid_bytes(guid: uuid.UUID) -> bytes:
    """The rmw GID of a Cyclone entity: its GUID's 16 bytes in network order."""
    return guid.bytes


@dataclass
class _NodeEntry:
    name: str
    namespace: str
    readers: list[bytes] = field(default_factory=list)
    writers: list[bytes] = field(default_factory=list)


class NodeAnnouncer:
    """Publishes a participant's ``ros_discovery_info`` and keeps it up to date.

    Owns the ``ros_discovery_info`` writer; the backend reports nodes and endpoints to it, and each
    change publishes the participant's whole state again (as rmw does).
    """

    def __init__(self, participant: Any) -> None:
        from cyclonedds.pub import DataWriter
        from cyclonedds.qos import Policy, Qos
        from cyclonedds.topic import Topic

        self._participant_gid = gid_bytes(participant.guid)
        self._nodes: dict[tuple[str, str], _NodeEntry] = {}
        self._lock = threading.Lock()
        topic = Topic(participant, DISCOVERY_TOPIC, ParticipantEntitiesInfo)
        qos = Qos(
            Policy.Reliability.Reliable(100_000_000),
            Policy.Durability.TransientLocal,
            Policy.History.KeepLast(1),
        )
        self._writer: Any = DataWriter(participant, topic, qos=qos)
        self._topic: Any = topic

    @property
    def participant_gid(self) -> bytes:
        return self._participant_gid

    def add_node(self, name: str, namespace: str) -> None:
        with self._lock:
            self._nodes.setdefault((namespace, name), _NodeEntry(name, namespace))
        self.publish()

    def remove_node(self, name: str, namespace: str) -> None:
        with self._lock:
            self._nodes.pop((namespace, name), None)
        self.publish()

    def add_endpoint(self, name: str, namespace: str, gid: bytes, *, is_writer: bool) -> None:
        with self._lock:
            entry = self._nodes.setdefault((namespace, name), _NodeEntry(name, namespace))
            (entry.writers if is_writer else entry.readers).append(gid)
        self.publish()

    def remove_endpoint(self, name: str, namespace: str, gid: bytes) -> None:
        with self._lock:
            entry = self._nodes.get((namespace, name))
            if entry is None:
                return
            for seq in (entry.readers, entry.writers):
                if gid in seq:
                    seq.remove(gid)
        self.publish()

    def message(self) -> Any:
        """The sample describing the current state."""
        with self._lock:
            nodes = [
                NodeEntitiesInfo(
                    node_namespace=e.namespace,
                    node_name=e.name,
                    reader_gid_seq=[Gid(data=list(g)) for g in e.readers],
                    writer_gid_seq=[Gid(data=list(g)) for g in e.writers],
                )
                for e in self._nodes.values()
            ]
        return ParticipantEntitiesInfo(
            gid=Gid(data=list(self._participant_gid)), node_entities_info_seq=nodes
        )

    def publish(self) -> None:
        if self._writer is None:
            return
        self._writer.write(self.message())

    def close(self) -> None:
        """Announce that the participant has no nodes any more, then drop the writer."""
        if self._writer is None:
            return
        with self._lock:
            self._nodes.clear()
        try:
            self.publish()
        except Exception as err:  # the participant may already be going down
            log.debug("ros_discovery_info: last announcement failed: %s", err)
        self._writer = None
        self._topic = None


# --- type hashes ------------------------------------------------------------------------------


def _share_dirs() -> list[Path]:
    """Install prefixes' ``share`` folders, where rosidl puts ``<pkg>/msg/<T>.json``."""
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    prefixes.append(sys.prefix)
    seen: list[Path] = []
    for prefix in prefixes:
        share = Path(prefix) / "share"
        if share not in seen:
            seen.append(share)
    return seen


_hash_cache: dict[str, str | None] = {}


def type_hash(type_name: str, extra_dirs: tuple[Path, ...] = ()) -> str | None:
    """``RIHS01_<hex>`` of ``pkg/msg/T`` from its installed type description, or None.

    `extra_dirs` are folders holding ``<pkg>/msg/<T>.json`` too (a user's message path).
    """
    if type_name in _hash_cache:
        return _hash_cache[type_name]
    found: str | None = None
    parts = type_name.split("/")
    if len(parts) == 3:
        pkg, kind, name = parts
        candidates = [d / pkg / kind / f"{name}.json" for d in extra_dirs]
        candidates += [d / pkg / kind / f"{name}.json" for d in _share_dirs()]
        for path in candidates:
            if not path.is_file():
                continue
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
                for entry in doc.get("type_hashes", ()):
                    if entry.get("type_name") == type_name:
                        found = str(entry["hash_string"])
                        break
            except (OSError, ValueError, KeyError, TypeError) as err:
                log.warning("%s: unreadable type description: %s", path, err)
            if found:
                break
    _hash_cache[type_name] = found
    return found


def type_hash_user_data(type_name: str, extra_dirs: tuple[Path, ...] = ()) -> bytes:
    """The endpoint USER_DATA rmw writes (``typehash=RIHS01_...;``), or b"" when unknown."""
    found = type_hash(type_name, extra_dirs)
    return f"typehash={found};".encode() if found else b""
