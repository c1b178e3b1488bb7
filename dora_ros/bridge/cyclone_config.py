"""Cyclone DDS configuration from ROS 2's discovery environment variables.

ROS 2 (since Iron) chooses how far a node looks for peers with two variables that every rmw
implementation maps onto its own DDS configuration; the Cyclone backend does the same, so it finds
the same peers an rclpy node finds:

``ROS_AUTOMATIC_DISCOVERY_RANGE``
    ``SUBNET`` (ROS 2's default when unset): Cyclone's defaults, multicast discovery on the default
    interface. ``LOCALHOST``: the loopback interface only, no multicast, unicast discovery to the
    participant ports of this host; this is what rclpy/Fast DDS does for ``LOCALHOST`` and what our
    tests use. ``OFF``: no automatic discovery at all (only static peers). ``SYSTEM_DEFAULT``:
    leave Cyclone's configuration (``CYCLONEDDS_URI``) alone.
``ROS_STATIC_PEERS``
    Semicolon-separated hosts (names or addresses) always contacted by unicast, whatever the range.
``ROS_LOCALHOST_ONLY``
    The deprecated predecessor: ``1`` means ``LOCALHOST`` when the range is not set.

The result is a Cyclone XML fragment given to `cyclonedds.domain.Domain`; a ``CYCLONEDDS_URI`` set
by the user is kept and our discovery fragment only overrides the discovery settings. Two more are
always added: larger socket receive buffers (before the user's settings, which may override them),
and, after them, that Cyclone ignores the XTypes type information of Fast DDS participants, which it
cannot use (see ``cyclone_types.py``).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from ..errors import BridgeError

__all__ = [
    "BUFFERS_XML",
    "COMPATIBILITY_XML",
    "FASTDDS_VENDOR_ID",
    "MAX_AUTO_PARTICIPANT_INDEX",
    "DiscoveryRange",
    "DiscoverySettings",
    "cyclone_config",
]

# eProsima's RTPS vendor id (Fast DDS). Cyclone cannot use the XTypes type objects Fast DDS 3 sends
# (see cyclone_types.py), so it ignores them and matches Fast DDS endpoints on type names.
FASTDDS_VENDOR_ID = "1.15"
COMPATIBILITY_XML = (
    '<CycloneDDS><Domain id="any"><Compatibility>'
    f"<IgnoreTypeInformation>{FASTDDS_VENDOR_ID}</IgnoreTypeInformation>"
    "</Compatibility></Domain></CycloneDDS>"
)
# Large samples (a 1080p image is ~6 MB) go out as one burst of UDP datagrams. Cyclone's default
# 14.7 kB datagrams of 1.3 kB fragments overflow a Fast DDS receiver's socket buffer (the OS default,
# ~200 kB) so badly that the reliable repair took 2-4 s per image; 64 kB datagrams of 62 kB fragments
# (what Fast DDS itself sends) bring it to ~100-200 ms (benchmarks/bridge.py, dora -> ROS). Our own
# receive buffer is raised too; the kernel caps it at net.core.rmem_max without failing.
RECEIVE_BUFFER_MAX = 16 * 1024 * 1024
BUFFERS_XML = (
    '<CycloneDDS><Domain id="any">'
    "<General><MaxMessageSize>65500B</MaxMessageSize><FragmentSize>62000B</FragmentSize></General>"
    f'<Internal><SocketReceiveBufferSize min="default" max="{RECEIVE_BUFFER_MAX}B"/></Internal>'
    "</Domain></CycloneDDS>"
)

# Unicast discovery sends to the ports of participant indices 0..N on each peer. ROS 2's rmw
# implementations use 32 for LOCALHOST, which leaves room for a few dozen processes per domain.
MAX_AUTO_PARTICIPANT_INDEX = 32


class DiscoveryRange(enum.Enum):
    """The values of ``ROS_AUTOMATIC_DISCOVERY_RANGE``."""

    SYSTEM_DEFAULT = "SYSTEM_DEFAULT"
    SUBNET = "SUBNET"
    LOCALHOST = "LOCALHOST"
    OFF = "OFF"


@dataclass(frozen=True)
class DiscoverySettings:
    """How far the backend's participant looks for peers (parsed from the environment once)."""

    range: DiscoveryRange = DiscoveryRange.SUBNET
    static_peers: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DiscoverySettings:
        """Read ``ROS_AUTOMATIC_DISCOVERY_RANGE``, ``ROS_STATIC_PEERS``, ``ROS_LOCALHOST_ONLY``.

        Raises:
            BridgeError: ``ROS_AUTOMATIC_DISCOVERY_RANGE`` is not one of the four values.
        """
        env = os.environ if env is None else env
        raw = env.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "").strip()
        if raw:
            try:
                chosen = DiscoveryRange(raw.upper())
            except ValueError as err:
                valid = ", ".join(r.value for r in DiscoveryRange)
                raise BridgeError(
                    f"ROS_AUTOMATIC_DISCOVERY_RANGE={raw!r} is not one of {valid}"
                ) from err
        elif env.get("ROS_LOCALHOST_ONLY", "").strip() == "1":
            chosen = DiscoveryRange.LOCALHOST
        else:
            chosen = DiscoveryRange.SUBNET
        peers = tuple(p.strip() for p in env.get("ROS_STATIC_PEERS", "").split(";") if p.strip())
        return cls(range=chosen, static_peers=peers)


