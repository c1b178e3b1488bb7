"""The Python node API: ``from dora_ros import Node``, with dora-rs 1.1's names and events.

A node talks to the coordinator (``dora-ros run``) over a control socket for lifecycle only, and to
other nodes directly through links (``link``): outputs go straight into the subscribers' links,
inputs are read by the node's own thread when it asks for the next event. No background thread:
waiting, reading and dispatch happen in ``next()``, which keeps one message to one ``recvmsg``
and no thread hand-off (a hand-off costs ~30-60 us in CPython).

This module is the API facade; each part behind it has a home of its own: the sockets, links,
pool and the one wait (``node_loop``), the events and their queues, timers and order
(``event_queues``), the links to other nodes (``link``, ``transport``), log records
(``node_logs``), raw samples (``sample``) and the descriptor a node is given
(``node_descriptor``).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import datetime as dt
import errno
import logging
import os
import time
import uuid
import weakref
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from ..errors import NodeError
from . import control, wire
from .event_queues import timeout_error
from .link import link_providers
from .node_descriptor import normalise_descriptor
from .node_logs import LOG_INDEX_BASE, NodeLog, install_logging, level_rank
from .node_loop import STOP_FLUSH_GRACE as STOP_FLUSH_GRACE
from .node_loop import NodeLoop
from .sample import SampleHandler
from .transport import listen, socket_name

# Seconds next() polls before it sleeps (DORA_ROS_SPIN_US, default 50 us; 0 turns it off).
_SPIN = float(os.environ.get("DORA_ROS_SPIN_US", "50")) / 1e6
# Seconds next() may hand out events already queued without reading its sockets again.
_PUMP_PERIOD = 0.001


class Node:
    """A dora-ros node: receive events from inputs, send outputs.

    ``Node()`` is the node the runtime started (identity from the environment); ``Node("id")``
    outside a dataflow joins a running dataflow as its dynamic node ``id``.
    """

    _async_waiting = False  # a recv_async is waiting on the epoll fd
    _pump_due = 0.0  # next() reads its sockets again from then on, even with events queued

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
            listener = listen(socket_name(dataflow_id, f"n/{node_id}"))
        except OSError as err:
            ctl.close()
            if err.errno == errno.EADDRINUSE:  # the address lives as long as its node
                raise NodeError(
                    f"node {node_id!r} is already running in dataflow {dataflow_id}"
                ) from err
            raise NodeError(f"node {node_id!r}: cannot listen for inputs: {err}") from err
        # Links of registered kinds (link.register_link_provider) also receive before we register.
        providers = link_providers(node_id, dataflow_id)
        control.send(
            ctl, {"op": "register", "node": node_id, "pid": os.getpid(), "dynamic": dynamic}
        )
        init = control.recv(ctl)
        if init is None or init.get("op") != "init":
            ctl.close()
            listener.close()
            for provider in providers:
                provider.close()
            message = init.get("message") if init else "the coordinator closed the connection"
            raise NodeError(f"node {node_id!r}: {message}")
        self._id = node_id
        # The id users see; `dataflow_id` is where the sockets are (one machine's part of it).
        self._dataflow_id: str = init.get("dataflow_id", dataflow_id)
        self._restart_count: int = init["restart_count"]
        self._node_config: dict[str, Any] = init["node_config"]
        self._descriptor: dict[str, Any] = init["descriptor"]
        self._loop = loop = NodeLoop(ctl, listener, node_id, dataflow_id, init, providers)
        self._events = loop.events
        self._outputs = loop.outputs
        self._pump = loop.pump
        self._undeclared: dict[str, int] = {}  # undeclared output -> sends ignored
        self._closed = False
        if not loop.wait_for_start():
            raise NodeError(f"node {node_id!r}: the dataflow ended before it started")
        loop.connect_outputs()
        atexit.register(_close_at_exit, weakref.ref(self))
        node_raw: dict[str, Any] = next(
            (n for n in self._descriptor.get("nodes") or () if n.get("id") == node_id), {}
        )
        self._log = NodeLog(node_id, self._dataflow_id, node_raw, loop.log_routes, self._send_log)
        loop.log = self._log
        install_logging(self._log)

    # The loop's parts, for tests and tools that look inside a running node.
    @property
    def _pool(self) -> Any:
        return self._loop.pool

    @property
    def _links(self) -> Any:
        return self._loop.links

    @property
    def _taps(self) -> Any:
        return self._loop.taps

    # --- receiving: public ----------------------------------------------------------------

    def next(self, /, timeout: float | None = None) -> dict[str, Any] | None:
        """The next event; ``None`` once the node was told to stop; an ERROR event on timeout."""
        if self._closed or (self._events.finished and not self._events.has_events()):
            return None
        now = time.monotonic()
        if now < self._pump_due and (event := self._events.pop()) is not None:
            # Queued already (a burst was read in one go): no epoll_wait for each event, but a
            # pump at least every _PUMP_PERIOD, so releases, held-back sends and timers go out.
            return event
        self._pump_due = now + _PUMP_PERIOD
        deadline = None if timeout is None else now + timeout
        self._pump(0)
        spin_until = 0.0
        while True:
            event = self._events.pop()
            if event is not None:
                if self._loop.pool.region_count:
                    # This node sent shared memory: take its receivers' releases now, so that
                    # the send this event usually leads to finds a free region. A receiver
                    # sends them before it sends anything (NodeLoop.send_releases): those of a
                    # receiver this event comes from are all here. Taken when next() was
                    # entered, as before, they missed those that came during the wait, and a
                    # sender in step with its receiver read them on every send (acquire),
                    # 2.5-3 us more per 4-64 KiB message (docs/benchmarks.md).
                    self._loop.collect_releases()
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
        fd = self._loop.poller.fileno()
        while True:
            if self._closed or (self._events.finished and not self._events.has_events()):
                return None
            self._pump(0)
            event = self._events.pop()
            if event is not None:
                if self._loop.pool.region_count:  # as in next()
                    self._loop.collect_releases()
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
        self._loop.add_external(subscription)

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
        loop = self._loop
        loop.sent[output_id] += 1
        loop.stats_if_due()
        loop.send_index(index, loop.routes.get(output_id, ()), data, metadata)

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
        return self._loop.raw_sample(output_id, index, data_length, metadata)

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
            self._loop.send_index(LOG_INDEX_BASE + rank, receivers, value, None)

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
        for output_id, count in self._undeclared.items():
            if count > 1:
                logging.getLogger(self._id).warning(
                    "ignored %d sends on undeclared output %r in all", count, output_id
                )
        self._loop.close()

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
