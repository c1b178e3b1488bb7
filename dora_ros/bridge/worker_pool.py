"""`WorkerPool`: the YAML bridge's bounded pool for blocking ROS calls (service calls, goals).

A service call or a goal blocks until the ROS side answers, so the bridge runs each on a worker
thread, not on its event loop. Bounded by construction: at most `size` threads, made as needed,
and at most `waiting` jobs queued for them; a job arriving when that many wait pushes out the
*oldest* waiting one (fresh data wins, the bridge's one overflow rule), which is handed to
`on_drop` so the dora node hears of it. `close()` sets the stop event every job is given (jobs
look at it while they wait) and joins the threads within a budget: a bridge stops within the
supervisor's grace period after STOP.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Job", "WorkerPool"]

#: A job: called as `job(stop)`, where `stop` is set when the bridge is stopping.
Job = Callable[[threading.Event], None]


class WorkerPool:
    """At most `size` worker threads running jobs from a queue of at most `waiting`.

    Args:
        name: names the threads (`<name>-1`, ...).
        size: most threads at once.
        waiting: most jobs queued; beyond, the oldest is dropped (given to `on_drop`).
        on_drop: called with the `what` of each dropped or abandoned job.
        stop: the stop event, when shared with another pool (one STOP for both).
    """

    def __init__(
        self,
        name: str,
        size: int,
        waiting: int,
        on_drop: Callable[[Any, str], None],
        stop: threading.Event | None = None,
    ) -> None:
        self.name = name
        self.size = size
        self.waiting = waiting
        self.stop = threading.Event() if stop is None else stop
        self._on_drop = on_drop
        self._jobs: collections.deque[tuple[Job, Any]] = collections.deque()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._idle = 0

    def submit(self, job: Job, what: Any) -> None:
        """Queue `job` (`what` describes it to `on_drop`); a thread runs it as soon as one is free."""
        dropped = None
        with self._cond:
            if self.stop.is_set():
                dropped = what
            else:
                if len(self._jobs) >= self.waiting:
                    dropped = self._jobs.popleft()[1]
                self._jobs.append((job, what))
                if self._idle:
                    self._cond.notify()
                elif len(self._threads) < self.size:
                    thread = threading.Thread(
                        target=self._work, name=f"{self.name}-{len(self._threads) + 1}", daemon=True
                    )
                    self._threads.append(thread)
                    thread.start()
        if dropped is not None:
            self._on_drop(
                dropped,
                f"{self.waiting} calls waiting for a free worker (of {self.size}); the oldest dropped"
                if not self.stop.is_set()
                else "the bridge is stopping",
            )

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self.stop.is_set():
                    self._idle += 1
                    self._cond.wait()
                    self._idle -= 1
                if self.stop.is_set():
                    return
                job, _what = self._jobs.popleft()
            job(self.stop)

    def busy(self) -> int:
        """Jobs queued or running (approximate: for tests and reports)."""
        with self._cond:
            return len(self._jobs) + len(self._threads) - self._idle

    def close(self, budget: float) -> int:
        """Stop: abandon queued jobs (each given to `on_drop`), tell running ones through `stop`,
        and wait up to `budget` s for the threads; how many threads were still running then."""
        with self._cond:
            self.stop.set()
            abandoned = [what for _job, what in self._jobs]
            self._jobs.clear()
            self._cond.notify_all()
        for what in abandoned:
            self._on_drop(what, "the bridge is stopping")
        deadline = time.monotonic() + budget
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return sum(thread.is_alive() for thread in self._threads)
