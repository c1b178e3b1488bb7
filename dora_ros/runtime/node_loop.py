"""A node's engine behind the API of ``node.py``: its sockets, its links and its one wait.

``NodeLoop`` owns what a running node holds: the control socket to the coordinator, the
listening socket senders connect to, the epoll set, the links to and from other nodes (only
through ``link``'s interface: shared-memory links of ``transport``, remote links and any
``LinkProvider``), the shared-memory pool of its outputs, its taps and its event queues
(``event_queues``). Two paths go through it:

- ``pump(wait)``: retry what waits (releases, records held back for slow receivers, taps),
  fire timers, wait once on epoll and dispatch: records to ``on_frame`` (which turns them into
  events), control records to ``on_control``. No background thread: ``Node.next()`` calls it.
- ``send_index``: one frame per message, inline or in a region of the pool, handed once to each
  receiver's link.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import select
import socket
import time
from typing import Any

from ..errors import NodeError
from . import control, wire
from .event_queues import EventQueues, InputQueue, param_deleted, param_update
from .link import InboundLink, LinkProvider, OutboundLink, providers_from_init
from .node_logs import NodeLog, log_routes
from .sample import SampleHandler, views_released
from .shm_pool import Region, ShmPool
from .tap import NodeTaps
from .transport import (
    MAX_INLINE_RECORD,
    SocketInboundLink,
    SocketOutboundLink,
    connect,
    peer_uid,
    socket_name,
)

__all__ = ["STATS_PERIOD", "STOP_FLUSH_GRACE", "NodeLoop"]

_POLL_IN = select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR
# Outbound links are watched for their receiver's exit only: its RELEASE records are read when a
# region is needed (`acquire`), so they do not wake this node. Waking a sleeping sender cost the
# receiver ~13 us per message here (flush_releases 20 -> 7 us; docs/benchmarks.md).
_POLL_HUP = select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR
_unpack_header = wire.HEADER.unpack_from
_pack_header = wire.HEADER.pack
_pack_ref = wire.SHM_REF.pack
_unpack_ref = wire.SHM_REF.unpack_from
_HEADER_SIZE = wire.HEADER.size
_SHM_META = wire.HEADER.size + wire.SHM_REF.size
LOG_ROUTE = "\0logs"  # routes key of the dora/logs receivers
STATS_PERIOD = 1.0  # seconds between two `stats` records to the supervisor
# Seconds between two looks at the control socket from the send path (a node that only sends
# never pumps: taps, parameters and STOP reach it this way).
CONTROL_PERIOD = 0.1
_CONTROL_BATCH = 64  # control records taken per look from the send path
# Seconds close() still waits for slow receivers once the dataflow is stopping (see flush_links).
STOP_FLUSH_GRACE = 2.0
# How long a sender that is held back sleeps at most before it retries (seconds).
_RETRY = 0.005


def _all_remote(links: list[OutboundLink]) -> bool:
    for link in links:
        if not link.remote:
            return False
    return True


class NodeLoop:
    """The sockets, links, pool and event queues of one running node (module docstring)."""

    def __init__(
        self, ctl: socket.socket, listener: socket.socket, node_id: str, dataflow_id: str,
        init: dict[str, Any], providers: list[LinkProvider],
    ) -> None:  # fmt: skip
        self.ctl = ctl
        self.listener = listener
        self.node_id = node_id
        self.dataflow_id = dataflow_id
        self.descriptor: dict[str, Any] = init["descriptor"]
        self.events = EventQueues(init["inputs"])
        inputs = self.inputs = self.events.inputs
        # sender node -> output index -> inputs of this node it feeds
        self.inbound_routes: dict[str, dict[int, tuple[InputQueue, ...]]] = {
            sender: {int(i): tuple(inputs[x] for x in ids) for i, ids in outs.items()}
            for sender, outs in init["inbound"].items()
        }
        self.outputs: dict[str, int] = {o: i for i, o in enumerate(init["outputs"])}
        # output -> receiver nodes; receiver -> pending limit (its largest queue size for us)
        self.routes: dict[str, tuple[str, ...]] = {
            o: tuple(receivers) for o, receivers in init["routes"].items()
        }
        self.receiver_limits: dict[str, int] = init["receiver_limits"]
        # dora/logs: this node's records go to their subscribers as outputs LOG_INDEX_BASE + level
        # (the key cannot be an output id), and records of others arrive as inputs.
        self.log_routes = log_routes(self.descriptor, node_id)
        if self.log_routes.receivers:
            self.routes[LOG_ROUTE] = tuple(sorted(self.log_routes.all_receivers))
        for sender, by_index in self.log_routes.inbound.items():
            routes = self.inbound_routes.setdefault(sender, {})
            for index, ids in by_index.items():
                routes[index] = tuple(inputs[x] for x in ids)
                for x in ids:
                    inputs[x].log_sources = {sender} | (inputs[x].log_sources or set())
        self.log: NodeLog | None = None  # set by the node once the dataflow started
        self.ready: set[str] = set(init["ready"])
        self.links: dict[str, OutboundLink] = {}
        self.link_ids = 0
        self.inbound: dict[int, InboundLink] = {}
        self.pool = ShmPool()
        # Taps (tap.py): extra, never-blocking receivers of outputs someone watches; the send
        # path reads the dict of tap links by output index (empty: no cost but a truth test).
        self.taps = NodeTaps()
        self.tapped = self.taps.by_index
        self.started = False
        self.stop_requested = False  # the coordinator asked the dataflow to stop
        self.closed = False
        self.send_dropped: dict[str, int] = {}
        # Messages sent per output, and what the last `stats` record told (drops go as counts
        # since then); `stats` goes every STATS_PERIOD from pump (`top`, `node info`).
        self.sent: dict[str, int] = dict.fromkeys(self.outputs, 0)
        self._told: dict[str, dict[str, int]] = {"dropped": {}, "send_dropped": {}}
        self._stats_due = 0.0
        self._control_due = 0.0  # the next look at the control socket from the send path
        self.ctl_open = True
        # Discarded raw samples whose buffer the user still views (bounded by what they hold).
        self.held_samples: list[tuple[mmap.mmap, Any, Region]] = []
        self.external: dict[int, Any] = {}
        # epoll, not poll: its own fd is readable whenever one of ours is, which lets
        # recv_async wait in the event loop (loop.add_reader) with no thread.
        self.poller = select.epoll()
        self.poller.register(ctl.fileno(), _POLL_IN)
        self.poller.register(listener.fileno(), _POLL_IN)
        # Links of other kinds: registered providers (made before the node registered, see
        # Node._connect) and those its init record names (the Zenoh links to nodes on other
        # machines of a dataflow started with `dora-ros start` over several daemons).
        self.providers: list[LinkProvider] = list(providers)
        self.providers += providers_from_init(node_id, init.get("link_providers", ()))
        for provider in self.providers:
            for link_in in provider.inbound:
                self.inbound[link_in.fd] = link_in
                self.poller.register(link_in.fd, _POLL_IN)

    # --- links ------------------------------------------------------------------------------

    def wait_for_start(self) -> bool:
        """Wait for the barrier (every node listens once `start` arrives); False if it ended."""
        while not self.started:
            message = control.recv(self.ctl)
            if message is None:
                return False
            self.on_control(message)
        return True

    def connect_outputs(self) -> None:
        receivers = {r for rs in self.routes.values() for r in rs}
        for receiver in sorted(receivers & self.ready):
            self.open_link(receiver)
        self.events.start()

    def open_link(self, receiver: str) -> None:
        old = self.links.pop(receiver, None)
        if old is not None:
            self.drop_link(old)
        limit = self.receiver_limits.get(receiver, 10)
        link: OutboundLink
        provider = next((p for p in self.providers if receiver in p.receivers), None)
        if provider is not None:
            self.link_ids += 1
            link = provider.outbound(self.link_ids, receiver, limit)
        else:
            try:
                sock = connect(socket_name(self.dataflow_id, f"n/{receiver}"), self.node_id)
            except OSError:
                return  # not listening (yet): messages to it are counted as dropped
            self.link_ids += 1
            link = SocketOutboundLink(self.link_ids, receiver, sock, limit)
        self.links[receiver] = link
        self.poller.register(link.fd, _POLL_HUP)

    def drop_link(self, link: OutboundLink) -> None:
        if not link.closed:
            with contextlib.suppress(OSError):  # closed fds leave epoll by themselves
                self.poller.unregister(link.fd)
        link.close(self.pool)
        if link.dropped:
            self.send_dropped[link.receiver] = (
                self.send_dropped.get(link.receiver, 0) + link.dropped
            )
            link.dropped = 0

    # --- receiving ----------------------------------------------------------------------------

    def on_frame(self, link: InboundLink, data: bytes, _: Any) -> None:
        # Hot path (one call per received message): header, payload view, event; nothing else.
        kind, encoding, out_idx, type_code, meta_len, ts, nbytes = _unpack_header(data)
        routes = link.routes
        if routes is None:
            routes = link.routes = self.inbound_routes.get(link.sender or "", {})
        targets = routes.get(out_idx)
        if not targets:
            return
        if kind != wire.KIND_SHM:
            self.events.deliver_record(targets, data)  # decoded when taken
            return
        # A region is mapped only until its sender retires it: its buffer is made now.
        region_id, generation, _ = _unpack_ref(data, _HEADER_SIZE)
        meta = data[_SHM_META : _SHM_META + meta_len] if meta_len else b""
        buf = link.shm_buffer(region_id, generation, nbytes)
        value = wire.decode_payload(encoding, type_code, buf)
        self.events.deliver(targets, value, wire.decode_metadata(meta, ts))

    def accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            if peer_uid(sock) != os.getuid():
                sock.close()
                continue
            sock.setblocking(False)
            link = SocketInboundLink(sock)
            self.inbound[link.fd] = link
            self.poller.register(link.fd, _POLL_IN)
            # Read what is already waiting now: the poll that showed the listener ready did not
            # include this socket, so a try_recv()/drain() after a quiet spell saw nothing.
            self.read_inbound(link)

    def read_inbound(self, link: InboundLink) -> None:
        if not link.receive(self.on_frame):
            self.inbound.pop(link.fd, None)
            with contextlib.suppress(OSError):  # closed fds leave epoll by themselves
                self.poller.unregister(link.fd)

    def on_control(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "start":
            self.ready.update(message.get("ready", ()))
            self.started = True
        elif op == "ready":
            node = message["node"]
            self.ready.add(node)
            if self.started and any(node in rs for rs in self.routes.values()):
                self.open_link(node)
        elif op == "closed":
            self.on_sender_closed(message["node"], message.get("error"))
        elif op == "tap":  # someone watches one of our outputs (tap.py)
            self.taps.add(message, self.outputs.get(str(message.get("output"))), self.node_id)
        elif op == "restarted":  # dora-rs 1.1: NODE_RESTARTED
            self.events.source_restarted(message["node"])
        elif op == "param":  # `dora-ros param set|delete` (dora-rs 1.1's parameters)
            key = str(message.get("key"))
            event = param_deleted(key) if message.get("deleted") else param_update(
                key, message.get("value")
            )  # fmt: skip
            self.events.push_control(event)
        elif op == "stop":
            self.stop_requested = True
            self.events.stop("MANUAL")

    def on_sender_closed(self, sender: str, error: str | None = None) -> None:
        # Everything the sender sent is already in our sockets: read it before closing inputs.
        self.accept()
        for link in list(self.inbound.values()):
            if link.sender is None or link.sender == sender:
                self.read_inbound(link)
        self.events.sender_closed(sender, error)

    def add_external(self, subscription: Any) -> None:
        fd = subscription.fileno()
        self.external[fd] = subscription
        self.poller.register(fd, _POLL_IN)

    def pump(self, wait: float) -> None:
        """Read whatever is ready; wait up to ``wait`` seconds (-1: forever) if nothing is."""
        if self.held_samples:  # dropped samples whose last view may be gone by now
            self.settle_held_samples()
        self.stats_if_due()
        if self.log is not None and self.log.pending:
            self.log.flush()  # records logged on other threads
        for link in self.inbound.values():
            if link.releases and not link.flush_releases() and (wait < 0 or wait > _RETRY):
                wait = _RETRY  # the sender's socket is full: retry its RELEASE records soon
        for out in self.links.values():
            if out.held_back():  # held back for a slow receiver: retry soon
                out.flush(self.pool)
                if out.held_back() and (wait < 0 or wait > _RETRY):
                    wait = _RETRY
        if self.taps and self.taps.service(self.pool) and (wait < 0 or wait > _RETRY):
            wait = _RETRY
        events = self.events
        if events.timers or events.watched:
            events.fire_timers()
        if wait != 0 and events.has_events():
            # stats_if_due above may have taken control records (`closed`, `stop`) and queued
            # their events: sleeping now left them unseen until something else woke the node
            # (a listener of send_stdout_as lines never ended, 1 run in ~100 under load).
            wait = 0
        ready = self.poller.poll(wait if wait <= 0 else wait + 0.001)
        for fd, _ in ready:
            inbound = self.inbound.get(fd)
            if inbound is not None:
                self.read_inbound(inbound)
            elif fd == self.listener.fileno():
                self.accept()
            elif fd == self.ctl.fileno():
                self.read_control()
            elif fd in self.external:
                source = self.external[fd]
                while (event := source.take()) is not None:
                    events.push_control(event)
            else:
                for out_link in list(self.links.values()):
                    if out_link.fd == fd:
                        out_link.read_releases(self.pool)
                        out_link.flush(self.pool)
                        if out_link.closed:
                            self.drop_link(out_link)
                            self.links.pop(out_link.receiver, None)
        if events.timers or events.watched:
            events.fire_timers()

    # --- sending ------------------------------------------------------------------------------

    def send_index(
        self, index: int, receivers: tuple[str, ...], data: Any, metadata: dict[str, Any] | None
    ) -> None:
        """Send ``data`` as output ``index`` (an output, or a log level's) to ``receivers``."""
        payload, ipc_array = wire.encode_payload(data)
        meta = wire.encode_metadata(metadata)
        if not receivers and index not in self.tapped:
            return
        self.send_releases()
        links = self.links_for(receivers)
        if self.tapped:
            links.extend(self.tapped.get(index, ()))
        ts = time.time_ns()
        if (
            (payload.length < wire.INLINE_LIMIT and len(meta) + payload.length < MAX_INLINE_RECORD)
            or not links
            # A loop, not all(<generator>): the generator cost a region message ~0.3 us.
            or (links[0].remote and _all_remote(links))
        ):
            # Inline; also at any size when every receiver is on another machine: the remote
            # link copies the frame into Zenoh once, a shared-memory region would be one copy more.
            body = payload.view if ipc_array is None else wire.ipc_bytes(ipc_array)
            header = wire.HEADER.pack(
                wire.KIND_INLINE, payload.encoding, index, payload.type_code, len(meta), ts,
                payload.length,
            )  # fmt: skip
            parts = [header, meta, body]
            for link in links:
                link.send(parts, [], None, self.pool)
            return
        nbytes = payload.length
        # acquire()'s first step without its call: the steady case, a free region of this size.
        region = None if self.held_samples else self.pool.take_free(nbytes)
        if region is None:
            region = self.acquire(nbytes)
        if ipc_array is None:
            region.mm[:nbytes] = payload.view
        else:
            # The whole (mutable) region: pyarrow's slices of a mutable buffer are read-only.
            wire.write_ipc(ipc_array, region.buffer)
        self.send_region(
            index, region, payload.encoding, payload.type_code, nbytes, meta, ts, links
        )

    def send_releases(self) -> None:
        """Give back the regions of received messages this node has dropped, before it sends.

        So they reach each sender before anything this send makes it do: a sender in step with
        this node (an ack, a reply) has read them (``collect_releases``) before it sends again,
        and finds a free region. Sent only on the next ``pump``, after the reply, they raced the
        sender's next send: when they lost, it read them on its send path (``acquire``), 2.5-3 us
        more per message (13-16% of benchmarks/latency.py's 4-64 KiB messages, loaded). Those that
        do not fit now wait for ``pump``, as before.
        """
        for link in self.inbound.values():
            if link.releases:
                link.flush_releases()

    def links_for(self, receivers: tuple[str, ...]) -> list[OutboundLink]:
        links = []
        for receiver in receivers:
            link = self.links.get(receiver)
            if link is None or link.closed:
                self.send_dropped[receiver] = self.send_dropped.get(receiver, 0) + 1
            else:
                links.append(link)
        return links

    def acquire(self, nbytes: int) -> Region:
        if self.held_samples:
            self.settle_held_samples()
        # A free region first: the receivers' releases were read when next() last handed this
        # node an event (collect_releases), off the send path. Reading them here cost a 4 KiB
        # message ~3 us more than an 8-byte one (+4.5-5.4 us against +1.4-2.4 us; ping-pong
        # medians, three runs each, loaded): send_index calls this only when none is free.
        region = self.pool.take_free(nbytes)
        if region is not None:
            return region
        self.collect_releases()
        return self.pool.acquire(nbytes)

    def collect_releases(self) -> None:
        """Take the RELEASE records of links whose receivers hold regions of ours."""
        for link in self.links.values():
            if link.outstanding:
                link.read_releases(self.pool)
        if self.tapped:
            self.taps.read_releases(self.pool)

    def settle_held_samples(self) -> None:
        """Regions of discarded samples go back to the pool once the user's views are gone."""
        held = []
        for sample_mm, buffer, region in self.held_samples:
            if views_released(sample_mm, buffer):
                self.pool.settle(region)
            else:
                held.append((sample_mm, buffer, region))
        self.held_samples = held

    def send_region(
        self, index: int, region: Region, encoding: int, type_code: int, nbytes: int,
        meta: bytes, ts: int, links: list[OutboundLink],
    ) -> None:  # fmt: skip
        parts = [
            _pack_header(wire.KIND_SHM, encoding, index, type_code, len(meta), ts, nbytes),
            _pack_ref(region.id, region.generation, region.size),
            meta,
        ]
        pool = self.pool
        for link in links:
            link.send(parts, [region.fd] if link.needs_fd(region) else [], region, pool)
        if not region.busy:  # nobody received it (pool.settle, without the call)
            pool.settle(region)

    def raw_sample(
        self, output_id: str, index: int, data_length: int, metadata: dict[str, Any] | None
    ) -> SampleHandler:
        """A sample of ``data_length`` bytes (at least ``wire.INLINE_LIMIT``) in a region."""
        meta = wire.encode_metadata(metadata)
        region = self.acquire(data_length)
        # A mapping of the sample's own: its exports tell whether the user still holds views.
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        sample_mm = mmap.mmap(region.fd, data_length, flags=flags)

        def send() -> None:
            if self.closed:
                raise NodeError(f"node {self.node_id!r}: sample sent after the node was closed")
            links = self.links_for(self.routes.get(output_id, ()))
            if self.tapped:
                links.extend(self.tapped.get(index, ()))
            self.sent[output_id] += 1
            self.stats_if_due()
            self.send_releases()
            self.send_region(
                index, region, wire.ENC_BYTES, 0, data_length, meta, time.time_ns(), links
            )

        def discard(released: bool, buffer: Any) -> None:
            if released:
                self.pool.settle(region)
            else:  # the user still holds a view: the region waits until it is gone
                self.held_samples.append((sample_mm, buffer, region))

        return SampleHandler(sample_mm, send, discard)

    # --- end ----------------------------------------------------------------------------------

    def stats_if_due(self) -> None:
        """A ``stats`` record if one is due, and a look at the control socket every
        ``CONTROL_PERIOD``: from ``pump`` and from each send, one clock read (a node that only
        sends never pumps: ``top`` showed no rate for it and a tap never reached it)."""
        now = time.monotonic()
        if now < self._control_due:
            return
        self._control_due = now + CONTROL_PERIOD
        if self.started and now >= self._stats_due:
            self.send_stats()
        if self.ctl_open and select.select((self.ctl,), (), (), 0)[0]:
            self.read_control(_CONTROL_BATCH)
        if self.taps:
            self.taps.service(self.pool)  # drops reported, a closed tap noticed

    def read_control(self, limit: int = 1) -> None:
        """Take up to ``limit`` control records from the readable control socket."""
        for _ in range(limit):
            message = control.recv(self.ctl)
            if message is None:  # the coordinator is gone: the dataflow is ending
                self.ctl_open = False
                with contextlib.suppress(OSError, ValueError):
                    self.poller.unregister(self.ctl.fileno())
                self.on_control({"op": "stop"})
                return
            self.on_control(message)
            if limit > 1 and not select.select((self.ctl,), (), (), 0)[0]:
                return

    def send_stats(self) -> None:
        """A ``stats`` record: drops since the last one, totals of messages in, queued and out."""
        self._stats_due = time.monotonic() + STATS_PERIOD
        # `t`: CLOCK_MONOTONIC, the same in every process: rates are counted between records.
        message: dict[str, Any] = {"op": "stats", "t": time.monotonic()}
        for key, totals in (("dropped", self.events.dropped()),
                            ("send_dropped", self.send_dropped)):  # fmt: skip
            told = self._told[key]
            message[key] = {k: n - told.get(k, 0) for k, n in totals.items() if n != told.get(k, 0)}
            self._told[key] = dict(totals)
        message["received"] = {i.id: i.received for i in self.inputs.values()}
        message["queued"] = {i.id: len(i.queue) for i in self.inputs.values()}
        message["sent"] = self.sent
        with contextlib.suppress(OSError, ValueError):
            control.send(self.ctl, message)

    def flush_links(self) -> None:
        """Hand every record still held back for a slow receiver to it before the node ends.

        As on dora-rs, where a sender's messages wait in the daemon after it exits, nothing is
        dropped for a receiver that is still running and reading, however long its backlog
        (bounded by its queue size): the wait ends when every link is flushed or its receiver
        has gone. A stop of the dataflow (Ctrl-C, --stop-after) leaves ``STOP_FLUSH_GRACE``
        seconds, after which the rest is dropped and reported. (Before, close gave every link 2 s
        in all and retried every 10 ms: 91,033 of 573,033 messages of benchmarks/latency.py's
        8-byte burst were dropped.)
        """
        deadline = time.monotonic() + STOP_FLUSH_GRACE if self.stop_requested else None
        ctl_fd: int | None = self.ctl.fileno()
        stalled = False
        while True:
            waiting = []
            moved = False
            for link in self.links.values():
                if link.closed or not link.held_back():
                    continue
                if link.outstanding:
                    link.read_releases(self.pool)
                before = len(link.pending) + len(link.retiring)
                link.flush(self.pool)
                if not link.closed and link.held_back():
                    waiting.append(link)
                    moved = moved or len(link.pending) + len(link.retiring) < before
            if not waiting or (deadline is not None and time.monotonic() >= deadline):
                return
            if stalled and not moved:
                # Writable but held back for the receiver's unread backlog of shared memory
                # (transport): poll() would return at once, so wait a little instead.
                time.sleep(0.002)
            poller = select.poll()
            if ctl_fd is not None:
                poller.register(ctl_fd, select.POLLIN)
            for link in waiting:
                poller.register(link.fd, select.POLLOUT)
            ready = poller.poll(10)
            stalled = bool(ready)
            if ctl_fd is not None and any(fd == ctl_fd for fd, _ in ready):
                message = control.recv(self.ctl)
                if message is None:
                    ctl_fd = None  # the coordinator is gone: the dataflow is ending
                if (message is None or message.get("op") == "stop") and deadline is None:
                    deadline = time.monotonic() + STOP_FLUSH_GRACE

    def close(self) -> None:
        """Flush what waits for slow receivers, report the counts, release everything."""
        if self.closed:
            return
        self.closed = True
        self.flush_links()
        for link in list(self.links.values()):
            self.drop_link(link)
        self.send_stats()
        for in_link in self.inbound.values():
            in_link.close()
        for provider in self.providers:
            provider.close()
        self.taps.close(self.pool)
        self.listener.close()
        self.ctl.close()
        self.poller.close()
        self.pool.close()
