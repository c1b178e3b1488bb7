"""Taps: an extra subscriber of one output of a running node, for as long as someone listens.

`dora-ros topic echo/hz/info` and `record --proxy` watch outputs of a running dataflow without
the graph declaring it (dora-rs needs `debug: enable_debug_inspection`). A tap costs nothing while
nobody listens: the node has no tap until its supervisor asks for one, and none after.

- **Supervisor side** (`TapReceiver`): the supervisor listens on the abstract socket
  `@dora-ros/<uid>/<dataflow-id>/tap/<tap-id>` and tells the node, on the control channel,
  ``{"op": "tap", "tap": <id>, "output": <output>, "address": <socket>}``. A thread of the
  receiver reads the frames, rebuilds each value over the received bytes (shared memory mapped
  read-only, as a node does), hands it to its ``deliver`` callback (which copies what it keeps:
  the Zenoh republisher in `cluster/tap_server.py`) and releases the region at once, frame by
  frame, so a tap never holds the sender's memory.
- **Node side** (`NodeTaps`): the node connects an ordinary `OutboundLink` to that socket and
  sends every message of the output on it too. The link never blocks the sender: records that
  do not fit wait in a queue of `TAP_QUEUE`, the oldest dropped and counted; the count goes to
  the receiver in a small record of its own (`KIND_TAP_DROPPED`) at most every
  `DROP_REPORT_PERIOD`. Closing the receiver's socket is what ends a tap: the node notices on
  its next call into the API and drops the link (there is no "untap" record to lose).

The node sees a tap record when it handles control records (in `next()`, `try_recv()`,
`drain()`...), and from `send_output` at most every `node_loop.CONTROL_PERIOD`: a node that only
ever sends, without reading events, is tapped too.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import wire
from .shm_pool import ShmPool
from .transport import SocketInboundLink as InboundLink
from .transport import SocketOutboundLink as OutboundLink
from .transport import connect, listen, peer_uid, socket_name

__all__ = [
    "DROP_REPORT_PERIOD",
    "KIND_TAP_DROPPED",
    "TAP_QUEUE",
    "NodeTaps",
    "TapMessage",
    "TapReceiver",
    "tap_address",
]

# Records a tap link keeps waiting at the sender while the supervisor is behind (oldest dropped).
TAP_QUEUE = 4
# Seconds between two reports of the sender's tap drops.
DROP_REPORT_PERIOD = 0.2
# sender -> tap receiver: the count of messages the sender dropped for this tap so far (u64).
# Outside wire.py's kinds (1-5) on purpose: only a tap link carries it.
KIND_TAP_DROPPED = 0x40
_DROPPED = struct.Struct("<BQ")
# The receiver's thread wakes this often to notice close() (and its owner's lease checks).
_RECEIVER_TICK = 0.2
# While a tap link's records wait (the supervisor is behind), its socket is retried at most this
# often, not at every send.
_RETRY = 0.001


def tap_address(dataflow_id: str, tap_id: str) -> str:
    """The abstract socket a tap's receiver listens on."""
    return socket_name(dataflow_id, f"tap/{tap_id}")


# --- node side ------------------------------------------------------------------------------------


class _TapLink(OutboundLink):
    """A tap's link: while records wait for the supervisor, the socket is retried at most every
    `_RETRY` seconds, not at each send (the send then only queues, oldest dropped and counted).

    A sender at full rate saturates a tap; trying the full socket at each message cost it a
    failed sendmsg per message. Median cost of an 8-byte send with `topic hz` attached against
    without, in the same run (a sender of 2000-message bursts; 2 cores at load ~11, so ratios
    only): 2.6x, 2.1x, 3.0x retrying at each send; 1.0x, 2.4x, 1.4x with the retry spaced.
    """

    retry_at = 0.0

    def flush(self, pool: ShmPool) -> None:
        now = time.monotonic()
        if now < self.retry_at:
            return
        super().flush(pool)
        self.retry_at = now + _RETRY if self.pending or self.retiring else 0.0


