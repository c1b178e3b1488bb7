"""The Python node API: ``from dora_ros import Node``, with dora-rs 1.1's names and events.

A node talks to the coordinator (``dora-ros run``) over a control socket for lifecycle only, and to
other nodes directly (``transport``): outputs go straight into the subscribers' sockets, inputs are
read by the node's own thread when it asks for the next event. No background thread: waiting,
reading and dispatch happen in ``next()``, which keeps one message to one ``recvmsg`` and no thread
hand-off (a hand-off costs ~30-60 us in CPython).

Parts with a home of their own: the events and their queues, timers and order
(``event_queues``), log records (``node_logs``), raw samples (``sample``), the descriptor a node
is given (``node_descriptor``), and the links to other nodes (``transport``). What is left here is
the API and the wiring between them: sockets read in ``_pump`` go to ``EventQueues``, payloads
handed to ``send_output`` go to the links.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import datetime as dt
import errno
import logging
import mmap
import os
import select
import time
import uuid
import weakref
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from ..errors import NodeError
from . import control, wire
from .event_queues import EventQueues, InputQueue, param_deleted, param_update, timeout_error
from .node_descriptor import normalise_descriptor
from .node_logs import LOG_INDEX_BASE, LogHandler, NodeLog, level_rank, log_routes
from .sample import SampleHandler, views_released
from .shm_pool import ShmPool
from .tap import NodeTaps
from .transport import (
    MAX_INLINE_RECORD,
    InboundLink,
    OutboundLink,
    connect,
    listen,
    peer_uid,
    socket_name,
)

_POLL_IN = select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR
# Outbound links are watched for their receiver's exit only: its RELEASE records are read when a
# region is needed (`_acquire`), so they do not wake this node. Waking a sleeping sender cost the
# receiver ~13 us per message here (flush_releases 20 -> 7 us; docs/benchmarks.md).
_POLL_HUP = select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR
_unpack_header = wire.HEADER.unpack_from
_unpack_ref = wire.SHM_REF.unpack_from
_HEADER_SIZE = wire.HEADER.size
_SHM_META = wire.HEADER.size + wire.SHM_REF.size
# Seconds next() polls before it sleeps (DORA_ROS_SPIN_US, default 50 us; 0 turns it off).
_SPIN = float(os.environ.get("DORA_ROS_SPIN_US", "50")) / 1e6
_LOG_ROUTE = "\0logs"  # self._routes key of the dora/logs receivers
STATS_PERIOD = 1.0  # seconds between two `stats` records to the supervisor
# Seconds close() still waits for slow receivers once the dataflow is stopping (see _flush_links).
STOP_FLUSH_GRACE = 2.0


class Node:
    """A dora-ros node: receive events from inputs, send outputs.

    ``Node()`` is the node the runtime started (identity from the environment); ``Node("id")``
    outside a dataflow joins a running dataflow as its dynamic node ``id``.
    """

    _async_waiting = False  # a recv_async is waiting on the epoll fd

    def __init__(self, node_id: str | None = None, daemon_port: int | None = None) -> None:
        del daemon_port  # dora-rs's daemon port; dora-ros finds dataflows by their sockets
        self._closed = True
        env_node = os.environ.get(control.ENV_NODE_ID)
        env_dataflow = os.environ.get(control.ENV_DATAFLOW_ID)
        if env_node and env_dataflow:
            # As dora-rs: inside a dataflow the runtime's identity wins over the given id
            # (node-hub packages call Node("their-default-name")).
            self._connect(env_dataflow, env_node, dynamic=False)
        elif node_id:
            self._join_dynamic(node_id)
        else:
            raise NodeError(
                "Node() found no dataflow in its environment: run it with `dora-ros run graph.yml`,"
                " or give the id of a dynamic node, Node('my-node'), to join a running dataflow"
            )

    # --- set-up -----------------------------------------------------------------------------

    def _join_dynamic(self, node_id: str) -> None:
        errors = []
        for dataflow_id in control.running_dataflows():
            try:
                self._connect(dataflow_id, node_id, dynamic=True)
                return
            except NodeError as err:
                errors.append(str(err))
        detail = f" ({'; '.join(errors)})" if errors else ""
        raise NodeError(
            f"no running dataflow has a dynamic node {node_id!r}: start one with"
            f" `dora-ros run graph.yml` where node {node_id!r} has `path: dynamic`{detail}"
        )

    def _connect(self, dataflow_id: str, node_id: str, *, dynamic: bool) -> None:
        ctl = control.new_socket()
        try:
            ctl.connect(socket_name(dataflow_id, "ctl"))
        except OSError as err:
            ctl.close()
            raise NodeError(f"cannot reach dataflow {dataflow_id}: {err}") from err
        # Listen before registering, so senders can connect as soon as the dataflow starts.
        try:
            self._listener = listen(socket_name(dataflow_id, f"n/{node_id}"))
        except OSError as err:
            ctl.close()
            if err.errno == errno.EADDRINUSE:  # the address lives as long as its node
                raise NodeError(
                    f"node {node_id!r} is already running in dataflow {dataflow_id}"
                ) from err
            raise NodeError(f"node {node_id!r}: cannot listen for inputs: {err}") from err
        control.send(
            ctl, {"op": "register", "node": node_id, "pid": os.getpid(), "dynamic": dynamic}
        )
        init = control.recv(ctl)
        if init is None or init.get("op") != "init":
            ctl.close()
            self._listener.close()
            message = init.get("message") if init else "the coordinator closed the connection"
            raise NodeError(f"node {node_id!r}: {message}")
        self._ctl = ctl
        self._id = node_id
        self._dataflow_id = dataflow_id
        self._setup(init)
        self._closed = False
        # Wait for the barrier: every node is listening once `start` arrives.
        while not self._started:
            message = control.recv(ctl)
            if message is None:
                raise NodeError(f"node {node_id!r}: the dataflow ended before it started")
            self._on_control(message)
        self._connect_outputs()
        atexit.register(_close_at_exit, weakref.ref(self))
        node_raw: dict[str, Any] = next(
            (n for n in self._descriptor.get("nodes") or () if n.get("id") == node_id), {}
        )
        self._log = NodeLog(node_id, dataflow_id, node_raw, self._log_routes, self._send_log)
        _install_logging(self._log)

    def _setup(self, init: dict[str, Any]) -> None:
        self._restart_count: int = init["restart_count"]
        self._node_config: dict[str, Any] = init["node_config"]
        self._descriptor: dict[str, Any] = init["descriptor"]
        self._events = EventQueues(init["inputs"])
        self._inputs = self._events.inputs
        # sender node -> output index -> inputs of this node it feeds
        self._inbound_routes: dict[str, dict[int, tuple[InputQueue, ...]]] = {
            sender: {int(i): tuple(self._inputs[x] for x in ids) for i, ids in outs.items()}
            for sender, outs in init["inbound"].items()
        }
        self._outputs: dict[str, int] = {o: i for i, o in enumerate(init["outputs"])}
        # output -> receiver nodes; receiver -> pending limit (its largest queue size for us)
        self._routes: dict[str, tuple[str, ...]] = {
            o: tuple(receivers) for o, receivers in init["routes"].items()
        }
        self._receiver_limits: dict[str, int] = init["receiver_limits"]
        # dora/logs: this node's records go to their subscribers as outputs LOG_INDEX_BASE + level
        # (the key cannot be an output id), and records of others arrive as inputs.
        self._log_routes = log_routes(self._descriptor, self._id)
        if self._log_routes.receivers:
            self._routes[_LOG_ROUTE] = tuple(sorted(self._log_routes.all_receivers))
        for sender, by_index in self._log_routes.inbound.items():
            routes = self._inbound_routes.setdefault(sender, {})
            for index, ids in by_index.items():
                routes[index] = tuple(self._inputs[x] for x in ids)
                for x in ids:
                    sources = self._inputs[x].log_sources
                    self._inputs[x].log_sources = {sender} | (sources or set())
        self._ready: set[str] = set(init["ready"])
        self._links: dict[str, OutboundLink] = {}
        self._link_ids = 0
        self._inbound: dict[int, InboundLink] = {}
        self._pool = ShmPool()
        # Taps (tap.py): extra, never-blocking receivers of outputs someone watches; the send
        # path reads the dict of tap links by output index (empty: no cost but a truth test).
        self._taps = NodeTaps()
        self._tapped = self._taps.by_index
        self._started = False
        self._stop_requested = False  # the coordinator asked the dataflow to stop
        self._send_dropped: dict[str, int] = {}
        # Messages sent per output, and what the last `stats` record told (drops go as counts
        # since then); `stats` goes every STATS_PERIOD from _pump (`top`, `node info`).
        self._sent: dict[str, int] = dict.fromkeys(self._outputs, 0)
        self._told: dict[str, dict[str, int]] = {"dropped": {}, "send_dropped": {}}
        self._stats_due = 0.0
        self._undeclared: dict[str, int] = {}  # undeclared output -> sends ignored
        # Discarded raw samples whose buffer the user still views (bounded by what they hold).
        self._held_samples: list[tuple[mmap.mmap, Any, Any]] = []
        self._external: dict[int, Any] = {}
        # epoll, not poll: its own fd is readable whenever one of ours is, which lets
        # recv_async wait in the event loop (loop.add_reader) with no thread.
        self._poller = select.epoll()
        self._poller.register(self._ctl.fileno(), _POLL_IN)
        self._poller.register(self._listener.fileno(), _POLL_IN)
        # Edges to nodes on other machines (a dataflow started with `dora-ros start` over
        # several daemons): Zenoh links behind the same link classes (dora_ros.cluster).
        self._remote: Any = None
        if init.get("remote"):
            from ..cluster.remote_link import RemoteLinks

            self._remote = RemoteLinks(self._id, init["remote"])
            for remote_in in self._remote.inbound:
                self._inbound[remote_in.fd] = remote_in
                self._poller.register(remote_in.fd, _POLL_IN)

    def _connect_outputs(self) -> None:
        receivers = {r for rs in self._routes.values() for r in rs}
        for receiver in sorted(receivers & self._ready):
            self._open_link(receiver)
        self._events.start()

    def _open_link(self, receiver: str) -> None:
        old = self._links.pop(receiver, None)
        if old is not None:
            self._drop_link(old)
        if self._remote is not None and receiver in self._remote.receivers:
            self._link_ids += 1
            limit = self._receiver_limits.get(receiver, 10)
            remote = self._links[receiver] = self._remote.outbound(self._link_ids, receiver, limit)
            self._poller.register(remote.fd, _POLL_HUP)
            return
        try:
            sock = connect(socket_name(self._dataflow_id, f"n/{receiver}"), self._id)
        except OSError:
            return  # not listening (yet): messages to it are counted as dropped
        self._link_ids += 1
        link = OutboundLink(self._link_ids, receiver, sock, self._receiver_limits.get(receiver, 10))
        self._links[receiver] = link
        self._poller.register(link.fd, _POLL_HUP)

    def _drop_link(self, link: OutboundLink) -> None:
        if not link.closed:
            with contextlib.suppress(OSError):  # closed fds leave epoll by themselves
                self._poller.unregister(link.fd)
        link.close(self._pool)
        if link.dropped:
            self._send_dropped[link.receiver] = (
                self._send_dropped.get(link.receiver, 0) + link.dropped
            )
            link.dropped = 0

    # --- receiving ----------------------------------------------------------------------------

    def _on_frame(self, link: InboundLink, data: bytes, _: Any) -> None:
        # Hot path (one call per received message): header, payload view, event; nothing else.
        kind, encoding, out_idx, type_code, meta_len, ts, nbytes = _unpack_header(data)
        routes = link.routes
        if routes is None:
            routes = link.routes = self._inbound_routes.get(link.sender or "", {})
        targets = routes.get(out_idx)
        if not targets:
            return
        if kind == wire.KIND_SHM:
            region_id, generation, _ = _unpack_ref(data, _HEADER_SIZE)
            meta = data[_SHM_META : _SHM_META + meta_len] if meta_len else b""
            buf = link.shm_buffer(region_id, generation, nbytes)
        else:
            start = _HEADER_SIZE + meta_len
            meta = data[_HEADER_SIZE:start] if meta_len else b""
            buf = pa.py_buffer(data).slice(start, nbytes)
        value = wire.decode_payload(encoding, type_code, buf)
        self._events.deliver(targets, value, wire.decode_metadata(meta, ts))

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            if peer_uid(sock) != os.getuid():
                sock.close()
                continue
            sock.setblocking(False)
            link = InboundLink(sock)
            self._inbound[link.fd] = link
            self._poller.register(link.fd, _POLL_IN)
            # Read what is already waiting now: the poll that showed the listener ready did not
            # include this socket, so a try_recv()/drain() after a quiet spell saw nothing.
            self._read_inbound(link)

    def _read_inbound(self, link: InboundLink) -> None:
        if not link.receive(self._on_frame):
            self._inbound.pop(link.fd, None)
            with contextlib.suppress(OSError):  # closed fds leave epoll by themselves
                self._poller.unregister(link.fd)

    def _on_control(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "start":
            self._ready.update(message.get("ready", ()))
            self._started = True
        elif op == "ready":
            node = message["node"]
            self._ready.add(node)
            if self._started and any(node in rs for rs in self._routes.values()):
                self._open_link(node)
        elif op == "closed":
            self._on_sender_closed(message["node"], message.get("error"))
        elif op == "tap":  # someone watches one of our outputs (tap.py)
            self._taps.add(message, self._outputs.get(str(message.get("output"))), self._id)
        elif op == "restarted":  # dora-rs 1.1: NODE_RESTARTED
            self._events.source_restarted(message["node"])
        elif op == "param":  # `dora-ros param set|delete` (dora-rs 1.1's parameters)
            key = str(message.get("key"))
            event = param_deleted(key) if message.get("deleted") else param_update(
                key, message.get("value")
            )  # fmt: skip
            self._events.push_control(event)
        elif op == "stop":
            self._stop_requested = True
            self._events.stop("MANUAL")

    def _on_sender_closed(self, sender: str, error: str | None = None) -> None:
        # Everything the sender sent is already in our sockets: read it before closing inputs.
        self._accept()
        for link in list(self._inbound.values()):
            if link.sender is None or link.sender == sender:
                self._read_inbound(link)
        self._events.sender_closed(sender, error)

    def _pump(self, wait: float) -> None:
        """Read whatever is ready; wait up to ``wait`` seconds (-1: forever) if nothing is."""
        if self._held_samples:  # dropped samples whose last view may be gone by now
            self._settle_held_samples()
        if self._started and time.monotonic() >= self._stats_due:
            self._send_stats()
        if self._log.pending:
            self._log.flush()  # records logged on other threads
        for link in self._inbound.values():
            if link.releases and not link.flush_releases() and (wait < 0 or wait > 0.005):
                wait = 0.005  # the sender's socket is full: retry its RELEASE records soon
        for out in self._links.values():
            if out.pending or out.retiring:  # held back for a slow receiver: retry soon
                out.flush(self._pool)
                if (out.pending or out.retiring) and (wait < 0 or wait > 0.005):
                    wait = 0.005
        if self._taps and self._taps.service(self._pool) and (wait < 0 or wait > 0.005):
            wait = 0.005
        if self._events.timers or self._events.watched:
            self._events.fire_timers()
        ready = self._poller.poll(wait if wait <= 0 else wait + 0.001)
        for fd, _ in ready:
            inbound = self._inbound.get(fd)
            if inbound is not None:
                self._read_inbound(inbound)
            elif fd == self._listener.fileno():
                self._accept()
            elif fd == self._ctl.fileno():
                message = control.recv(self._ctl)
                if message is None:
                    self._poller.unregister(fd)
                    self._on_control({"op": "stop"})
                else:
                    self._on_control(message)
            elif fd in self._external:
                source = self._external[fd]
                while (event := source.take()) is not None:
                    self._events.push_control(event)
            else:
                for out_link in list(self._links.values()):
                    if out_link.fd == fd:
                        out_link.read_releases(self._pool)
                        out_link.flush(self._pool)
                        if out_link.closed:
                            self._drop_link(out_link)
                            self._links.pop(out_link.receiver, None)
        if self._events.timers or self._events.watched:
            self._events.fire_timers()

    # --- receiving: public ----------------------------------------------------------------

    def next(self, /, timeout: float | None = None) -> dict[str, Any] | None:
        """The next event; ``None`` once the node was told to stop; an ERROR event on timeout."""
        if self._closed or (self._events.finished and not self._events.has_events()):
            return None
        deadline = None if timeout is None else time.monotonic() + timeout
        self._pump(0)
        spin_until = 0.0
        while True:
            event = self._events.pop()
            if event is not None:
                return event
            if self._events.finished:
                return None
            now = time.monotonic()
            if _SPIN and (spin_until == 0.0 or now < spin_until):
                # Poll without sleeping for a few tens of microseconds first: a message that
                # comes within that window skips a sleep and wake-up of the process, which cost
                # ~3x the message itself here (8-byte round trip: see docs/benchmarks.md).
                if spin_until == 0.0:
                    spin_until = now + _SPIN
                self._pump(0)
                continue
            wake = self._events.next_deadline()
            if deadline is not None:
                if now >= deadline:
                    return timeout_error()
                wake = deadline if wake is None else min(wake, deadline)
            self._pump(-1 if wake is None else max(0.0, wake - now))

    def __iter__(self, /) -> Iterator[dict[str, Any]]:
        return self

    def __next__(self, /) -> dict[str, Any]:
        event = self.next()
        if event is None:
            raise StopIteration
        return event

    def try_recv(self, /) -> dict[str, Any] | None:
        """The next event if one is ready, else None (never waits)."""
        if self._closed:
            return None
        self._pump(0)
        return self._events.pop()

    def drain(self, /) -> list[dict[str, Any]]:
        """Every event ready now."""
        events = []
        while (event := self.try_recv()) is not None:
            events.append(event)
        return events

    def is_empty(self, /) -> bool:
        if self._closed:
            return True
        self._pump(0)
        return not self._events.has_events()

    async def recv_async(self, /, timeout: float | None = None) -> dict[str, Any] | None:
        """``next()`` for asyncio code, waiting in the event loop itself.

        No worker thread: the node's epoll fd is watched with ``loop.add_reader``, so events are
        only ever taken by the coroutine that returns them. A ``wait_for`` that cancels this call
        loses nothing (the next call gets the event), and ``send_output`` from another coroutine
        never races a receive. One ``recv_async`` at a time per node (they would share one fd).
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else time.monotonic() + timeout
        fd = self._poller.fileno()
        while True:
            if self._closed or (self._events.finished and not self._events.has_events()):
                return None
            self._pump(0)
            event = self._events.pop()
            if event is not None:
                return event
            if self._events.finished:
                return None
            now = time.monotonic()
            wake = self._events.next_deadline()
            if deadline is not None:
                if now >= deadline:
                    return timeout_error()
                wake = deadline if wake is None else min(wake, deadline)
            if self._async_waiting:  # a second reader of the fd would silently replace the first
                raise NodeError(
                    f"node {self._id!r}: recv_async is already waiting in another coroutine"
                    " (one at a time per node: share its events from that coroutine)"
                )
            ready: asyncio.Future[None] = loop.create_future()
            loop.add_reader(fd, _set_ready, ready)
            self._async_waiting = True
            try:
                # On timeout a timer or the deadline is due: the loop above handles it.
                await asyncio.wait({ready}, timeout=None if wake is None else max(0.0, wake - now))
            finally:
                self._async_waiting = False
                loop.remove_reader(fd)
                ready.cancel()

    def merge_external_events(self, /, subscription: Any) -> None:
        """Interleave events of another source (e.g. a ROS 2 subscription) with dora events.

        ``subscription`` has ``fileno()`` (readable when an item is ready) and ``take()`` (an
        event dict with ``kind: "external"``, or None when nothing is left).
        """
        if not hasattr(subscription, "fileno") or not hasattr(subscription, "take"):
            raise NodeError(
                "merge_external_events needs an object with fileno() and take(), such as a"
                " subscription from dora_ros.bridge"
            )
        fd = subscription.fileno()
        self._external[fd] = subscription
        self._poller.register(fd, _POLL_IN)

    # --- sending ------------------------------------------------------------------------------

    def _check_output(self, output_id: str) -> int | None:
        """The output's index, or None (warned about) for an output the graph does not declare.

        As dora-rs 1.1 ("Ignoring output ... not in node's output list"): node-hub nodes send on
        optional outputs that a graph may leave out. Warned once per output; the count of later
        sends is logged when the node closes, so a node sending at 100 Hz does not flood its log.
        """
        index = self._outputs.get(output_id)
        if index is None:
            count = self._undeclared.get(output_id, 0) + 1
            self._undeclared[output_id] = count
            if count == 1:
                logging.getLogger(self._id).warning(
                    "ignoring output %r: not declared in the graph (declared outputs: %s);"
                    " add it under `outputs:` of node %r",
                    output_id,
                    ", ".join(repr(o) for o in self._outputs) or "none",
                    self._id,
                )
        return index

    def send_output(
        self, /, output_id: str, data: Any, metadata: dict[str, Any] | None = None
    ) -> None:
        """Send ``data`` (a pyarrow array or bytes) on ``output_id`` to every subscriber."""
        index = self._check_output(output_id)
        if self._closed:
            raise NodeError(f"node {self._id!r}: send_output after the node was closed")
        if index is None:
            return
        self._sent[output_id] += 1
        self._send_index(index, self._routes.get(output_id, ()), data, metadata)

    def _send_index(
        self, index: int, receivers: tuple[str, ...], data: Any, metadata: dict[str, Any] | None
    ) -> None:
        """Send ``data`` as output ``index`` (an output, or a log level's) to ``receivers``."""
        payload, ipc_array = wire.encode_payload(data)
        meta = wire.encode_metadata(metadata)
        if not receivers and index not in self._tapped:
            return
        links = self._links_for(receivers)
        if self._tapped:
            links.extend(self._tapped.get(index, ()))
        ts = time.time_ns()
        if (
            payload.length < wire.INLINE_LIMIT and len(meta) + payload.length < MAX_INLINE_RECORD
        ) or all(link.remote for link in links):
            # Inline; also at any size when every receiver is on another machine: the remote
            # link copies the frame into Zenoh once, a shared-memory region would be one copy more.
            body = payload.view if ipc_array is None else wire.ipc_bytes(ipc_array)
            header = wire.HEADER.pack(
                wire.KIND_INLINE, payload.encoding, index, payload.type_code, len(meta), ts,
                payload.length,
            )  # fmt: skip
            parts = [header, meta, body]
            for link in links:
                link.send(parts, [], None, self._pool)
            return
        region = self._acquire(payload.length)
        if ipc_array is None:
            region.mm[: payload.length] = payload.view
        else:
            # The whole (mutable) region: pyarrow's slices of a mutable buffer are read-only.
            wire.write_ipc(ipc_array, region.buffer)
        self._send_region(
            index, region, payload.encoding, payload.type_code, payload.length, meta, ts, links
        )

    def _links_for(self, receivers: tuple[str, ...]) -> list[OutboundLink]:
        links = []
        for receiver in receivers:
            link = self._links.get(receiver)
            if link is None or link.closed:
                self._send_dropped[receiver] = self._send_dropped.get(receiver, 0) + 1
            else:
                links.append(link)
        return links

    def _acquire(self, nbytes: int) -> Any:
        if self._held_samples:
            self._settle_held_samples()
        for link in self._links.values():
            if link.outstanding:
                link.read_releases(self._pool)
        if self._tapped:
            self._taps.read_releases(self._pool)
        return self._pool.acquire(nbytes)

    def _settle_held_samples(self) -> None:
        """Regions of discarded samples go back to the pool once the user's views are gone."""
        held = []
        for sample_mm, buffer, region in self._held_samples:
            if views_released(sample_mm, buffer):
                self._pool.settle(region)
            else:
                held.append((sample_mm, buffer, region))
        self._held_samples = held

    def _send_region(
        self, index: int, region: Any, encoding: int, type_code: int, nbytes: int, meta: bytes,
        ts: int, links: list[OutboundLink],
    ) -> None:  # fmt: skip
        header = wire.HEADER.pack(wire.KIND_SHM, encoding, index, type_code, len(meta), ts, nbytes)
        ref = wire.SHM_REF.pack(region.id, region.generation, region.size)
        parts = [header, ref, meta]
        for link in links:
            fds = [] if link.id in region.sent_to else [region.fd]
            link.send(parts, fds, region, self._pool)
        self._pool.settle(region)

    def send_output_raw(
        self, /, output_id: str, data_length: int, metadata: dict[str, Any] | None = None
    ) -> SampleHandler:
        """A writable buffer of ``data_length`` bytes (shared memory from 4 KiB) to send.

        ``with node.send_output_raw("image", n) as buf: np.frombuffer(buf, np.uint8)[:] = ...``
        sends on leaving the block; ``sample.send()`` sends by hand (see ``sample.py``).
        """
        index = self._outputs.get(output_id)
        if index is None:  # raised, not warned: dora-rs 1.1 raises here too
            declared = ", ".join(repr(o) for o in self._outputs) or "none"
            raise NodeError(
                f"node {self._id!r}: output {output_id!r} is not declared in the graph"
                f" (declared outputs: {declared}); add it under `outputs:`"
            )
        if self._closed:
            raise NodeError(f"node {self._id!r}: send_output_raw after the node was closed")
        if data_length < wire.INLINE_LIMIT:
            scratch = bytearray(data_length)
            return SampleHandler(
                scratch,
                lambda: self.send_output(output_id, bytes(scratch), metadata),
                lambda _released, _buffer: None,
            )
        meta = wire.encode_metadata(metadata)
        region = self._acquire(data_length)
        # A mapping of the sample's own: its exports tell whether the user still holds views.
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        sample_mm = mmap.mmap(region.fd, data_length, flags=flags)

        def send() -> None:
            if self._closed:
                raise NodeError(f"node {self._id!r}: sample sent after the node was closed")
            links = self._links_for(self._routes.get(output_id, ()))
            if self._tapped:
                links.extend(self._tapped.get(index, ()))
            self._sent[output_id] += 1
            self._send_region(
                index, region, wire.ENC_BYTES, 0, data_length, meta, time.time_ns(), links
            )

        def discard(released: bool, buffer: Any) -> None:
            if released:
                self._pool.settle(region)
            else:  # the user still holds a view: the region waits until it is gone
                self._held_samples.append((sample_mm, buffer, region))

        return SampleHandler(sample_mm, send, discard)

    def send_service_request(
        self, /, output_id: str, data: Any, metadata: dict[str, Any] | None = None
    ) -> str:
        """Send a request; returns its id (also in the receiver's ``metadata['request_id']``)."""
        request_id = str(uuid.uuid4())
        self.send_output(output_id, data, {**(metadata or {}), "request_id": request_id})
        return request_id

    def send_service_response(self, /, output_id: str, data: Any, metadata: dict[str, Any]) -> None:
        """Answer a request: ``metadata`` must carry the request's ``request_id``."""
        if not metadata or "request_id" not in metadata:
            # dora-rs 1.1 warns and sends it all the same.
            logging.getLogger(self._id).warning(
                "send_service_response on %r: metadata has no 'request_id' (pass the request's"
                " metadata): the response will not be matched to a request",
                output_id,
            )
        self.send_output(output_id, data, metadata)

    # --- introspection and logs ---------------------------------------------------------------

    def dataflow_id(self, /) -> str:
        return self._dataflow_id

    def node_config(self, /) -> dict[str, Any]:
        return dict(self._node_config)

    def dataflow_descriptor(self, /) -> dict[str, Any]:
        """The graph as dora-rs 1.1 gives it to nodes (normalised: see ``node_descriptor``)."""
        return normalise_descriptor(self._descriptor)

    def is_restart(self, /) -> bool:
        return self._restart_count > 0

    def restart_count(self, /) -> int:
        return self._restart_count

    def timestamp(self, /) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)

    def log(
        self, /, level: str, message: str, target: str | None = None, fields: Any = None
    ) -> None:
        """A log record of ``level`` (error, warn, info, debug, trace), as dora-rs's ``log``.

        Shown in the node's log unless filtered (``min_log_level``, ``--log-level``), sent on
        ``send_logs_as`` and to ``dora/logs`` subscribers; ``fields`` is a dict of strings.
        """
        try:
            rank = level_rank(level)
        except ValueError as err:
            raise NodeError(f"node {self._id!r}: log: {err}") from None
        if fields is not None and not isinstance(fields, dict):
            raise NodeError(f"node {self._id!r}: log: fields must be a dict of strings")
        self._log.emit(rank, str(message), target, fields)

    def log_error(self, /, message: str) -> None:
        self.log("error", message)

    def log_warn(self, /, message: str) -> None:
        self.log("warn", message)

    def log_info(self, /, message: str) -> None:
        self.log("info", message)

    def log_debug(self, /, message: str) -> None:
        self.log("debug", message)

    def log_trace(self, /, message: str) -> None:
        self.log("trace", message)

    def _send_log(
        self, rank: int, output: str | None, receivers: tuple[str, ...], record: str
    ) -> None:
        if self._closed:
            return
        value = pa.array([record])
        if output is not None:
            self.send_output(output, value)
        if receivers:
            self._send_index(LOG_INDEX_BASE + rank, receivers, value, None)

    def _unsupported(self, what: str) -> NodeError:
        return NodeError(f"{what} is not supported by dora-ros (dora-rs extension storage)")

    def extension_store(self, /, namespace: str, key: str, value: bytes) -> None:
        raise self._unsupported("extension_store")

    def extension_load(self, /, namespace: str, key: str, remove: bool = False) -> bytes:
        raise self._unsupported("extension_load")

    def extension_drop(self, /, namespace: str, key: str) -> None:
        raise self._unsupported("extension_drop")

    def drain_dropped_extension_keys(self, /, namespace: str) -> list[str]:
        raise self._unsupported("drain_dropped_extension_keys")

    def __repr__(self) -> str:
        return f"Node({getattr(self, '_id', '?')!r})"

    # --- end ----------------------------------------------------------------------------------

    def close(self) -> None:
        """Flush what is still queued for slow receivers, report drops, release everything."""
        if self._closed:
            return
        self._log.flush()
        self._log.enabled = False  # records from here on are only shown
        self._closed = True
        self._flush_links()
        for link in list(self._links.values()):
            self._drop_link(link)
        for output_id, count in self._undeclared.items():
            if count > 1:
                logging.getLogger(self._id).warning(
                    "ignored %d sends on undeclared output %r in all", count, output_id
                )
        self._send_stats()
        for in_link in self._inbound.values():
            in_link.close()
        if self._remote is not None:
            self._remote.close()
        self._taps.close(self._pool)
        self._listener.close()
        self._ctl.close()
        self._poller.close()
        self._pool.close()

    def _send_stats(self) -> None:
        """A ``stats`` record: drops since the last one, totals of messages in, queued and out."""
        self._stats_due = time.monotonic() + STATS_PERIOD
        # `t`: CLOCK_MONOTONIC, the same in every process: rates are counted between records.
        message: dict[str, Any] = {"op": "stats", "t": time.monotonic()}
        for key, totals in (("dropped", self._events.dropped()),
                            ("send_dropped", self._send_dropped)):  # fmt: skip
            told = self._told[key]
            message[key] = {k: n - told.get(k, 0) for k, n in totals.items() if n != told.get(k, 0)}
            self._told[key] = dict(totals)
        message["received"] = {i.id: i.received for i in self._inputs.values()}
        message["queued"] = {i.id: len(i.queue) for i in self._inputs.values()}
        message["sent"] = self._sent
        with contextlib.suppress(OSError, ValueError):
            control.send(self._ctl, message)

    def _flush_links(self) -> None:
        """Hand every record still held back for a slow receiver to it before the node ends.

        As on dora-rs, where a sender's messages wait in the daemon after it exits, nothing is
        dropped for a receiver that is still running and reading, however long its backlog
        (bounded by its queue size): the wait ends when every link is flushed or its receiver
        has gone. A stop of the dataflow (Ctrl-C, --stop-after) leaves ``STOP_FLUSH_GRACE``
        seconds, after which the rest is dropped and reported. (Before, close gave every link 2 s
        in all and retried every 10 ms: 91,033 of 573,033 messages of benchmarks/latency.py's
        8-byte burst were dropped.)
        """
        deadline = time.monotonic() + STOP_FLUSH_GRACE if self._stop_requested else None
        ctl_fd: int | None = self._ctl.fileno()
        stalled = False
        while True:
            waiting = []
            moved = False
            for link in self._links.values():
                if link.closed or not (link.pending or link.retiring):
                    continue
                if link.outstanding:
                    link.read_releases(self._pool)
                before = len(link.pending) + len(link.retiring)
                link.flush(self._pool)
                if not link.closed and (link.pending or link.retiring):
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
                message = control.recv(self._ctl)
                if message is None:
                    ctl_fd = None  # the coordinator is gone: the dataflow is ending
                if (message is None or message.get("op") == "stop") and deadline is None:
                    deadline = time.monotonic() + STOP_FLUSH_GRACE

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def _set_ready(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _close_at_exit(ref: weakref.ref[Node]) -> None:
    node = ref()
    if node is not None:
        node.close()


def _install_logging(log: NodeLog) -> None:
    """Route Python ``logging`` into the node's records (as dora-rs's ``Node()`` does).

    The root logger is left at INFO (library debug output stays quiet, as before) unless
    ``min_log_level`` or the display level ask for debug or trace.
    """
    root = logging.getLogger()
    if root.handlers:
        return
    root.addHandler(LogHandler(log))
    wanted = max(log.min_rank, log.display_rank)
    root.setLevel(logging.DEBUG if 0 < wanted <= level_rank("debug") else logging.INFO)
