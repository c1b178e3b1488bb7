"""The dataflow API's topic verbs: taps republished on Zenoh, the outputs listed, messages injected.

Verbs (``dataflow_api.verb``), served by every supervisor for the nodes it runs:

- ``tap`` ``{node, output, listener}``: someone listens to ``node/output``. The first listener
  makes a ``runtime.tap.TapReceiver`` and asks the node for the tap (a control record); every
  message it receives is published on ``dora-ros/df/<id>/tap/<node>/<output>`` (``keys.tap``):
  the value as an Arrow IPC stream, and as attachment a JSON object ``{"seq", "ts", "meta",
  "size", "dropped"}`` (``seq`` counts from 1 per tap, so a listener sees gaps; ``meta`` is the
  metadata as the wire carries it, for ``runtime.wire.decode_metadata``; ``dropped`` is what the
  sender dropped for the tap so far). Publication drops under congestion and never waits.
  A listener holds the tap by asking again within ``LEASE`` seconds (the CLI asks every
  ``RENEW``; the control record goes once to each connection of the node, so a restarted node
  is tapped again and one that does not read is not flooded); the answer says whether the node
  runs (``running``, ``status`` as ``node list``, ``ended``: it will not run again);
  ``untap`` or a lapsed lease removes it, and the last one gone closes the tap.
- ``untap`` ``{node, output, listener}``.
- ``topics`` ``{}``: every output of the nodes this supervisor runs, with its subscribers and
  their queue sizes, whether its node runs, its declared ``output_types`` entry and how many
  listeners hold a tap on it.
- ``pub`` ``{node, output, data}``: ``data`` is an Arrow IPC stream (base64) of one array,
  sent to the receivers of ``node/output`` that this supervisor runs, as if the node had sent
  it: the supervisor connects to each receiver introducing itself as the node, as it does for
  ``send_stdout_as`` lines. Inline records only (``transport.MAX_INLINE_RECORD``).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..runtime import wire
from ..runtime.tap import TapMessage, TapReceiver
from ..runtime.transport import MAX_INLINE_RECORD, connect, socket_name
from . import keys
from .dataflow_api import ApiError, no_node, node_state, verb
from .node_verbs import node_status

if TYPE_CHECKING:
    from ..runtime.supervisor import Coordinator

LEASE = 5.0  # seconds a listener holds a tap without asking again
RENEW = 1.0  # how often a listener asks again (the CLI's side)
MAX_TAPS = 64  # taps open at once per supervisor
MAX_LISTENERS = 64  # listeners per tap


def _priority(size: int) -> Any:
    """Zenoh priority of a tap whose first message has ``size`` bytes.

    Every tap of a supervisor publishes on its one session, and a Zenoh session queues each
    priority's messages apart (a few 64 KiB batches each); a message that finds its queue full for
    a millisecond is dropped (CongestionControl.DROP). Taps of large messages (shared-memory
    sized, `wire.INLINE_LIMIT` and up) publish one priority lower, so a 200 KB image that fills
    the queue while the machine is loaded no longer takes the small outputs tapped beside it
    down with it (`record --proxy` lost 6 numbers, 6 small structs and 7 images together). The
    priority is the tap's, not each message's: priorities may overtake each other, and a
    listener counts a gap in ``seq`` as lost.
    """
    import zenoh

    return zenoh.Priority.DATA_LOW if size >= wire.INLINE_LIMIT else zenoh.Priority.DATA


@dataclass
class _Tap:
    receiver: TapReceiver
    publisher: list[Any]  # none until the first message (one after)
    key: str
    listeners: dict[str, float] = field(default_factory=dict)  # listener -> lease end
    # The node connection (a socket) the tap record went to: sent once per connection, so a
    # restarted node is tapped again and one that does not read is not flooded by renewals.
    told: Any = None


class TapServer:
    """The taps of one supervisor (created by the first ``tap``), each on one node's output.

    Verb handlers run on the supervisor's thread, receivers deliver on their own threads and a
    lease thread ends lapsed listeners: ``lock`` guards ``taps``.
    """

    def __init__(self, sup: Coordinator) -> None:
        self.sup = sup
        self.lock = threading.Lock()
        self.taps: dict[tuple[str, str], _Tap] = {}
        self.thread: threading.Thread | None = None
        # Receivers end before the interpreter does: a daemon thread stopped by finalization
        # inside a Zenoh call (publisher.put) aborts the process ("exception not rethrown").
        atexit.register(self.close)

    def hold(self, node: str, output: str, listener: str) -> _Tap:
        """The tap on ``node/output`` (made now if needed), held by ``listener`` for LEASE s."""
        with self.lock:
            tap = self.taps.get((node, output))
            if tap is None:
                if len(self.taps) >= MAX_TAPS:
                    raise ApiError(f"dataflow {self.sup._api_id()}: {MAX_TAPS} taps are open"
                                   " already; close some listeners first")  # fmt: skip
                tap = self._open(node, output)
                self.taps[(node, output)] = tap
            if listener not in tap.listeners and len(tap.listeners) >= MAX_LISTENERS:
                raise ApiError(f"{node}/{output}: {MAX_LISTENERS} listeners already")
            tap.listeners[listener] = time.monotonic() + LEASE
            if self.thread is None:
                self.thread = threading.Thread(target=self._leases, name="tap-leases",
                                               daemon=True)  # fmt: skip
                self.thread.start()
            return tap

    def _open(self, node: str, output: str) -> _Tap:
        import zenoh

        session = self.sup.api.session
        key = keys.tap(self.sup._api_id(), node, output)
        publisher: list[Any] = []  # declared by the first message, whose size sets its priority

        def deliver(message: TapMessage) -> None:
            if not publisher:
                try:
                    publisher.append(session.declare_publisher(
                        key, congestion_control=zenoh.CongestionControl.DROP,
                        priority=_priority(message.size),
                    ))  # fmt: skip
                except Exception:  # the session is closing: nobody listens
                    return
            attachment = {
                "seq": message.seq,
                "ts": message.timestamp_ns,
                "meta": message.metadata.decode(),
                "size": message.size,
                "dropped": message.dropped_at_sender,
            }
            with contextlib.suppress(Exception):  # the session is closing: nobody listens
                publisher[0].put(wire.ipc_bytes(message.value), attachment=json.dumps(attachment))

        receiver = TapReceiver(self.sup.id, uuid.uuid4().hex[:12], node, output, deliver)
        return _Tap(receiver, publisher, key)

    def release(self, node: str, output: str, listener: str) -> None:
        with self.lock:
            tap = self.taps.get((node, output))
            if tap is not None:
                tap.listeners.pop(listener, None)
                if not tap.listeners:
                    self._close(self.taps.pop((node, output)))

    def _close(self, tap: _Tap) -> None:
        tap.receiver.close()  # joins its thread: no publisher is declared after
        for publisher in tap.publisher:
            with contextlib.suppress(Exception):
                publisher.undeclare()

    def _leases(self) -> None:
        while True:
            time.sleep(0.5)
            now = time.monotonic()
            with self.lock:
                for where, tap in list(self.taps.items()):
                    for listener, until in list(tap.listeners.items()):
                        if until < now:
                            del tap.listeners[listener]
                    if not tap.listeners:
                        self._close(self.taps.pop(where))
                if not self.taps:
                    self.thread = None
                    return

    def close(self) -> None:
        with self.lock:
            for tap in self.taps.values():
                self._close(tap)
            self.taps.clear()


def _server(sup: Coordinator) -> TapServer:
    server: TapServer | None = getattr(sup, "_tap_server", None)
    if server is None:
        server = TapServer(sup)
        sup._tap_server = server  # type: ignore[attr-defined]
    return server


def _output(sup: Coordinator, request: dict[str, Any], *, local: bool = True) -> tuple[str, str]:
    """``node`` and ``output`` of a request: ApiError naming what the node has. ``local``: the
    node must run here (a tap), else any node of the dataflow (``pub`` reaches the receivers
    here of an output sent on another machine)."""
    if local:
        spec = node_state(sup, request).spec
    else:
        state = sup.nodes.get(str(request.get("node")))
        if state is None:
            raise ApiError(no_node(sup._api_id(), str(request.get("node")), list(sup.nodes)))
        spec = state.spec
    output = str(request.get("output"))
    if output not in spec.outputs:
        outputs = ", ".join(spec.outputs) or "none"
        raise ApiError(f"node {spec.id!r} has no output {output!r} (outputs: {outputs})")
    return spec.id, output


@verb("tap")
def _tap(sup: Coordinator, request: dict[str, Any]) -> dict[str, Any]:
    node, output = _output(sup, request)
    state = sup.nodes[node]
    if output == state.spec.send_stdout_as:
        raise ApiError(f"{node}/{output} carries the node's output lines (send_stdout_as),"
                       " which the supervisor sends: it cannot be tapped")  # fmt: skip
    tap = _server(sup).hold(node, output, str(request.get("listener")))
    running = state.conn is not None
    if running and tap.told is not state.conn and state.tell(tap.receiver.record()):
        tap.told = state.conn
    # "failed" / "finished": ended for good (nothing restarts it); else it may still (re)start
    status = node_status(sup, state)
    return {"key": tap.key, "running": running, "status": status,
            "ended": status in ("failed", "finished"), "lease": LEASE, "renew": RENEW}  # fmt: skip


@verb("untap")
def _untap(sup: Coordinator, request: dict[str, Any]) -> dict[str, Any]:
    node, output = _output(sup, request)
    _server(sup).release(node, output, str(request.get("listener")))
    return {"ok": True}


@verb("topics")
def _topics(sup: Coordinator, request: dict[str, Any]) -> dict[str, Any]:
    server: TapServer | None = getattr(sup, "_tap_server", None)
    with server.lock if server is not None else contextlib.nullcontext():
        listeners = {
            where: len(t.listeners) for where, t in (server.taps if server else {}).items()
        }
    rows = []
    for node_id, state in sup.nodes.items():
        if not sup._api_is_local(node_id):
            continue
        spec = state.spec
        types = spec.raw.get("output_types") or {}
        for output in spec.outputs:
            subscribers = [
                {"node": receiver, "input": input_id,
                 "queue_size": sup.dataflow.node(receiver).input(input_id).queue_size}
                for receiver, input_id in sup.dataflow.subscribers(node_id, output)
            ]  # fmt: skip
            rows.append({"node": node_id, "output": output, "subscribers": subscribers,
                         "running": state.conn is not None,
                         "listeners": listeners.get((node_id, output), 0),
                         "type": types.get(output) if isinstance(types, dict) else None})  # fmt: skip
    return {"topics": rows, "nodes": [n for n in sup.nodes if sup._api_is_local(n)]}


@verb("pub")
def _pub(sup: Coordinator, request: dict[str, Any]) -> dict[str, Any]:
    node, output = _output(sup, request, local=False)
    try:
        body = base64.b64decode(str(request.get("data")), validate=True)
    except ValueError as err:
        raise ApiError(f"pub {node}/{output}: data is not base64: {err}") from None
    meta = wire.encode_metadata(request.get("metadata") or None)
    if len(body) + len(meta) > MAX_INLINE_RECORD:
        raise ApiError(f"pub {node}/{output}: {len(body)} bytes is more than topic pub sends"
                       f" ({MAX_INLINE_RECORD - len(meta)})")  # fmt: skip
    index = list(sup.nodes[node].spec.outputs).index(output)
    header = wire.HEADER.pack(
        wire.KIND_INLINE, wire.ENC_IPC, index, 0, len(meta), time.time_ns(), len(body)
    )
    receivers = sorted({r for r, _ in sup.dataflow.subscribers(node, output)})
    sent, missed = [], []
    for receiver in receivers:
        state = sup.nodes[receiver]
        if not sup._api_is_local(receiver):
            continue  # its own machine's supervisor sends to it
        if state.conn is None:
            missed.append(receiver)
            continue
        try:
            sock = connect(socket_name(sup.id, f"n/{receiver}"), node, timeout=1.0)
        except OSError:
            missed.append(receiver)
            continue
        with sock:
            try:
                sock.sendmsg([header, meta, body])
                sent.append(receiver)
            except OSError:
                missed.append(receiver)
    return {"sent": sent, "missed": missed}
