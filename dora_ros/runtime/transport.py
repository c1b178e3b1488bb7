"""Node-to-node links on one machine: the shared-memory implementation of ``link``'s interface.

A node listens on its own Unix socket (SOCK_SEQPACKET, Linux abstract namespace: no file to leave
behind) and senders connect to it directly, so no relay process sits on the data path: one
``sendmsg`` in the sender and one ``recvmsg`` in the receiver per message (8 bytes one way in
~15 us here, against ~130 us through dora-rs's daemon).

``SocketOutboundLink`` is the sender's end of one link (sender node -> receiver node),
``SocketInboundLink`` the receiver's; they implement ``link.OutboundLink``/``link.InboundLink``,
as the links between machines (``cluster/remote_link``) do.

Control records (RELEASE receiver -> sender, RETIRE sender -> receiver) are never dropped: one
that does not fit in the socket now waits, merged with the next ones into one record, and goes
first when the socket has room. Each is bounded by the regions of the link's sender.
"""

from __future__ import annotations

import array
import errno
import fcntl
import importlib
import os
import select
import socket
import struct
import termios
from collections import deque
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from . import wire
from .link import InboundLink, OutboundLink
from .shm_pool import Mapping, Region, ShmPool

RECV_SIZE = 65536
# Items per RELEASE or RETIRE record (a record must fit in the socket's buffer).
_ITEMS_PER_RECORD = 2048
MAX_INLINE_RECORD = 60000
_FD_SPACE = socket.CMSG_SPACE(struct.calcsize("i"))
# Every record a receiver has not read yet holds socket memory (768 bytes for a small record
# here) and, for a shared-memory record, a whole region. So that a receiver busy in its own code
# does not make the sender's shared memory grow with the message rate, shared-memory records wait
# in `pending` (bounded by queue_size, oldest dropped and counted) once the receiver has more than
# this many unread bytes per queue slot (+2).
_UNREAD_BYTES_PER_SLOT = 1024
# Regions a receiver may hold before that backlog is checked at all (one ioctl per send).
_UNCHECKED_REGIONS = 4
_INT = struct.Struct("i")
# A RELEASE record of one item, packed in one call: 0.5 us where the list, generator and join
# below take 1.7 (timeit, loaded); a receiver in step with its sender sends one per message.
_RELEASE_ONE = struct.Struct("<B" + wire.RELEASE_ITEM.format.lstrip("<"))
# The C lease on a received message (_sample_buffer.c: SharedSlice), or None without the C
# extension (then _Lease and pa.foreign_buffer do the same: ~0.3 us more per message).
_shared_slice: Callable[[Any, int, Any, tuple[int, int]], Any] | None
try:
    _shared_slice = importlib.import_module(f"{__package__}._sample_buffer").shared_slice
except (ImportError, AttributeError):
    _shared_slice = None
_py_buffer = pa.py_buffer


def socket_name(dataflow_id: str, what: str) -> str:
    """Abstract-namespace address of a dataflow's control socket or of a node's data socket."""
    name = f"\0dora-ros/{os.getuid()}/{dataflow_id}/{what}"
    if len(name) > 100:  # sun_path is 108 bytes; keep long node ids unique but short
        import hashlib

        name = name[:60] + hashlib.sha1(name.encode()).hexdigest()
    return name


def _unread_bytes(fd: int) -> int:
    """Socket memory of the records sent on ``fd`` that the peer has not read yet (SIOCOUTQ)."""
    return int(_INT.unpack(fcntl.ioctl(fd, termios.TIOCOUTQ, b"\0\0\0\0"))[0])


def peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


