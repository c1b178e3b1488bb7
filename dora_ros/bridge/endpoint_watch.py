"""What a ROS 2 user needs to see about each bridge endpoint, told in the log.

A bridge endpoint that silently never hears anything is the commonest ROS 2 puzzle (a QoS that does
not match, a typo in a topic, a peer built from another version of a message). `EndpointWatch`
logs, per endpoint of one backend (logger `dora_ros.bridge`):

- at creation (INFO): `publisher /chatter (std_msgs/msg/String), QoS reliable, volatile,
  keep_last 10`;
- the first time it matches a peer (INFO): `publisher /chatter: first match (subscriptions:
  /listener)`;
- a peer on the same topic whose type has the same name but another definition, told by its RIHS01
  type hash (REP 2016: every rmw of Iron and later announces it): one WARNING per peer endpoint
  naming both hashes and the peer node. The peer's samples are then dropped (counted), because
  bytes of another definition decode into wrong values or not at all.

The backend supplies the graph (`list_peers`) and calls `poll()` from its own thread every
`POLL_PERIOD` seconds (one graph query per endpoint), and `vet()` with the publisher of a
subscription's first sample from each publisher, so a drifted peer's very first sample is refused.
`type_hash=None` (a backend that cannot tell its own hash) turns the type check off.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .qos import Ros2QosPolicies

__all__ = ["POLL_PERIOD", "EndpointWatch", "PeerEndpoint"]

log = logging.getLogger("dora_ros.bridge")

#: Seconds between two looks at the graph.
POLL_PERIOD = 0.5
#: Seconds a publisher's samples are vetted one by one while the graph does not show it yet.
VET_PATIENCE = 2.0
_MAX_UNSEEN = 1024


@dataclass(frozen=True)
class PeerEndpoint:
    """Another node's publisher or subscription on a topic, as the ROS graph shows it."""

    node: str  # fully qualified node name, `/ns/name`
    gid: bytes
    type_name: str
    type_hash: str | None  # `RIHS01_<hex>`, or None when the peer announces none (Humble)
    own: bool = False  # an endpoint of the backend's own node (its samples need no vetting)


@dataclass(eq=False)
class _Watched:
    kind: str  # "publisher" or "subscription"
    topic: str
    type_name: str
    type_hash: str | None
    matched_count: Callable[[], int]
    reject: Callable[[frozenset[bytes]], None] | None
    matched: bool = False
    warned: set[bytes] = field(default_factory=set)
    unseen: dict[bytes, float] = field(default_factory=dict)  # gid -> first sample, not in graph


