"""`ReadyQueue`: the bounded FIFO between a DDS library's thread and the bridge's.

Every queue of the bridge is one of these: a topic reader's samples, a service server's requests,
an action server's goals and cancel requests, an action client's feedback per goal, the YAML
bridge's results of its workers. One rule for all of them: a queue holds at most `depth` items
(a topic's QoS depth; `KEEP_ALL_DEPTH` for keep_all) and, when full, drops the *oldest* item for
the new one (fresh data wins on a robot), counting the drop in `dropped` and reporting it through
a `CountedLog` (first drop, then a running count).

Waiting: `take(timeout)` waits on a condition variable, never on the file descriptor, so a
`close()` from another thread wakes it at once and it can never select() on a closed (or
reused) descriptor. `fileno()` is for *other* waiters (`Node.merge_external_events`, select()):
an `eventfd` that is readable while the queue is not empty. It is made on the first `fileno()`
call, so queues nobody selects on (a goal's feedback) hold no descriptor. An eventfd is a 64-bit
counter, which cannot fill the way a pipe's 64 KiB did (one byte per sample: the 65,536th
waiting sample failed with BlockingIOError inside the DDS callback); here it is only ever 0
(empty) or 1 (not empty), kept so under the queue's lock.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from .reporting import CountedLog

__all__ = ["KEEP_ALL_DEPTH", "ReadyQueue"]

log = logging.getLogger("dora_ros.bridge")

#: The bound of a keep_all queue: keep_all asks DDS to keep every sample, and so do we, up to
#: this many waiting (about 1 s of a 1 MHz stream); beyond, the oldest are dropped and counted.
KEEP_ALL_DEPTH = 1 << 20

_T = TypeVar("_T")


class ReadyQueue(Generic[_T]):
    """A bounded, thread-safe FIFO; drops the oldest item when full (see the module docstring).

    Args:
        depth: most items held at once (at least 1).
        what: what the items are, for the drop report (`topic /scan`, `service /add requests`).
        report: where drops are counted and logged; a private `CountedLog` if None.
        on_drop: called (outside the lock) with each dropped item, for items that need an answer
            (a goal nobody will see is aborted).
    """

    def __init__(
        self,
        depth: int,
        what: str = "queue",
        report: CountedLog | None = None,
        on_drop: Callable[[_T], object] | None = None,
    ) -> None:
        if depth < 1:
            raise ValueError(f"{what}: queue depth {depth} is not at least 1")
        self.depth = depth
        self.what = what
        self.dropped = 0  # items dropped because the queue was full
        self._report = report if report is not None else CountedLog(log, what)
        self._on_drop = on_drop
        self._items: collections.deque[_T] = collections.deque()
        self._cond = threading.Condition(threading.Lock())
        self._fd = -1
        self._closed = False

    def fileno(self) -> int:
        """An eventfd readable while the queue is not empty (made on the first call)."""
        with self._cond:
            if self._closed:
                raise ValueError(f"{self.what}: queue is closed")
            if self._fd < 0:
                self._fd = os.eventfd(1 if self._items else 0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            return self._fd

    def put(self, item: _T) -> None:
        """Append `item`; when full, drop the oldest first (counted and reported)."""
        dropped: list[_T] = []
        with self._cond:
            if self._closed:
                return
            if len(self._items) >= self.depth:
                dropped.append(self._items.popleft())
                self.dropped += 1
            elif not self._items and self._fd >= 0:
                os.eventfd_write(self._fd, 1)
            self._items.append(item)
            self._cond.notify()
        if dropped:
            self._report.warning(
                f"{self.what}: {self.depth} items waiting, the oldest dropped",
                key=f"drop:{self.what}",
            )
            if self._on_drop is not None:
                self._on_drop(dropped[0])

    def take(self, timeout: float | None = 0.0) -> _T | None:
        """The oldest item, waiting up to `timeout` s (None = until one comes or `close()`)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._items:
                if self._closed:
                    return None
                if deadline is None:
                    self._cond.wait()
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            item = self._items.popleft()
            if not self._items and self._fd >= 0:
                try:
                    os.eventfd_read(self._fd)  # back to 0: not readable
                except BlockingIOError:  # pragma: no cover - kept at 1 while not empty
                    pass
            return item

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Drop what is queued, wake every waiting `take`, release the descriptor (idempotent)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._items.clear()
            fd, self._fd = self._fd, -1
            self._cond.notify_all()
        if fd >= 0:
            os.close(fd)