class SocketOutboundLink(OutboundLink):
    """Sender's end of a link to one receiver node.

    Sends never block: if the receiver's socket buffer is full, records wait in ``pending``
    (bounded by the receiver's queue size, oldest dropped and counted) and are flushed on the next
    send or when the node waits for events.
    """

    def __init__(self, link_id: int, receiver: str, sock: socket.socket, pending_limit: int):
        self.id = link_id
        self.receiver = receiver
        self.sock = sock
        self.fd = sock.fileno()
        self.pending: deque[tuple[list[Any], list[int], Region | None]] = deque()
        self.pending_limit = pending_limit
        self.dropped = 0
        self.closed = False
        self.outstanding: dict[int, int] = {}  # region id -> generation held by the receiver
        self.backlog_limit = (pending_limit + 2) * _UNREAD_BYTES_PER_SLOT
        # Regions retired while the socket was full; bounded by the regions the receiver mapped.
        self.retiring: list[int] = []
        self._readable = select.poll()
        self._readable.register(self.fd, select.POLLIN)

    def retire(self, region_id: int) -> None:
        """The pool gave up region ``region_id``: the receiver unmaps it (see ``shm_pool``)."""
        if self.closed:
            return
        self.retiring.append(region_id)
        self._send_retiring()

    def _send_retiring(self) -> bool:
        """Send the RETIRE records waiting; False while the socket is full."""
        while self.retiring and not self.closed:
            items = self.retiring[:_ITEMS_PER_RECORD]
            record = bytes([wire.KIND_RETIRE]) + b"".join(wire.RETIRE_ITEM.pack(i) for i in items)
            try:
                self.sock.send(record, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return False
            except OSError:
                return True  # receiver gone: read_releases notices and closes the link
            del self.retiring[: len(items)]
        return True

    def send(self, parts: list[Any], fds: list[int], region: Region | None, pool: ShmPool) -> None:
        if self.closed:
            self.dropped += 1
            return
        if self.pending or self.retiring:
            self.flush(pool)
            if self.closed:  # the flush found the receiver gone
                self.dropped += 1
                return
        if not self.pending:
            if self._try_send(parts, fds, region, pool):
                return
        if region is not None:
            region.busy += 1
        else:
            # An inline record's body is a view of the caller's array, which it may reuse for
            # the next message: a record that waits keeps a copy.
            parts = [b"".join(parts)]
        self.pending.append((parts, fds, region))
        if len(self.pending) > self.pending_limit:
            _, _, old_region = self.pending.popleft()
            self.dropped += 1
            if old_region is not None:
                old_region.busy -= 1
                pool.settle(old_region)

    def _try_send(
        self, parts: list[Any], fds: list[int], region: Region | None, pool: ShmPool
    ) -> bool:
        # With a few regions at most at the receiver (the releases were read just before, in
        # NodeLoop.acquire), shared memory cannot pile up there: skip the ioctl (~2 us). A
        # receiver in lockstep holds two (its current message, and the previous one whose
        # release is on its way), so a bound of one paid the ioctl on every message.
        if (
            region is not None
            and len(self.outstanding) > _UNCHECKED_REGIONS
            and _unread_bytes(self.fd) > self.backlog_limit
        ):
            return False  # as if the socket were full: it waits in `pending`
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
        try:
            self.sock.sendmsg(parts, anc, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError as err:
            if err.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                raise
            self.close(pool)
            self.dropped += 1
            return True
        if region is not None:
            if fds:
                pool.handed_to(region, self.id, self)
            region.busy += 1
            self.outstanding[region.id] = region.generation
        return True

    def flush(self, pool: ShmPool) -> None:
        if self.retiring and not self._send_retiring():
            return
        while self.pending and not self.closed:
            # Off the queue before sending: a send that finds the receiver gone closes the link,
            # which settles every region still queued (this one must not be counted twice).
            record = self.pending.popleft()
            parts, fds, region = record
            if region is not None:
                region.busy -= 1  # _try_send counts it again
            if not self._try_send(parts, fds, region, pool):
                if region is not None:
                    region.busy += 1
                self.pending.appendleft(record)
                return
            if self.closed and region is not None:
                pool.settle(region)

    def read_releases(self, pool: ShmPool) -> None:
        """Take RELEASE records (and notice a closed receiver) without blocking."""
        # Asked before each region is taken (NodeLoop.acquire): poll(0) first, since a recv
        # that finds nothing raises, and the exception costs more than the poll.
        readable = self._readable.poll
        while not self.closed and readable(0):
            try:
                data = self.sock.recv(RECV_SIZE, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.close(pool)
                return
            outstanding = self.outstanding
            for off in range(1, len(data), wire.RELEASE_ITEM.size):
                region_id, generation = wire.RELEASE_ITEM.unpack_from(data, off)
                # Only what this receiver holds: a duplicate or stale RELEASE must not take
                # another receiver's count of the region.
                if outstanding.get(region_id) == generation:
                    del outstanding[region_id]
                    pool.release(region_id, generation)

    def close(self, pool: ShmPool) -> None:
        if self.closed:
            return
        self.closed = True
        # The receiver may still read arrays over the regions it held (its node closed but lives
        # on): they are abandoned, never reused (shm_pool's module docstring).
        for region_id, generation in self.outstanding.items():
            pool.abandon(region_id, generation)
        self.outstanding.clear()
        for _, _, region in self.pending:
            if region is not None:
                region.busy -= 1
                pool.settle(region)
        self.dropped += len(self.pending)
        self.pending.clear()
        self.retiring.clear()
        pool.forget_link(self.id)
        self.sock.close()


class _Lease:
    """Owner of one received shared-memory message without the C extension (``shared_slice``
    does this job otherwise): when the last Arrow buffer over it dies, the region goes back to
    its sender (before the receiver's next send, or on its next call into the API)."""

    # Only the link's releases deque and its own mapping, as the C slice: holding the link kept
    # every mapping of a closed link alive while one array lived.
    __slots__ = ("item", "mapping", "releases")

    def __init__(
        self, releases: deque[tuple[int, int]], mapping: Mapping, item: tuple[int, int]
    ) -> None:
        self.releases = releases
        self.mapping = mapping
        self.item = item

    def __del__(self) -> None:
        self.releases.append(self.item)


class SocketInboundLink(InboundLink):
    """Receiver's end of a link from one sender node."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.sender: str | None = None
        self.routes: dict[int, Any] | None = None  # the receiving node's cache, per link
        self.mappings: dict[int, Mapping] = {}
        self.releases: deque[tuple[int, int]] = deque()
        self.closed = False

    def receive(
        self, on_frame: Callable[[SocketInboundLink, bytes, pa.Buffer | None], None]
    ) -> bool:
        """Read every record waiting on the socket. Returns False once the sender is gone."""
        while True:
            try:
                data, anc, _flags, _ = self.sock.recvmsg(RECV_SIZE, _FD_SPACE, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return True
            except ConnectionResetError:
                # The sender exited with RELEASE records of ours unread: the kernel reports that
                # once, then still hands out every record the sender sent before it closed.
                continue
            except OSError:
                data = b""
            if not data:
                self.close()
                return False
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds = array.array("i")
                    fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
                    self._map(data, list(fds))
            kind = data[0]
            if kind == wire.KIND_HELLO:
                self.sender = data[1:].decode()
                continue
            if kind == wire.KIND_RETIRE:
                # Buffers still alive over a region keep its mapping (their base) until they die.
                for off in range(1, len(data), wire.RETIRE_ITEM.size):
                    self.mappings.pop(wire.RETIRE_ITEM.unpack_from(data, off)[0], None)
                continue
            on_frame(self, data, None)

    def _map(self, data: bytes, fds: list[int]) -> None:
        region_id, _, size = wire.SHM_REF.unpack_from(data, wire.HEADER.size)
        old = self.mappings.pop(region_id, None)
        del old
        self.mappings[region_id] = Mapping(fds[0], size)
        for extra in fds[1:]:
            os.close(extra)

    def shm_buffer(self, region_id: int, generation: int, nbytes: int) -> pa.Buffer:
        mapping = self.mappings[region_id]
        if _shared_slice is not None:
            # Holds the mapping's buffer (so the mapping outlives a RETIRE while it lives) and
            # queues the release when the last Arrow buffer over it dies.
            return _py_buffer(
                _shared_slice(mapping.mm, nbytes, self.releases, (region_id, generation))
            )
        lease = _Lease(self.releases, mapping, (region_id, generation))
        return pa.foreign_buffer(mapping.address, nbytes, base=lease)

    def flush_releases(self) -> bool:
        """Send the RELEASE records waiting; False while the sender's socket is full (the
        releases stay queued: a dropped one would keep its region busy at the sender forever).
        """
        releases = self.releases
        while releases and not self.closed:
            count = min(len(releases), _ITEMS_PER_RECORD)
            if count == 1:
                record = _RELEASE_ONE.pack(wire.KIND_RELEASE, *releases[0])
            else:
                items = [releases[i] for i in range(count)]
                record = bytes([wire.KIND_RELEASE]) + b"".join(
                    wire.RELEASE_ITEM.pack(*item) for item in items
                )
            try:
                self.sock.send(record, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return False
            except OSError:
                break  # sender gone: nothing to release any more
            for _ in range(count):
                releases.popleft()
        if self.closed:
            # Nothing to release any more. Cleared only then: a lease dying on another thread
            # may append between the loop's test and here, and its release must not be lost.
            releases.clear()
        return True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.sock.close()


def connect(address: str, hello_from: str, timeout: float = 2.0) -> socket.socket:
    """Open a link to the node listening at ``address`` and introduce the sender."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    sock.settimeout(timeout)
    sock.connect(address)
    sock.settimeout(None)
    sock.setblocking(True)
    # No SO_SNDBUF increase: a 4 MiB send buffer makes every small sendmsg ~4x slower here
    # (25 us against 7 us a round trip); the pending queue absorbs bursts instead.
    sock.send(bytes([wire.KIND_HELLO]) + hello_from.encode())
    return sock


def listen(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    sock.bind(address)
    sock.listen(128)
    sock.setblocking(False)
    return sock
