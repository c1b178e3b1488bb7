"""The queues between DDS and the bridge (`ready_queue.py`): bounded, never failing, closable.

The burst test uses a real rclpy publisher in its own process; the others drive a `ReadyQueue`
from real threads.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time

import pytest
from ros_peers import name, peer, poll

from dora_ros.bridge import Ros2Context, Ros2NodeOptions, Ros2QosPolicies
from dora_ros.bridge.ready_queue import ReadyQueue

DOMAIN = 86


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_keep_all_burst_of_100000_messages_arrives_whole() -> None:
    """Old code: a pipe byte per waiting sample; the 65,536th failed (BlockingIOError) in the
    executor's callback, and every sample after it was lost with a traceback each.

    Why this takes about a minute (measured: 58 s from the first sample to the last, on the
    shared 2-core test VM; the queue and the drain take under 0.1 s): what failed was the DDS
    callback path itself (rclpy's executor thread calling the reader's callback, which puts into
    the queue), so every sample has to travel it, and more than 65,536 of them must wait at
    once. That path runs one executor round in Python per sample (~0.5 ms under load), and a
    reliable keep_all writer cannot outrun its reader. Putting 100,000 items into a ReadyQueue
    directly would take 0.1 s but would leave out the callback where the samples were lost; a
    smaller burst would not reach the old limit. The test's own waits are bounded (240 s, 120 s).
    """
    count = 100_000
    topic = name("/burst")
    with Ros2Context(domain_id=DOMAIN) as context:
        node = context.new_node("burst_listener", "/", Ros2NodeOptions())
        sub = node.create_subscription(
            node.create_topic(topic, "std_msgs/Int32", Ros2QosPolicies(keep_all=True))
        )
        select.select([sub], [], [], 0)  # the eventfd exists: it is kept in step with the queue
        reader = sub._reader
        with peer("burst_peer.py", {"topic": topic, "count": count}, DOMAIN) as running:
            running.wait(lambda e: e.get("event") == "sent", 240)
            poll(lambda: len(reader._queue) >= count, 120, interval=0.1)
        # Nothing was taken during the burst: every sample waited in the queue at once.
        assert len(reader._queue) == count and reader._queue.dropped == 0
        assert select.select([sub], [], [], 0)[0] == [sub]
        first = sub.next()
        assert first[0].as_py() == {"data": 0}
        for _ in range(count - 2):
            assert reader.take(0.0) is not None
        assert sub.next()[0].as_py() == {"data": count - 1}
        assert sub.next() is None
        assert select.select([sub], [], [], 0)[0] == []  # empty: not readable


def test_full_queue_drops_the_oldest_and_reports_once(caplog: pytest.LogCaptureFixture) -> None:
    queue: ReadyQueue[int] = ReadyQueue(3, "topic /x")
    with caplog.at_level(logging.WARNING):
        for i in range(10):
            queue.put(i)
    assert [queue.take(0.0) for _ in range(4)] == [7, 8, 9, None]
    assert queue.dropped == 7
    assert caplog.text.count("topic /x: 3 items waiting, the oldest dropped") == 1
    queue.close()


def test_close_wakes_a_blocked_take_and_never_selects_on_its_fd() -> None:
    """Old code: take() selected on the pipe outside the lock; close() closed it meanwhile, so
    the select ran on a closed (or already reused) descriptor."""
    for _ in range(50):
        queue: ReadyQueue[int] = ReadyQueue(10, "q")
        queue.fileno()
        results: list[object] = []
        thread = threading.Thread(target=lambda q=queue, r=results: r.append(q.take(None)))
        thread.start()
        time.sleep(0.002)
        started = time.monotonic()
        queue.close()
        thread.join(2)
        assert not thread.is_alive() and results == [None]
        assert time.monotonic() - started < 1
        with pytest.raises(ValueError, match="closed"):
            queue.fileno()


def test_queues_nobody_selects_on_hold_no_descriptor() -> None:
    before = _fds()
    queues = [ReadyQueue[bytes](10, "feedback") for _ in range(200)]
    for queue in queues:
        queue.put(b"x")
    assert _fds() == before
    readable = queues[0].fileno()  # made on demand, readable at once (one item waiting)
    assert select.select([readable], [], [], 0)[0] == [readable]
    assert queues[0].take(0.0) == b"x"
    assert select.select([readable], [], [], 0)[0] == []
    for queue in queues:
        queue.close()
    assert _fds() == before
