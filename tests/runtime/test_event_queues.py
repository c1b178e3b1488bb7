"""The node's event queues (event_queues.py): order and end of the events a node receives."""

from __future__ import annotations

import time

from dora_ros.runtime.event_queues import EventQueues


def _timer_queues(interval: float) -> EventQueues:
    spec = {"id": "tick", "source_node": None, "timer": interval, "queue_size": 10}
    queues = EventQueues([spec])
    queues.start()
    return queues


def test_no_timer_tick_after_stop() -> None:
    """dora-rs's daemon stops a node's timers at STOP: the node's next event after STOP is None.
    A tick due between STOP's arrival and its delivery came after STOP here (seen in CI, where
    test_compat's recorded run got a tick after STOP MANUAL)."""
    queues = _timer_queues(0.005)
    queues.fire_timers()
    assert queues.pop()["id"] == "tick"  # timers tick at once, as in dora-rs
    queues.stop("MANUAL")
    time.sleep(0.02)  # the timer is due again
    queues.fire_timers()
    assert queues.pop() == {"type": "STOP", "id": "MANUAL", "kind": "dora"}
    assert queues.finished
    assert not queues.has_events()
    assert queues.next_deadline() is None  # nothing left to wake up for


def test_ticks_queued_before_stop_come_before_it() -> None:
    queues = _timer_queues(0.005)
    queues.fire_timers()
    queues.stop("MANUAL")
    assert queues.pop()["id"] == "tick"
    assert queues.pop()["type"] == "STOP"
    assert queues.pop() is None


def _record(values: list[int], metadata: dict[str, object] | None, ts: int) -> bytes:
    """An inline data record as a sender writes it (node_loop.send_index)."""
    import pyarrow as pa

    from dora_ros.runtime import wire

    payload, _ = wire.encode_payload(pa.array(values, pa.int64()))
    meta = wire.encode_metadata(metadata)
    header = wire.HEADER.pack(
        wire.KIND_INLINE, payload.encoding, 0, payload.type_code, len(meta), ts, payload.length
    )
    return header + meta + bytes(payload.view)


def test_inline_records_are_decoded_when_taken_in_order_with_other_events() -> None:
    """Inline records wait as bytes (deliver_record) and come out as the INPUT event dora-rs
    gives, in queue order with control events, oldest dropped beyond queue_size, one event per
    input fed."""
    import gc

    specs = [
        {"id": "a", "source_node": "src", "timer": None, "queue_size": 2},
        {"id": "b", "source_node": "src", "timer": None, "queue_size": 10},
    ]
    queues = EventQueues(specs)
    a, b = queues.inputs["a"], queues.inputs["b"]
    ts = 1_700_000_000_123_456_000
    queues.deliver_record((a, b), _record([1], {"k": "x"}, ts))
    queues.push_control({"kind": "external", "n": 1})
    queues.deliver_record((a,), _record([2], None, ts))
    queues.deliver_record((a,), _record([3, 4], None, ts))  # a keeps 2: [1] is dropped
    assert all(not gc.is_tracked(record) for _, record in a.queue)  # bytes, nothing to scan
    events = [queues.pop() for _ in range(4)]
    assert queues.pop() is None
    assert [(e.get("type"), e.get("id")) for e in events] == [
        ("INPUT", "b"), (None, None), ("INPUT", "a"), ("INPUT", "a"),
    ]  # fmt: skip
    first_b = events[0]
    assert set(first_b) == {"type", "id", "kind", "value", "metadata"}
    assert first_b["value"].to_pylist() == [1] and first_b["metadata"]["k"] == "x"
    assert first_b["metadata"]["timestamp"].timestamp() == ts / 1e9
    assert [e["value"].to_pylist() for e in events if e.get("id") == "a"] == [[2], [3, 4]]
    assert a.dropped == 1 and a.received == 3 and b.received == 1
