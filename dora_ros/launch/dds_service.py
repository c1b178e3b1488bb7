"""A ROS 2 service over plain Cyclone DDS for types that have no Python package (no wheel).

rclpy needs a service type's generated Python module; `composition_interfaces` has none on pip.
This client and server carry a request and its reply on the ROS 2 topics of the service
(`rq/<service>Request`, `rr/<service>Reply`), with the types built from the `.srv` definition by
msgconv and the bridge's Cyclone type builder, and a (client id, sequence number) header in front
of each sample to pair replies with requests, as rmw_cyclonedds does. Both ends here are dora-ros;
whether a ROS 2 peer on rmw_cyclonedds matches depends on its type information (untested).

The bridge's Cyclone backend does topics only (its services need rclpy); this module is the
launcher's own small service layer until the bridge has one (see docs/launch.md). It uses the
bridge's public type builder and discovery configuration and cyclonedds's public API only.
"""

from __future__ import annotations

import os
import random
import threading
import time
from typing import Any

from ..errors import BridgeError, LaunchError, MsgConvError

__all__ = ["DdsServiceClient", "DdsServiceServer", "service_types"]

_cache: dict[str, tuple[Any, Any, Any, Any]] = {}
_cache_lock = threading.Lock()
# One cyclonedds Domain per id in this process, configured as the bridge configures its own (the
# discovery range and peers ROS 2 nodes use), shared by the endpoints here: (domain, users).
_domains: dict[int, tuple[Any, int]] = {}
_domains_lock = threading.Lock()


def _acquire_domain(domain_id: int) -> None:
    """Create the domain `domain_id` with the ROS 2 discovery settings, or count one more user.

    Raises:
        LaunchError: Cyclone DDS refuses the configuration (ROS_AUTOMATIC_DISCOVERY_RANGE, ...).
    """
    from cyclonedds.core import DDSException
    from cyclonedds.domain import Domain

    from ..bridge.cyclone_config import DiscoverySettings, cyclone_config

    with _domains_lock:
        domain, users = _domains.get(domain_id, (None, 0))
        if users == 0:
            try:
                settings = DiscoverySettings.from_env()
            except BridgeError as err:
                raise LaunchError(f"composable nodes: {err}") from err
            try:
                domain = Domain(domain_id, cyclone_config(settings))
            except DDSException:
                # Cyclone DDS before 0.11 does not know the Fast DDS compatibility setting
                try:
                    domain = Domain(domain_id, cyclone_config(settings, ignore_fastdds_types=False))
                except DDSException as err:
                    raise LaunchError(
                        f"Cyclone DDS refused its configuration for domain {domain_id}: {err}"
                    ) from err
        _domains[domain_id] = (domain, users + 1)


def _release_domain(domain_id: int) -> None:
    """One user less; the last one drops the domain (cyclonedds deletes it with the object)."""
    with _domains_lock:
        domain, users = _domains.get(domain_id, (None, 0))
        if users > 1:
            _domains[domain_id] = (domain, users - 1)
        else:
            _domains.pop(domain_id, None)


def service_types(service_type: str) -> tuple[Any, Any, Any, Any]:
    """(Request, Response, RequestWire, ReplyWire) cyclonedds classes for `pkg/srv/T`.

    Raises:
        LaunchError: the definition is not found (names the package and DORA_ROS_MSG_PATH).
    """
    from cyclonedds.idl import make_idl_struct
    from cyclonedds.idl import types as idl

    from ..bridge.cyclone_types import build_type
    from ..msgconv import message_definition

    with _cache_lock:
        if service_type in _cache:
            return _cache[service_type]
        try:
            request = build_type(f"{service_type}_Request", message_definition)
            response = build_type(f"{service_type}_Response", message_definition)
        except (MsgConvError, BridgeError) as err:
            package = service_type.split("/")[0]
            raise LaunchError(
                f"service type {service_type}: no definition found ({err}); install package "
                f"'{package}' or put its .srv files on DORA_ROS_MSG_PATH"
            ) from err
        base = service_type.replace("/", "::")
        wires = tuple(
            make_idl_struct(
                f"{service_type.replace('/', '_')}_{part}Wire",
                f"dora_ros::{base}_{part}Wire_",
                {"client": idl.uint64, "seq": idl.int64, "body": body},
            )
            for part, body in (("Request", request), ("Reply", response))
        )
        _cache[service_type] = (request, response, wires[0], wires[1])
        return _cache[service_type]