class NodeTaps:
    """A node's tap links, by output index. Empty (falsy) unless someone listens."""

    def __init__(self) -> None:
        self.by_index: dict[int, tuple[OutboundLink, ...]] = {}
        self._links: dict[str, OutboundLink] = {}  # tap id -> link
        self._reported: dict[str, int] = {}  # tap id -> drop count the receiver was told
        self._report_at = 0.0
        self._next_id = 0

    def __bool__(self) -> bool:
        return bool(self._links)

    def add(self, message: dict[str, Any], index: int | None, node_id: str) -> None:
        """Handle a ``tap`` control record: connect to the receiver (once per tap id)."""
        tap_id = str(message.get("tap"))
        if index is None or tap_id in self._links:
            return  # an output the node does not have, or a repeat (the supervisor renews)
        try:
            sock = connect(str(message["address"]), node_id, timeout=1.0)
        except (OSError, KeyError):
            return  # the receiver is gone already
        # Negative ids: never one of the node's own link ids (ShmPool keys retire notices by id).
        self._next_id -= 1
        link = _TapLink(self._next_id, f"\0tap/{tap_id}", sock, TAP_QUEUE)
        link.tap_id = tap_id  # type: ignore[attr-defined]
        link.tap_index = index  # type: ignore[attr-defined]
        self._links[tap_id] = link
        self._reported[tap_id] = 0
        self._rebuild()

    def _rebuild(self) -> None:
        # In place: the node keeps a reference to this dict for its send path.
        by_index: dict[int, list[OutboundLink]] = {}
        for link in self._links.values():
            by_index.setdefault(link.tap_index, []).append(link)  # type: ignore[attr-defined]
        self.by_index.clear()
        self.by_index.update((index, tuple(links)) for index, links in by_index.items())

    def read_releases(self, pool: ShmPool) -> None:
        """Take the receivers' RELEASE records (before the node takes a region)."""
        for link in self._links.values():
            if link.outstanding:
                link.read_releases(pool)

    def service(self, pool: ShmPool) -> bool:
        """Flush waiting records, notice closed receivers, report drops. True while records
        wait (the node then wakes up soon to retry)."""
        waiting = False
        now = time.monotonic()
        report = now >= self._report_at
        unsent = False
        gone = []
        for tap_id, link in self._links.items():
            link.read_releases(pool)  # also notices a receiver that closed its socket
            # The count goes before the waiting records, and one that did not fit is tried
            # again at the next call, not a period later: `topic hz` counts the sender's rate
            # as seq + this count, and a stale count under congestion under-reported it.
            if not link.closed and report and link.dropped != self._reported[tap_id]:
                try:
                    link.sock.send(
                        _DROPPED.pack(KIND_TAP_DROPPED, link.dropped), socket.MSG_DONTWAIT
                    )
                    self._reported[tap_id] = link.dropped
                except OSError:  # full now (or closing: noticed below)
                    unsent = True
            if not link.closed and (link.pending or link.retiring):
                link.flush(pool)
                waiting = waiting or bool(link.pending or link.retiring)
            if link.closed:
                gone.append(tap_id)
        if report and not unsent:
            self._report_at = now + DROP_REPORT_PERIOD
        for tap_id in gone:
            self._links.pop(tap_id).close(pool)
            self._reported.pop(tap_id, None)
        if gone:
            self._rebuild()
        return waiting

    def close(self, pool: ShmPool) -> None:
        for link in self._links.values():
            link.close(pool)
        self._links.clear()
        self.by_index.clear()


# --- supervisor side ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TapMessage:
    """One message seen by a tap: the value (over the received bytes: copy what you keep), the
    metadata as the wire carries it (`wire.decode_metadata` reads it), the send time and the
    payload's size on the wire, plus the receiver's counts so far."""

    value: Any  # pa.Array
    metadata: bytes
    timestamp_ns: int
    size: int
    seq: int  # 1, 2, ... per receiver
    dropped_at_sender: int


class TapReceiver:
    """The supervisor's end of one tap: a socket the node connects to and a thread reading it.

    ``deliver`` runs on that thread for each message; it must not block (copy and hand on).
    ``close()`` ends the tap: the node drops its link when it sees the socket closed.
    """

    def __init__(
        self, dataflow_id: str, tap_id: str, node: str, output: str,
        deliver: Callable[[TapMessage], None],
    ) -> None:  # fmt: skip
        self.tap_id = tap_id
        self.node = node
        self.output = output
        self.address = tap_address(dataflow_id, tap_id)
        self.deliver = deliver
        self.received = 0
        self.dropped_at_sender = 0
        self.connections = 0  # node links accepted (more than one after a restart of the node)
        self._listener = listen(self.address)
        self._links: dict[int, InboundLink] = {}
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"tap-{tap_id}", daemon=True)
        self._thread.start()

    def record(self) -> dict[str, Any]:
        """The control record that asks the node for this tap."""
        return {"op": "tap", "tap": self.tap_id, "output": self.output, "address": self.address}

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._listener.fileno(), select.POLLIN)
        try:
            while not self._closed.is_set():
                for fd, _ in poller.poll(_RECEIVER_TICK * 1000):
                    if fd == self._listener.fileno():
                        self._accept(poller)
                        continue
                    link = self._links.get(fd)
                    if link is not None and not link.receive(self._on_frame):
                        self._links.pop(fd, None)
                        with contextlib.suppress(KeyError, ValueError):
                            poller.unregister(fd)
        finally:
            for link in self._links.values():
                link.close()
            self._links.clear()
            self._listener.close()

    def _accept(self, poller: select.poll) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            if peer_uid(sock) != _uid():
                sock.close()
                continue
            sock.setblocking(False)
            link = InboundLink(sock)
            self._links[link.fd] = link
            self.connections += 1
            poller.register(link.fd, select.POLLIN)

    def _on_frame(self, link: InboundLink, data: bytes, _: Any) -> None:
        if data[0] == KIND_TAP_DROPPED:
            self.dropped_at_sender = _DROPPED.unpack_from(data)[1]
            return
        self._deliver_frame(link, data)
        # The region goes back to the sender now, not after the batch: a sender at full rate
        # would otherwise take a new region for each message the batch holds.
        if link.releases:
            link.flush_releases()

    def _deliver_frame(self, link: InboundLink, data: bytes) -> None:
        import pyarrow as pa

        kind, encoding, _, type_code, meta_len, ts, nbytes = wire.HEADER.unpack_from(data)
        if kind == wire.KIND_SHM:
            region_id, generation, _ = wire.SHM_REF.unpack_from(data, wire.HEADER.size)
            start = wire.HEADER.size + wire.SHM_REF.size
            meta = bytes(data[start : start + meta_len])
            buf = link.shm_buffer(region_id, generation, nbytes)
        else:
            start = wire.HEADER.size + meta_len
            meta = bytes(data[wire.HEADER.size : start])
            buf = pa.py_buffer(data).slice(start, nbytes)
        self.received += 1
        value = wire.decode_payload(encoding, type_code, buf)
        del buf
        self.deliver(TapMessage(value, meta, ts, nbytes, self.received, self.dropped_at_sender))

    def close(self) -> None:
        """End the tap (idempotent); returns once the thread has closed its sockets."""
        self._closed.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=2 * _RECEIVER_TICK + 1.0)


def _uid() -> int:
    import os

    return os.getuid()
