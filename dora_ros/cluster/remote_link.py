"""Edges between machines: a node's Zenoh links, behind the runtime's link classes.

A node whose init record carries ``remote`` (``machine_run`` adds it for a node with senders or
receivers on other machines) opens one Zenoh session (a peer of the cluster: it reaches the other
node directly, never through a daemon) and:

- per receiver on another machine, a ``RemoteOutboundLink``: a Zenoh publisher on
  ``dora-ros/df/<id>/data/<sender>/<receiver>``. Each message goes as one Zenoh payload: an
  inline record (the runtime's header with ``KIND_INLINE``, the metadata, the payload) followed
  by an 8-byte sequence number, with no attachment. A record the node put in shared memory (it
  also has local receivers) goes as its payload alone, read from the region once (so the region
  goes back to the pool at once), with the sequence number, header and metadata as the Zenoh
  attachment. Congestion control is DROP: a send never blocks the node, as for local links.
- per sender on another machine, a ``RemoteInboundLink``: a subscriber whose callback (a Zenoh
  thread) appends the frame to a bounded buffer and makes an eventfd readable; the node's own
  loop then reads the frames as from a local link (``receive``), so routing, ``queue_size`` and
  drop-oldest are the node's, unchanged. Frames the buffer could not hold and gaps in the
  sequence numbers (lost in a partition) are counted as drops of the inputs fed by the link.

The receiving side declares its subscribers while the node sets up, before the start barrier
releases; the sending side holds its first messages (bounded by the receiver's queue size) until
its publisher matches (at most ``MATCH_TIMEOUT`` after the barrier), so they are not sent into
the void, and never blocks the node meanwhile.

Exit: the receiving callback stays a Python callback on Zenoh's thread (the control plane reads
channels on threads of its own, ``channel_reader.py``; here that would add a thread hop per
message). A Zenoh thread that runs it, or waits for the GIL to run it, once the interpreter
finalizes aborts the node ("FATAL: exception not rethrown", status -6, or a SIGSEGV: 4 of 40
loaded exits of a flooded subscriber left declared, 0 of 40 closed first). So ``close`` ends
it before then: ``undeclare`` alone returns while a callback may still run (zenoh-python 1.10),
``session.close()`` waits for the callbacks under way and stops the transport. The node closes
its links at exit (its atexit handler, or ``Node.__del__``); an atexit handler of ours, which
runs after the node's (registered earlier), closes what a failed or skipped node close left
open.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import struct
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from ..runtime import wire
from ..runtime.link import InboundLink, OutboundLink
from ..runtime.shm_pool import Region, ShmPool
from .zenoh_config import ZenohSettings

MATCH_TIMEOUT = 1.0
# Frames a receiving link holds between the Zenoh thread and the node (per sender): this many
# times the largest queue_size of the inputs it feeds, then the oldest are dropped and counted.
BUFFER_PER_SLOT = 2
_SEQ = struct.Struct("<Q")
_unpack_seq = _SEQ.unpack_from
# The shortest Zenoh payload (an inline record and its number) and attachment (the number, a
# header and a region reference) a sender of ours puts.
_MIN_INLINE = wire.HEADER.size + _SEQ.size
_MIN_SHM = _SEQ.size + wire.HEADER.size + wire.SHM_REF.size


class RemoteLinks:
    """The Zenoh side of one node: its session, its inbound links and its outbound links."""

    def __init__(self, node_id: str, spec: dict[str, Any]) -> None:
        self.node_id = node_id
        self.prefix: str = spec["prefix"]
        self.receivers: set[str] = set(spec["receivers"])
        self.session = ZenohSettings.from_json(spec["zenoh"]).open(f"node {node_id!r}")
        senders: dict[str, int] = spec["senders"]
        # A restarted node's links take the first number they see as where they start: the
        # senders numbered on while it was down (and what its first run got is not lost).
        self.restarted = bool(spec.get("restarted"))
        line_links = spec.get("line_links", ())
        self.inbound = [
            RemoteInboundLink(self, sender, max(1, limit) * BUFFER_PER_SLOT,
                              lines={i for s, i, _ in line_links if s == sender})
            for sender, limit in sorted(senders.items())
        ]  # fmt: skip
        # The output lines of senders on other machines (their runs send them: RemoteLines),
        # one link per sender and output index (send_stdout_as, stdout log records).
        self.inbound += [
            RemoteInboundLink(self, sender, max(1, limit) * BUFFER_PER_SLOT,
                              lines_key(self.prefix, sender, node_id, index), index)
            for sender, index, limit in line_links
        ]  # fmt: skip
        self.closed = False
        # After the node's own atexit close (registered later, so run first): the session must
        # be closed before the interpreter finalizes (module docstring).
        atexit.register(_close_at_exit, weakref.ref(self))

    def key(self, sender: str, receiver: str) -> str:
        return f"{self.prefix}/data/{sender}/{receiver}"

    def outbound(self, link_id: int, receiver: str, pending_limit: int) -> RemoteOutboundLink:
        return RemoteOutboundLink(self, link_id, receiver, pending_limit)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for link in self.inbound:
            link.close()
        # Waits for the callbacks under way (undeclare does not); none starts after it.
        with contextlib.suppress(Exception):
            self.session.close()


def _close_at_exit(ref: weakref.ref[RemoteLinks]) -> None:
    links = ref()
    if links is not None:
        links.close()


def _matching(publisher: Any) -> bool:
    """Whether ``publisher`` matches a subscriber now; OSError once its session is closed."""
    try:
        return bool(publisher.matching_status.matching)
    except Exception as err:
        raise OSError(f"the session is closed: {err}") from err


def lines_key(prefix: str, sender: str, receiver: str, index: int) -> str:
    """The key of ``sender``'s output lines of output ``index`` for ``receiver`` (sent by the
    sender's run: its ``send_stdout_as`` output's index, or LOG_INDEX_BASE for log records)."""
    return f"{prefix}/data/{sender}/{receiver}/lines/{index}"


class RemoteLines:
    """A machine run's link to a receiver on another machine for one node's output lines of
    one output index (``send_stdout_as``, or ``stdout`` log records): what
    `supervisor._LineSender` sends on, in place of a socket.

    The node itself never sends these (its run reads its stdout), so they go on a key of their
    own per output index, numbered apart: frames as ``RemoteOutboundLink`` puts inline records
    (the record, then its 8-byte sequence number), dropped by Zenoh under congestion and
    counted by the receiver from the gaps. Made when the node is spawned, so the publisher has
    matched the receiver's subscriber (declared before the start barrier released) by the time
    the first line goes, after the start. Never blocks the run's relay thread: until it matched
    (at most ``MATCH_TIMEOUT`` from the first line), a send raises BlockingIOError and the line
    waits in `_LineSender`; Zenoh errors (a closing session) are OSError.
    """

    def __init__(self, session: Any, prefix: str, node: str, receiver: str, index: int) -> None:
        import zenoh

        try:
            self.publisher = session.declare_publisher(
                lines_key(prefix, node, receiver, index),
                congestion_control=zenoh.CongestionControl.DROP,
            )
        except Exception as err:  # the run's session is closing
            raise OSError(f"no Zenoh publisher for {receiver!r}: {err}") from err
        self.seq = 0
        self.match_deadline: float | None = 0.0  # set at the first send; None once matched

    def sendmsg(self, parts: list[Any], _ancillary: Any = (), _flags: int = 0) -> int:
        if self.match_deadline is not None:
            now = time.monotonic()
            if not self.match_deadline:
                self.match_deadline = now + MATCH_TIMEOUT
            if not _matching(self.publisher) and now < self.match_deadline:
                raise BlockingIOError("the receiver's subscription is not matched yet")
            self.match_deadline = None
        self.seq += 1
        frame = b"".join([*parts, _SEQ.pack(self.seq)])
        try:
            self.publisher.put(frame)
        except Exception as err:  # the run's session is closing
            raise OSError(f"the session is closed: {err}") from err
        return len(frame)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.publisher.undeclare()


class RemoteOutboundLink(OutboundLink):
    """Sender's end of an edge to a node on another machine (module docstring)."""

    remote = True  # the node sends inline records of any size here (no shared-memory region)

    def __init__(self, links: RemoteLinks, link_id: int, receiver: str, pending_limit: int):
        import zenoh

        # Not OutboundLink.__init__: there is no socket; the attributes the node reads are set.
        self.id = link_id
        self.receiver = receiver
        self.fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)  # never readable: no hang-up
        self.pending = deque()
        self.pending_limit = pending_limit
        self.dropped = 0
        self.closed = False
        self.outstanding = {}
        self.retiring = []
        self.backlog_limit = 0
        self.seq = 0
        self.publisher = links.session.declare_publisher(
            links.key(links.node_id, receiver),
            congestion_control=zenoh.CongestionControl.DROP,
            express=True,
        )
        # Until the publisher matches the receiver's subscriber (at most MATCH_TIMEOUT), sends
        # are held, never waited for: a node stopped right after the start must not block.
        self.match_deadline: float | None = time.monotonic() + MATCH_TIMEOUT
        # The receiver's subscription gone (its node ended or restarts), once the match phase
        # is over: sends are counted as dropped here, as a local link counts them for a
        # receiver not there (else Zenoh discards them and nobody counts them). `gone` is the
        # last status a matching listener on Zenoh's thread was told (only it writes it, but
        # for the end of the match phase), asked again before a send is counted: one
        # attribute read per send while the receiver is there.
        self.gone = False
        self.matching = self.publisher.declare_matching_listener(
            zenoh.handlers.Callback(self._on_matching, indirect=False)
        )

    def _on_matching(self, status: Any) -> None:  # a Zenoh thread
        self.gone = not status.matching

    def retire(self, region_id: int) -> None:
        return  # the receiver never maps our regions

    def send(self, parts: list[Any], fds: list[int], region: Region | None, pool: ShmPool) -> None:
        if self.closed:
            self.dropped += 1
            return
        matched = self._matched()  # the match phase may end here (and say whether it is gone)
        if matched and self._receiver_gone():
            self.dropped += 1
            return
        if region is None:
            # The record and its sequence number in one join, the payload's one copy here: the
            # Zenoh payload alone, no attachment to build or read back (benchmarks/cluster.py
            # --stages: attachment and payload were two ``to_bytes`` on the receiving side).
            if not self.pending and matched:
                self.seq += 1
                self._put(b"".join([*parts, _SEQ.pack(self.seq)]), None)
                return
            frame: Any = b"".join(parts)
            extra: bytes | None = b""
        else:
            # A shared-memory record: its header (region reference kept, never mapped by the
            # receiver) and metadata go as the attachment, the payload alone as the Zenoh
            # payload, copied once out of the region (Zenoh copies it once more into its
            # buffers); the region is free again as soon as this returns.
            nbytes = wire.HEADER.unpack(parts[0])[-1]
            extra = b"".join(parts)
            frame = bytes(memoryview(region.mm)[:nbytes])
        if self.pending or not matched:
            # Not matched yet: held (bounded, oldest dropped) and sent by `flush`, which the
            # node calls every few ms while anything is pending; numbered when sent.
            self.pending.append(([frame, extra], [], None))
            if len(self.pending) > self.pending_limit:
                self.pending.popleft()
                self.dropped += 1
            return
        self._send_held(frame, extra)

    def _still_matched(self) -> bool:
        try:
            return _matching(self.publisher)
        except OSError:  # a closed session: nobody receives
            return False

    def _receiver_gone(self) -> bool:
        # Asked again before counting: a listener's status may come late, after a newer one.
        return self.gone and not self._still_matched()

    def _matched(self) -> bool:
        if self.match_deadline is None:
            return True
        matching = self._still_matched()
        if matching or time.monotonic() > self.match_deadline:
            self.match_deadline = None  # from here on, sends go out as they come
            # The listener may have said "gone" during the match phase and not again since
            # (it speaks on changes only): what is true now.
            self.gone = not matching
            return True
        return False

    def _send_held(self, frame: Any, extra: bytes | None) -> None:
        """Number and send a frame built before it could be sent (``extra`` as in ``send``)."""
        self.seq += 1
        if extra:  # a shared-memory record: the payload alone, the rest as the attachment
            self._put(frame, _SEQ.pack(self.seq) + extra)
        else:
            self._put(frame + _SEQ.pack(self.seq), None)

    def _put(self, payload: Any, attachment: bytes | None) -> None:
        try:
            if attachment is None:
                self.publisher.put(payload)
            else:
                self.publisher.put(payload, attachment=attachment)
        except Exception:  # a closed session (the node is ending): count it, never raise
            self.dropped += 1

    def flush(self, pool: ShmPool) -> None:
        if self.pending and self._matched():
            if self._receiver_gone():
                # The match phase ended with no receiver: what was held is dropped, counted
                # here as a send to a receiver gone is (never numbered: no gap at a receiver).
                self.dropped += len(self.pending)
                self.pending.clear()
                return
            while self.pending:
                self._send_held(*self.pending.popleft()[0])

    def read_releases(self, pool: ShmPool) -> None:
        return

    def close(self, pool: ShmPool) -> None:
        if self.closed:
            return
        self.closed = True
        self.dropped += len(self.pending)
        self.pending.clear()
        with contextlib.suppress(Exception):
            self.matching.undeclare()  # (undeclaring the publisher would too)
        with contextlib.suppress(Exception):
            self.publisher.undeclare()
        os.close(self.fd)


