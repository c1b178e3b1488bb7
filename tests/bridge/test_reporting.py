"""`CountedLog` (reporting.py) and the YAML bridge's `WorkerPool` overflow: our own bookkeeping,
tested at unit level (no ROS involved)."""

from __future__ import annotations

import logging
import threading

import pytest

from dora_ros.bridge import reporting
from dora_ros.bridge.reporting import CountedLog
from dora_ros.bridge.worker_pool import WorkerPool


def test_a_repeated_message_is_logged_once_then_as_a_running_count(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [100.0]
    monkeypatch.setattr(reporting.time, "monotonic", lambda: clock[0])
    log = CountedLog(logging.getLogger("test.reporting"), "bridge node 'x'")
    with caplog.at_level(logging.WARNING, logger="test.reporting"):
        for _ in range(5):  # within REPEAT_INTERVAL of the first: counted, not logged
            log.warning("queue full", key="q")
        clock[0] += reporting.REPEAT_INTERVAL
        log.warning("queue full", key="q")  # due: 5 since the first line, 6 in all
        for _ in range(3):
            log.warning("queue full", key="q")
        clock[0] += reporting.REPEAT_INTERVAL
        assert log.warning("queue full", key="q") == 10
        log.error("other")
        lines = [r.getMessage() for r in caplog.records]
        assert lines == [
            "queue full",
            "queue full (repeated 5 times, 6 in all)",
            "queue full (repeated 4 times, 10 in all)",
            "other",
        ]
        assert log.count("q") == 10 and log.count("nothing") == 0
        assert log.summary() == ["10 x queue full", "1 x other"]
        caplog.clear()
        log.close()
    assert [r.getMessage() for r in caplog.records] == [
        "bridge node 'x': problems during this run:\n  10 x queue full\n  1 x other"
    ]


def test_distinct_messages_beyond_max_keys_count_as_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reporting, "MAX_KEYS", 3)
    log = CountedLog(logging.getLogger("test.reporting"), "owner")
    for n in range(10):
        log.error(f"problem {n}")
    # MAX_KEYS distinct messages, then one "other" entry for the rest: the table stays bounded.
    assert log.summary() == [
        "7 x owner: other problems (see earlier lines)",
        "1 x problem 0",
        "1 x problem 1",
        "1 x problem 2",
    ]


def test_nothing_logged_at_close_when_nothing_went_wrong(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="test.reporting"):
        CountedLog(logging.getLogger("test.reporting"), "owner").close()
    assert not caplog.records


def test_worker_pool_drops_the_oldest_waiting_job_beyond_64_and_counts_it() -> None:
    """One busy worker, 64 + 3 jobs waiting: the 3 oldest are dropped (given to on_drop, which
    the bridge counts in its CountedLog), the 64 newest run, in order."""
    log = CountedLog(logging.getLogger("test.reporting"), "owner")
    dropped: list[tuple[int, str]] = []

    def on_drop(what: int, reason: str) -> None:
        dropped.append((what, reason))
        log.error(f"call dropped: {reason}", key="dropped")

    ran: list[int] = []
    release = threading.Event()
    started = threading.Event()
    pool = WorkerPool("test", 1, 64, on_drop)

    def blocker(stop: threading.Event) -> None:
        started.set()
        release.wait(10)

    pool.submit(blocker, -1)
    assert started.wait(10)  # the only worker is busy from here on
    for n in range(67):
        pool.submit(lambda stop, n=n: ran.append(n), n)
    assert [what for what, _ in dropped] == [0, 1, 2]
    assert dropped[0][1] == "64 calls waiting for a free worker (of 1); the oldest dropped"
    assert log.count("dropped") == 3
    release.set()
    for _ in range(500):
        if len(ran) == 64:
            break
        threading.Event().wait(0.01)
    assert ran == list(range(3, 67))
    assert pool.close(5.0) == 0
    # After close, a job is refused (and reported) rather than run.
    pool.submit(lambda stop: ran.append(99), 99)
    assert dropped[-1] == (99, "the bridge is stopping") and 99 not in ran