def cyclone_config(
    settings: DiscoverySettings,
    env: Mapping[str, str] | None = None,
    *,
    ignore_fastdds_types: bool = True,
) -> str | None:
    """The configuration string for `cyclonedds.domain.Domain`, or None for Cyclone's own.

    Cyclone applies the sources of a comma-separated list in order, later ones overriding: our
    buffer sizes, then a user's ``CYCLONEDDS_URI`` (files or XML), then the Fast DDS compatibility
    setting and the discovery settings, which override only what they name.
    `ignore_fastdds_types` adds `COMPATIBILITY_XML` (Cyclone DDS 0.11 and later understand it).
    """
    env = os.environ if env is None else env
    parts = [BUFFERS_XML, env.get("CYCLONEDDS_URI", "").strip()]
    if ignore_fastdds_types:
        parts.append(COMPATIBILITY_XML)
    parts.append(_discovery_xml(settings) or "")
    joined = ",".join(p for p in parts if p)
    return joined or None


def _discovery_xml(settings: DiscoverySettings) -> str | None:
    peers = list(settings.static_peers)
    general = ""
    index = "auto"
    if settings.range is DiscoveryRange.SYSTEM_DEFAULT:
        if not peers:
            return None
    elif settings.range is DiscoveryRange.LOCALHOST:
        # Loopback only, unicast discovery to this host's participant ports (as rmw does).
        general = (
            '<Interfaces><NetworkInterface address="127.0.0.1"/></Interfaces>'
            "<AllowMulticast>false</AllowMulticast>"
        )
        peers.insert(0, "127.0.0.1")
    elif settings.range is DiscoveryRange.OFF:
        # Nobody is contacted but the static peers; no multicast.
        general = "<AllowMulticast>false</AllowMulticast>"
        if not peers:
            index = "none"
    elif not peers:  # SUBNET without static peers: Cyclone's defaults are ROS 2's.
        return None
    peer_xml = "".join(f"<Peer address={quoteattr(p)}/>" for p in peers)
    discovery = f"<ParticipantIndex>{index}</ParticipantIndex>"
    if index == "auto":
        discovery += (
            f"<MaxAutoParticipantIndex>{MAX_AUTO_PARTICIPANT_INDEX}</MaxAutoParticipantIndex>"
        )
    if peer_xml:
        discovery += f"<Peers>{peer_xml}</Peers>"
    return (
        '<CycloneDDS><Domain id="any">'
        f"<General>{general}</General>"
        f"<Discovery>{discovery}</Discovery>"
        "</Domain></CycloneDDS>"
    )