class RemoteInboundLink(InboundLink):
    """Receiver's end of an edge from a node on another machine (module docstring)."""

    def __init__(
        self, links: RemoteLinks, sender: str, capacity: int, key: str | None = None,
        index: int | None = None, lines: set[int] | frozenset[int] = frozenset(),
    ) -> None:  # fmt: skip
        # Not InboundLink.__init__: there is no socket; the attributes the node reads are set.
        self.fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self.sender = sender
        # A link of one output's lines (RemoteLines): what it loses is that output's only. A
        # data link: what it loses is of any output but those whose lines come on line links.
        self.index = index
        self.lines = lines
        self.routes = None
        self.mappings = {}
        self.releases = deque()
        self.closed = False
        # Samples between Zenoh's thread and the node; the oldest fall out when full (their
        # sequence numbers are then missing, and counted as drops by ``receive``).
        self.samples: deque[Any] = deque(maxlen=capacity)
        self.payload = b""
        # The last number seen; -1: none yet, and the first one seen is not a gap (a restart).
        self.last_seq = -1 if links.restarted else 0
        import zenoh

        # indirect=False: the callback runs on Zenoh's own thread, not on a Python thread of
        # zenoh-python's (one hop less, and a non-daemon thread that kept the interpreter from
        # ever reaching the atexit handler that closes the node).
        self.subscriber = links.session.declare_subscriber(
            key or links.key(sender, links.node_id),
            zenoh.handlers.Callback(self._on_sample, indirect=False),
        )

    def _on_sample(self, sample: Any) -> None:  # a Zenoh thread
        # As little as possible while holding the GIL on Zenoh's thread: the sample goes in the
        # bounded deque (drop-oldest: the node sees the hole in the sequence numbers and counts
        # it) and the node's epoll is woken; the node's own thread reads the bytes. Nothing
        # after the write (a try, not a context manager's exit): the node's thread, woken by
        # it, needs the GIL this thread holds until the callback returns.
        if self.closed:
            return
        self.samples.append(sample)
        try:
            os.eventfd_write(self.fd, 1)
        except OSError:  # closed by close() on the node's thread meanwhile
            pass

    def receive(self, on_frame: Callable[[InboundLink, bytes, pa.Buffer | None], None]) -> bool:
        try:
            os.eventfd_read(self.fd)
        except OSError:  # not readable (BlockingIOError: a pump(0) came first), or closed
            pass
        samples = self.samples
        lost = 0
        while samples:
            try:
                sample = samples.popleft()
            except IndexError:  # emptied by close() on another thread
                break
            attachment = sample.attachment
            if attachment is None:
                # An inline record and its sequence number (trailing bytes the record's own
                # lengths leave out: it is handed on as is, with no slice copy).
                data = sample.payload.to_bytes()
                if len(data) < _MIN_INLINE:
                    continue  # not one of ours: nothing to route
                seq = _unpack_seq(data, len(data) - _SEQ.size)[0]
            else:
                att = attachment.to_bytes()
                if len(att) < _MIN_SHM:
                    continue
                seq = _unpack_seq(att)[0]
                data = None
            if seq > self.last_seq + 1 and self.last_seq >= 0:
                lost += seq - self.last_seq - 1  # a gap (the first message is 1): lost on the way
            self.last_seq = seq
            if data is not None:
                on_frame(self, data, None)
            else:
                # A shared-memory record: header and metadata came as the attachment, the
                # payload alone as the Zenoh payload (``shm_buffer`` hands it to the node).
                self.payload = sample.payload.to_bytes()
                on_frame(self, att[_SEQ.size :], None)
                self.payload = b""
        if lost and self.routes:
            # The node's inputs count their drops and report them at exit (the run's drop
            # report); frames lost on the way count once for each input this link feeds (a
            # dora/logs input takes several output indexes of one sender: counted once).
            if self.index is not None:
                routes = [self.routes.get(self.index, ())]
            else:
                routes = [t for i, t in self.routes.items() if i not in self.lines]
            for target in {id(t): t for targets in routes for t in targets}.values():
                target.dropped += lost
        return not self.closed

    def shm_buffer(self, region_id: int, generation: int, nbytes: int) -> pa.Buffer:
        # The payload of the message being read (a record of KIND_SHM from a remote sender).
        return pa.py_buffer(self.payload)[:nbytes]

    def flush_releases(self) -> bool:
        return True

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.samples.clear()
        with contextlib.suppress(Exception):
            self.subscriber.undeclare()
        with contextlib.suppress(OSError):
            os.close(self.fd)