class EndpointWatch:
    """The log lines of one backend's topic endpoints (see the module docstring).

    Args:
        list_peers: `(topic, publishers)` -> the publishers (True) or subscriptions (False) on
            `topic`, this backend's own marked `own`.
    """

    def __init__(self, list_peers: Callable[[str, bool], list[PeerEndpoint]]) -> None:
        self._list_peers = list_peers
        self._lock = threading.Lock()
        self._watched: dict[int, _Watched] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, name: str) -> None:
        """Poll from a thread of our own, for a backend that has no timer of its own to do it
        (once; later calls do nothing)."""
        if self._thread is not None or self._stop.is_set():
            return
        self._thread = threading.Thread(target=self._run, name=f"watch-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(POLL_PERIOD):
            self.poll()

    def close(self) -> None:
        """Stop the polling thread, if `start` made one (at most one period's wait)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * POLL_PERIOD + 1)
        with self._lock:
            self._watched.clear()

    def add(
        self,
        endpoint: Any,
        kind: str,
        topic: str,
        type_name: str,
        qos: Ros2QosPolicies,
        type_hash: str | None,
        reject: Callable[[frozenset[bytes]], None] | None = None,
    ) -> None:
        """Watch `endpoint` (anything with `matched_count()`), and log it.

        `reject(gids)`, for a subscription, makes it drop the samples of those publishers.
        """
        log.info("%s %s (%s), QoS %s", kind, topic, type_name, qos.describe())
        with self._lock:
            self._watched[id(endpoint)] = _Watched(
                kind, topic, type_name, type_hash, endpoint.matched_count, reject
            )

    def remove(self, endpoint: Any) -> None:
        with self._lock:
            self._watched.pop(id(endpoint), None)

    def poll(self) -> None:
        """Look at the graph once: first matches and type-definition mismatches."""
        with self._lock:
            watched = list(self._watched.values())
        for entry in watched:
            try:
                self._check(entry)
            except Exception:  # a graph query on a closing node; the next poll tries again
                log.debug("checking %s %s", entry.kind, entry.topic, exc_info=True)

    def _check(self, entry: _Watched) -> None:
        peers_are_publishers = entry.kind == "subscription"
        peers: list[PeerEndpoint] | None = None
        if not entry.matched and self._matched(entry) > 0:
            entry.matched = True
            peers = self._peers(entry.topic, peers_are_publishers)
            names = sorted({p.node for p in peers})
            what = "publishers" if peers_are_publishers else "subscriptions"
            log.info(
                "%s %s: first match (%s)",
                entry.kind,
                entry.topic,
                f"{what}: {', '.join(names)}" if names else f"{entry.matched_count()} {what}",
            )
        if entry.type_hash is None:
            return
        if peers is None:
            peers = self._peers(entry.topic, peers_are_publishers)
        self._judge(entry, peers)

    def _peers(self, topic: str, publishers: bool) -> list[PeerEndpoint]:
        return [p for p in self._list_peers(topic, publishers) if not p.own]

    def _matched(self, entry: _Watched) -> int:
        try:
            return int(entry.matched_count())
        except Exception:  # the endpoint was closed without telling us: stop watching it
            with self._lock:
                for key, value in list(self._watched.items()):
                    if value is entry:
                        del self._watched[key]
            return 0

    def vet(self, endpoint: Any, gid: bytes) -> bool:
        """Check the publisher `gid` of a subscription's sample against our type hash now, so a
        drifted peer's samples are refused from the first one (not one poll later).

        Returns False while the graph does not show that publisher yet (ask again next sample),
        for at most `VET_PATIENCE` seconds per publisher; then `poll()` alone watches it.
        """
        with self._lock:
            entry = self._watched.get(id(endpoint))
        if entry is None or entry.type_hash is None or gid in entry.warned:
            return True
        try:
            peers = [p for p in self._list_peers(entry.topic, True) if p.gid == gid]
        except Exception:  # the graph of a closing node; poll() looks again
            log.debug("vetting a publisher of %s", entry.topic, exc_info=True)
            return True
        if peers:
            entry.unseen.pop(gid, None)
            self._judge(entry, [p for p in peers if not p.own])
            return True
        now = time.monotonic()
        if len(entry.unseen) >= _MAX_UNSEEN:
            entry.unseen.clear()
        first = entry.unseen.setdefault(gid, now)
        if now - first < VET_PATIENCE:
            return False
        entry.unseen.pop(gid, None)
        return True

    def check_peer(self, endpoint: Any, peer: PeerEndpoint) -> bool:
        """Whether `peer` (a matched publisher, as a backend's own discovery data describes it)
        has our type's name with another definition; warns once per peer if so. For a backend
        that refuses the peer's samples itself (the Cyclone backend, by publication handle)."""
        with self._lock:
            entry = self._watched.get(id(endpoint))
        if entry is None or entry.type_hash is None:
            return False
        self._judge(entry, [peer])
        return peer.gid in entry.warned

    def _judge(self, entry: _Watched, peers: list[PeerEndpoint]) -> None:
        """Warn once per peer endpoint whose type hash differs from ours, and refuse its samples."""
        peers_are_publishers = entry.kind == "subscription"
        fresh = [
            p
            for p in peers
            if p.type_name == entry.type_name
            and p.type_hash
            and p.type_hash != entry.type_hash
            and p.gid not in entry.warned
        ]
        if not fresh:
            return
        for peer in fresh:
            entry.warned.add(peer.gid)
            log.warning(
                "%s %s: %s of node %s has type %s with another definition (its type hash %s, "
                "ours %s): %s; rebuild one side from the same .msg",
                entry.kind,
                entry.topic,
                "publisher" if peers_are_publishers else "subscription",
                peer.node,
                entry.type_name,
                peer.type_hash,
                entry.type_hash,
                "its samples are dropped"
                if peers_are_publishers
                else "it may not decode what we send",
            )
        if peers_are_publishers and entry.reject is not None:
            entry.reject(frozenset(entry.warned))
