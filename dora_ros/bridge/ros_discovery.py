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
it. Types that were never built have no such file: their hash is computed from msgconv's definition
as rosidl computes it (REP 2016: SHA-256 of the type description's JSON), which
``tests/bridge/test_cyclone_backend.py`` checks against the installed files.
"""

from __future__ import annotations

import hashlib
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
    "computed_type_hash",
    "gid_bytes",
    "type_hash",
    "type_hash_of_user_data",
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
    """The endpoint USER_DATA rmw writes (``typehash=RIHS01_...;``), or b"" when unknown.

    The installed type description's hash if there is one, else one computed from msgconv's
    definition (a user's package that was never built).
    """
    found = type_hash(type_name, extra_dirs)
    if found is None:
        try:
            from .. import msgconv

            found = computed_type_hash(type_name, msgconv.message_definition)
        except Exception as err:  # msgconv errors, or a type we cannot describe
            log.debug("%s: no type hash: %s", type_name, err)
    return f"typehash={found};".encode() if found else b""


def type_hash_of_user_data(user_data: bytes | None) -> str | None:
    """The ``RIHS01_<hex>`` in an endpoint's USER_DATA (``typehash=...;``), or None."""
    for item in (user_data or b"").decode("utf-8", "replace").split(";"):
        key, _, value = item.partition("=")
        if (
            key.strip() == "typehash"
            and value.startswith("RIHS")
            and not value.startswith("RIHS00")
        ):
            return value.strip()
    return None


# rosidl's type_description_interfaces/msg/FieldType ids; +48 for T[N], +96 for T[<=N], +144 T[].
_FIELD_TYPE_IDS = {
    "int8": 2, "uint8": 3, "int16": 4, "uint16": 5, "int32": 6, "uint32": 7, "int64": 8,
    "uint64": 9, "float32": 10, "float64": 11, "char": 3, "wchar": 14, "bool": 15, "byte": 16,
    "string": 17, "wstring": 18,
}  # fmt: skip
_NESTED, _BOUNDED_STRING, _BOUNDED_WSTRING = 1, 21, 22
_ARRAY_OFFSETS = {None: 0, "fixed": 48, "bounded": 96, "sequence": 144}


def computed_type_hash(type_name: str, resolve: Any) -> str:
    """``RIHS01_<hex>`` of a message as rosidl computes it, from `resolve(name)` definitions."""
    main = resolve(type_name)
    referenced: dict[str, Any] = {}

    def visit(definition: Any) -> None:
        for f in definition.fields:
            if "/" in f.type.name and f.type.name not in referenced:
                nested = resolve(f.type.name)
                referenced[nested.name] = nested
                visit(nested)

    visit(main)
    description = {
        "type_description": _description(main),
        "referenced_type_descriptions": [_description(referenced[n]) for n in sorted(referenced)],
    }
    text = json.dumps(description, ensure_ascii=True, allow_nan=False, separators=(", ", ": "))
    return "RIHS01_" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _description(definition: Any) -> dict[str, Any]:
    fields = []
    for f in definition.fields or ():
        t = f.type
        if "/" in t.name:
            base, nested = _NESTED, t.name
        elif t.string_bound is not None:
            base = _BOUNDED_WSTRING if t.name == "wstring" else _BOUNDED_STRING
            nested = ""
        else:
            base, nested = _FIELD_TYPE_IDS[t.name], ""
        field_type = {
            "type_id": base + _ARRAY_OFFSETS[t.array],
            "capacity": t.length or 0,
            "string_capacity": t.string_bound or 0,
            "nested_type_name": nested,
        }
        fields.append({"name": f.name, "type": field_type})
    if not fields:  # rosidl's member of empty messages
        fields.append(
            {
                "name": "structure_needs_at_least_one_member",
                "type": {"type_id": 3, "capacity": 0, "string_capacity": 0, "nested_type_name": ""},
            }
        )
    return {"type_name": definition.name, "fields": fields}
