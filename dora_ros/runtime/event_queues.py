"""A node's events: the dicts dora-rs 1.1 gives (one constructor each), and the queues they wait in.

``Node`` (``node.py``) reads sockets and hands what it read to :class:`EventQueues`, which owns
everything about events: one bounded queue per input (oldest dropped and counted, as dora-rs's
``queue_size``), a queue of control events (STOP, NODE_FAILED, NODE_RESTARTED, external events),
the timers and ``input_timeout`` watches, and the order events come out in (the order they were
queued, across all queues: a sequence number per event).

Event dicts, as recorded from dora-rs 1.1 (``tests/runtime/dora_rs_reference.py``): INPUT {type,
id, kind, value, metadata}, INPUT_CLOSED / INPUT_RECOVERED {type, id, kind}, STOP {type, id, kind}
(id ``MANUAL`` or ``ALL_INPUTS_CLOSED``), NODE_FAILED {type, id, kind, value: {source_node_id,
error, affected_input_ids}}, NODE_RESTARTED {type, id, kind}, ERROR {type, kind, error}.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from . import wire

__all__ = [
    "EventQueues",
    "InputQueue",
    "input_closed",
    "input_event",
    "stop_event",
    "timeout_error",
]

_TIMER_VALUE = pa.nulls(0)


# --- the event dicts ----------------------------------------------------------------------------


def input_event(input_id: str, value: Any, metadata: dict[str, Any]) -> dict[str, Any]:
    return {"type": "INPUT", "id": input_id, "kind": "dora", "value": value, "metadata": metadata}


def input_closed(input_id: str) -> dict[str, Any]:
    return {"type": "INPUT_CLOSED", "id": input_id, "kind": "dora"}


def input_recovered(input_id: str) -> dict[str, Any]:
    return {"type": "INPUT_RECOVERED", "id": input_id, "kind": "dora"}


def stop_event(reason: str) -> dict[str, Any]:
    """``reason``: ``MANUAL`` (Ctrl-C, --stop-after, a stop from the coordinator) or
    ``ALL_INPUTS_CLOSED``."""
    return {"type": "STOP", "id": reason, "kind": "dora"}


def node_failed(sender: str, error: str, input_ids: list[str]) -> dict[str, Any]:
    value = {"source_node_id": sender, "error": error, "affected_input_ids": input_ids}
    return {"type": "NODE_FAILED", "id": sender, "kind": "dora", "value": value}


def node_restarted(node: str) -> dict[str, Any]:
    return {"type": "NODE_RESTARTED", "id": node, "kind": "dora"}


def param_update(key: str, value: Any) -> dict[str, Any]:
    """dora-rs 1.1's PARAM_UPDATE (`dora-ros param set`): the key as ``id``, the JSON value."""
    return {"type": "PARAM_UPDATE", "id": key, "kind": "dora", "value": value}


def param_deleted(key: str) -> dict[str, Any]:
    return {"type": "PARAM_DELETED", "id": key, "kind": "dora"}


def timeout_error() -> dict[str, Any]:
    """What ``next(timeout=t)`` returns when nothing came within ``t`` seconds."""
    return {
        "type": "ERROR",
        "kind": "dora",
        "error": "Timeout event stream error: Receiver timed out",
    }


# --- the queues -----------------------------------------------------------------------------------


class InputQueue:
    """One input of the node: its queue and what decides when it closes."""

    __slots__ = (
        "closed", "dropped", "id", "last", "log_sources", "queue", "queue_size", "received",
        "source_node", "timed_out", "timeout", "timer",
    )  # fmt: skip

    def __init__(self, spec: dict[str, Any]) -> None:
        self.id: str = spec["id"]
        self.source_node: str | None = spec["source_node"]
        self.timer: float | None = spec["timer"]
        self.queue_size: int = spec["queue_size"]
        # input_timeout (dora-rs's circuit breaker): INPUT_CLOSED after `timeout` s without
        # data, INPUT_RECOVERED when data comes again.
        self.timeout: float | None = spec.get("input_timeout")
        self.last = 0.0
        self.timed_out = False
        self.queue: deque[tuple[int, dict[str, Any]]] = deque()
        self.dropped = 0
        self.received = 0  # messages from its sender (for `stats`: `top`, `node info`)
        self.closed = False
        # A dora/logs input: the nodes whose records it takes and that still run (it closes
        # when the last of them ends, as a data input closes with its sender).
        self.log_sources: set[str] | None = None


class _Timer:
    __slots__ = ("due", "input", "interval")

    def __init__(self, inp: InputQueue) -> None:
        assert inp.timer is not None
        self.input = inp
        self.interval: float = inp.timer
        self.due = 0.0


