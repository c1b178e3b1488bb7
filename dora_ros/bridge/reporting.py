"""Counted log lines: a problem that repeats is logged once, then as a running count.

A robot that runs for hours meets the same problem many times (a queue overflowing at 1 kHz, a
peer sending malformed samples, a service that is down). One line per occurrence buries
everything else in the log; one line per occurrence that is never logged hides it. So each
distinct message (its `key`) is logged the first time it happens, and again at most every
`REPEAT_INTERVAL` seconds as `<message> (repeated 140 times)`; `summary()` gives the totals for
the end of a run, and `CountedLog.close()` logs them.

One `CountedLog` per owner (a bridge node, a backend): its counts are what that owner reports.
"""

from __future__ import annotations

import logging
import threading
import time

__all__ = ["REPEAT_INTERVAL", "CountedLog"]

#: Seconds between two lines of the same repeated message.
REPEAT_INTERVAL = 10.0
#: Distinct messages counted per owner; beyond, new ones are counted under one "other" key, so a
#: message that embeds an ever-changing value cannot grow the table without bound.
MAX_KEYS = 256
_OTHER = "other messages"


class _Count:
    __slots__ = ("level", "logged", "message", "since_logged", "total")

    def __init__(self, level: int, message: str) -> None:
        self.level = level
        self.message = message
        self.total = 0
        self.since_logged = 0
        self.logged = 0.0


class CountedLog:
    """Logs each distinct problem once, then its running count (thread-safe).

    Args:
        logger: where the lines go.
        owner: who reports them (`bridge node 'camera'`), used in the summary.
    """

    def __init__(self, logger: logging.Logger, owner: str) -> None:
        self.logger = logger
        self.owner = owner
        self._counts: dict[str, _Count] = {}
        self._lock = threading.Lock()

    def report(self, level: int, message: str, key: str | None = None) -> int:
        """Count one occurrence of `message` (grouped by `key`, default the message itself) and
        log it if it is the first, or the first for `REPEAT_INTERVAL` s; the running total."""
        key = message if key is None else key
        now = time.monotonic()
        with self._lock:
            entry = self._counts.get(key)
            if entry is None:
                if len(self._counts) >= MAX_KEYS:
                    key, message = _OTHER, f"{self.owner}: other problems (see earlier lines)"
                    entry = self._counts.get(key)
                if entry is None:
                    entry = self._counts[key] = _Count(level, message)
            entry.total += 1
            entry.since_logged += 1
            first = entry.total == 1
            due = first or now - entry.logged >= REPEAT_INTERVAL
            if due:
                repeated, entry.since_logged, entry.logged = entry.since_logged, 0, now
            total = entry.total
        if due:
            if first:
                self.logger.log(level, "%s", message)
            else:
                self.logger.log(
                    level, "%s (repeated %d times, %d in all)", message, repeated, total
                )
        return total

    def error(self, message: str, key: str | None = None) -> int:
        return self.report(logging.ERROR, message, key)

    def warning(self, message: str, key: str | None = None) -> int:
        return self.report(logging.WARNING, message, key)

    def count(self, key: str) -> int:
        """How many times `key` was reported."""
        with self._lock:
            entry = self._counts.get(key)
            return 0 if entry is None else entry.total

    def summary(self) -> list[str]:
        """One line per distinct problem with its total, most frequent first."""
        with self._lock:
            entries = sorted(self._counts.values(), key=lambda e: -e.total)
            return [f"{e.total} x {e.message}" for e in entries]

    def close(self) -> None:
        """Log the summary (nothing if nothing went wrong)."""
        lines = self.summary()
        if lines:
            self.logger.warning(
                "%s: problems during this run:\n  %s", self.owner, "\n  ".join(lines)
            )
