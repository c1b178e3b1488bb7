"""Input sources of a dataflow, read as dora-rs reads them: ``node/output`` or a built-in timer.

A source is split at its first ``/``: ``camera/image`` is output ``image`` of node ``camera``.
Node ``dora`` is reserved for built-ins: ``dora/timer/<unit>/<value>`` ticks every value units
(``secs``, ``millis``, ``micros``, ``nanos``: positive integers) or ``value`` times a second
(``hz``: a positive number). ``dora/logs``, ``dora/logs/<level>`` and ``dora/logs/<level>/<node>``
subscribe to other nodes' log records (see ``node_logs``). Errors are ``ValueError`` with the
message the descriptor shows after the input's name.
"""

from __future__ import annotations

import difflib
import math
import re

__all__ = ["LOG_LEVELS", "TIMER_UNITS", "log_subscription", "split_source", "timer_interval"]

TIMER_UNITS: dict[str, float] = {"secs": 1.0, "millis": 1e-3, "micros": 1e-6, "nanos": 1e-9}
# Log levels of dora-rs 1.1, least to most severe ("stdout": raw output lines).
LOG_LEVELS = ("stdout", "trace", "debug", "info", "warn", "error")
_INTEGER = re.compile(r"^[0-9]+$")


def split_source(source: str) -> tuple[str, str]:
    """``(node, output)`` of ``source``; ValueError when it is not ``<node>/<output>``."""
    node, sep, output = source.partition("/")
    if not sep or not node or not output:
        raise ValueError(
            f"source '{source}' must read '<node>/<output>' or 'dora/timer/<unit>/<value>'"
        )
    return node, output


def timer_interval(source: str) -> float:
    """Seconds between ticks of the built-in source ``dora/...``; ValueError when malformed."""
    _, _, rest = source.partition("/")
    head, _, spec = rest.partition("/")
    if head != "timer":
        raise ValueError(
            f"unknown dora input '{source}' (dora inputs are"
            " dora/timer/secs|millis|micros|nanos|hz/<value> and dora/logs[/<level>[/<node>]])"
        )
    unit, slash, number = spec.partition("/")
    if not slash or not number:
        raise ValueError(
            f"timer '{source}' must give a unit and a value "
            "(e.g. dora/timer/millis/100, dora/timer/secs/5, dora/timer/hz/30)"
        )
    if unit == "hz":
        try:
            hz = float(number)
        except ValueError:
            hz = math.nan
        if not (hz > 0 and math.isfinite(hz)):
            raise ValueError(f"timer '{source}': hz must be a positive number")
        return 1.0 / hz
    if unit not in TIMER_UNITS:
        match = difflib.get_close_matches(unit, [*TIMER_UNITS, "hz"], n=1)
        hint = f" (did you mean '{match[0]}'?)" if match else ""
        raise ValueError(
            f"timer '{source}': unknown unit '{unit}' (use secs, millis, micros, nanos or hz){hint}"
        )
    if not _INTEGER.match(number) or int(number) == 0:
        raise ValueError(f"timer '{source}': {unit} must be a positive integer")
    return int(number) * TIMER_UNITS[unit]


def log_subscription(source: str) -> tuple[str, str | None]:
    """``(level, node or None)`` of ``dora/logs[/<level>[/<node>]]``; ValueError when malformed."""
    parts = source.split("/")
    if parts[:2] != ["dora", "logs"] or len(parts) > 4 or "" in parts:
        raise ValueError(
            f"log input '{source}' must read dora/logs, dora/logs/<level> or"
            " dora/logs/<level>/<node>"
        )
    level = parts[2] if len(parts) > 2 else "stdout"
    if level not in LOG_LEVELS:
        match = difflib.get_close_matches(level, LOG_LEVELS, n=1)
        hint = f" (did you mean '{match[0]}'?)" if match else ""
        raise ValueError(
            f"log input '{source}': unknown level '{level}' (use {', '.join(LOG_LEVELS)}){hint}"
        )
    return level, parts[3] if len(parts) > 3 else None