class EventQueues:
    """The events waiting for one node, in the order they were queued."""

    def __init__(self, specs: Iterable[dict[str, Any]]) -> None:
        self.inputs = {spec["id"]: InputQueue(spec) for spec in specs}
        self.control: deque[tuple[int, dict[str, Any]]] = deque()
        self.seq = 0
        self.timers = [_Timer(inp) for inp in self.inputs.values() if inp.timer]
        self.watched = [inp for inp in self.inputs.values() if inp.timeout]
        self.stop_queued = False
        self.finished = False  # STOP was taken: nothing comes after it

    def start(self) -> None:
        """The dataflow started: timers tick at once (as dora-rs), timeouts count from now."""
        now = time.monotonic()
        for timer in self.timers:
            timer.due = now
        for inp in self.watched:
            inp.last = now

    def push(self, inp: InputQueue, event: dict[str, Any]) -> None:
        self.seq += 1
        inp.queue.append((self.seq, event))
        if len(inp.queue) > inp.queue_size:
            inp.queue.popleft()
            inp.dropped += 1

    def push_control(self, event: dict[str, Any]) -> None:
        self.seq += 1
        self.control.append((self.seq, event))

    def deliver(
        self, targets: tuple[InputQueue, ...], value: Any, metadata: dict[str, Any]
    ) -> None:
        """One received message for the inputs ``targets`` (the receive hot path)."""
        for target in targets:
            if self._arrived(target):
                md = metadata if len(targets) == 1 else dict(metadata)
                self.push(target, input_event(target.id, value, md))

    def deliver_record(self, targets: tuple[InputQueue, ...], record: bytes) -> None:
        """One received inline record (``wire.KIND_INLINE``) for ``targets``, decoded when it
        is taken (``pop``). A burst queued by the thousand then holds bytes, which the cyclic
        GC does not scan, not the dicts and arrays of its events: at 150,000 queued 8-byte
        messages those collections cost the receiver 0.6-2 us per message."""
        if record.__class__ is not bytes:
            record = bytes(record)
        for target in targets:
            if self._arrived(target):
                self.push(target, record)  # type: ignore[arg-type]

    def _arrived(self, target: InputQueue) -> bool:
        """Count a message for ``target`` (and its recovery from an input timeout), unless the
        input is closed: what both ``deliver`` kinds do before queueing."""
        if target.closed:
            return False
        target.received += 1
        if target.timeout:
            target.last = time.monotonic()
            if target.timed_out:
                target.timed_out = False
                self.push(target, input_recovered(target.id))
        return True

    def stop(self, reason: str) -> None:
        """Queue STOP once, whatever asks for it first."""
        if not self.stop_queued:
            self.stop_queued = True
            self.push_control(stop_event(reason))

    def _close(self, inp: InputQueue) -> None:
        inp.closed = True
        self.seq += 1
        inp.queue.append((self.seq, input_closed(inp.id)))  # never dropped for queue_size

    def sender_closed(self, sender: str, error: str | None) -> None:
        """Node ``sender`` ended (``error`` when it failed): close what it fed, as dora-rs 1.1."""
        closing = [i for i in self.inputs.values() if i.source_node == sender and not i.closed]
        for inp in closing:
            self._close(inp)
        if error is not None and closing:  # after the INPUT_CLOSED events
            self.push_control(node_failed(sender, error, [i.id for i in closing]))
        for inp in self.inputs.values():
            if inp.log_sources and sender in inp.log_sources and not inp.closed:
                inp.log_sources.discard(sender)
                if not inp.log_sources:  # every node it listens to has ended
                    self._close(inp)
                    closing.append(inp)
        if closing and all(i.closed for i in self.inputs.values()):
            self.stop("ALL_INPUTS_CLOSED")

    def source_restarted(self, node: str) -> None:
        if any(i.source_node == node for i in self.inputs.values()):
            self.push_control(node_restarted(node))

    def fire_timers(self) -> None:
        now = time.monotonic()
        for inp in self.watched:
            if not inp.timed_out and not inp.closed and now - inp.last >= inp.timeout:  # type: ignore[operator]
                inp.timed_out = True
                self.seq += 1
                inp.queue.append((self.seq, input_closed(inp.id)))
        if self.stop_queued:  # no tick after STOP (dora-rs's daemon stops its timers then)
            return
        for timer in self.timers:
            if now >= timer.due:
                # Every tick due since the last look is queued, as dora-rs's daemon sends them
                # while the node is busy (a node that sleeps 1.5 s on a 10 ms timer then drains
                # 10 ticks under dora-rs 1.1): only the newest `queue_size` are kept (the queue
                # drops the oldest), each stamped with when it was due.
                interval = timer.interval
                missed = int((now - timer.due) // interval) + 1
                inp = timer.input
                kept = min(missed, inp.queue_size)
                first = timer.due + (missed - kept) * interval
                timer.due += missed * interval
                wall = time.time_ns()
                inp.received += kept  # ticks never queued are not counted as dropped
                for k in range(kept):
                    ns = wall - int((now - (first + k * interval)) * 1e9)
                    metadata = wire.decode_metadata(b"", ns)
                    self.push(inp, input_event(inp.id, _TIMER_VALUE, metadata))

    def next_deadline(self) -> float | None:
        """When the next timer or input_timeout is due (``time.monotonic()``), or None."""
        deadlines = [] if self.stop_queued else [t.due for t in self.timers]
        deadlines += [
            i.last + i.timeout  # type: ignore[operator]
            for i in self.watched
            if not i.timed_out and not i.closed
        ]
        return min(deadlines) if deadlines else None

    def pop(self) -> dict[str, Any] | None:
        """The oldest event of all queues, or None."""
        best: deque[tuple[int, dict[str, Any]]] | None = None
        best_seq = 0
        best_input: InputQueue | None = None
        if self.control:
            best, best_seq = self.control, self.control[0][0]
        for inp in self.inputs.values():
            if inp.queue and (best is None or inp.queue[0][0] < best_seq):
                best, best_seq, best_input = inp.queue, inp.queue[0][0], inp
        if best is None:
            return None
        event = best.popleft()[1]
        if event.__class__ is bytes and best_input is not None:  # see deliver_record
            value, metadata = wire.decode_inline(event)
            return input_event(best_input.id, value, metadata)
        if event.get("type") == "STOP":  # external events have no type
            self.finished = True
        return event

    def has_events(self) -> bool:
        return bool(self.control) or any(i.queue for i in self.inputs.values())

    def dropped(self) -> dict[str, int]:
        """Messages each input dropped for its queue_size, for the end-of-run report."""
        return {i.id: i.dropped for i in self.inputs.values() if i.dropped}
