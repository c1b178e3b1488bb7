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