class _Endpoint:
    def __init__(self, service: str, service_type: str, domain_id: int | None = None) -> None:
        from cyclonedds.core import Policy, Qos
        from cyclonedds.domain import DomainParticipant
        from cyclonedds.pub import DataWriter
        from cyclonedds.sub import DataReader
        from cyclonedds.topic import Topic

        self.service = service
        self.request_type, self.response_type, request_wire, reply_wire = service_types(
            service_type
        )
        self.domain_id = (
            int(os.environ.get("ROS_DOMAIN_ID", "0")) if domain_id is None else domain_id
        )
        # The bridge's configured domain (discovery range, peers) is the one ROS 2 nodes use.
        _acquire_domain(self.domain_id)
        self.participant: Any = DomainParticipant(self.domain_id)
        qos = Qos(Policy.Reliability.Reliable(1_000_000_000), Policy.History.KeepLast(100))
        self._topics: tuple[Any, ...] = (
            Topic(self.participant, f"rq{service}Request", request_wire),
            Topic(self.participant, f"rr{service}Reply", reply_wire),
        )
        self.request_wire, self.reply_wire = request_wire, reply_wire
        self._writer_topic, self._reader_topic = self._pick(self._topics)
        self.writer: Any = DataWriter(self.participant, self._writer_topic, qos=qos)
        self.reader: Any = DataReader(self.participant, self._reader_topic, qos=qos)

    def _pick(self, topics: tuple[Any, Any]) -> tuple[Any, Any]:
        raise NotImplementedError

    def close(self) -> None:
        """Delete the DDS entities now: cyclonedds deletes an entity when its last Python
        reference goes (it keeps only weak ones), and the participant takes its children."""
        if self.participant is None:
            return
        self.writer = self.reader = self._writer_topic = self._reader_topic = None
        self._topics = ()
        self.participant = None
        _release_domain(self.domain_id)


class DdsServiceClient(_Endpoint):
    """Call `service` (a fully qualified name) of type `pkg/srv/T`; one call at a time."""

    def __init__(self, service: str, service_type: str, domain_id: int | None = None) -> None:
        super().__init__(service, service_type, domain_id)
        self._id = random.getrandbits(63)
        self._seq = 0
        self._lock = threading.Lock()

    def _pick(self, topics: tuple[Any, Any]) -> tuple[Any, Any]:
        return topics[0], topics[1]

    def wait_for_service(self, timeout_s: float, stop: threading.Event | None = None) -> bool:
        """True once a server reads our requests and writes replies we read."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.writer.get_matched_subscriptions() and self.reader.get_matched_publications():
                return True
            if stop is not None and stop.is_set():
                return False
            time.sleep(0.05)
        return False

    def call(self, request: Any, timeout_s: float, stop: threading.Event | None = None) -> Any:
        """The response to `request`, or LaunchError after `timeout_s`."""
        with self._lock:
            self._seq += 1
            seq = self._seq
            self.writer.write(self.request_wire(client=self._id, seq=seq, body=request))
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                for sample in self.reader.take(N=16):
                    if sample.client == self._id and sample.seq == seq:
                        return sample.body
                if stop is not None and stop.is_set():
                    break
                time.sleep(0.01)
        raise LaunchError(f"service {self.service}: no reply within {timeout_s:g} s")


class DdsServiceServer(_Endpoint):
    """Serve `service`: `serve_once` answers the pending requests with `handler(request)`."""

    def _pick(self, topics: tuple[Any, Any]) -> tuple[Any, Any]:
        return topics[1], topics[0]

    def serve_once(self, handler: Any, timeout_s: float = 0.05) -> int:
        served = 0
        for sample in self.reader.take(N=16):
            response = handler(sample.body)
            self.writer.write(self.reply_wire(client=sample.client, seq=sample.seq, body=response))
            served += 1
        if not served:
            time.sleep(timeout_s)
        return served
