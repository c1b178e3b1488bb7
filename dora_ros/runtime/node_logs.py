"""A node's log records, as dora-rs 1.1 has them: levels, filters, display and routing.

Every record a node makes (``node.log*``, Python ``logging``, dora-ros's own warnings) goes
through :class:`NodeLog`:

1. ``min_log_level`` (the node's YAML key) drops it at the source: not shown, not written, not
   routed (dora-rs filters in its daemon right after parsing; the effect is the same).
2. It is shown on the node's stderr, which ``dora-ros run`` prefixes and writes to the node's log
   file, as ``LEVEL target: message[ key=value...]`` (target: the logger's name, else the node
   id; LEVEL: ``TRACE``, ``DEBUG``, ``INFO``, ``WARNING``, ``ERROR``), when it passes the display level
   (``dora-ros run --log-level``, or ``DORA_LOG_LEVEL``; default ``stdout``: everything).
3. It is routed, as one JSON ``LogMessage`` string in a ``pa.StringArray`` (what dora-rs sends),
   on the node's ``send_logs_as`` output and to every other node with a matching
   ``dora/logs[/<level>[/<node>]]`` input. A node never gets its own records.

Levels, least to most severe: ``stdout`` (raw output lines), ``trace``, ``debug``, ``info``,
``warn``, ``error``. A filter at ``stdout`` passes everything; a ``stdout`` record passes only
that filter. What a node prints with ``print()`` is shown and written like any output, but is not
routed by the node: ``dora-ros run`` sends those lines to ``dora/logs`` inputs taking the
``stdout`` level, as ``STDOUT`` records (``stdout_record``).

Routing reuses the data path: a record of level rank ``r`` travels as "output" ``LOG_INDEX_BASE +
r`` of its node, and a receiver maps that index to the ``dora/logs`` inputs that accept the level,
so the receive path needs nothing new.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from .descriptor_sources import LOG_LEVELS, log_subscription

__all__ = [
    "LOG_INDEX_BASE", "LogRoutes", "NodeLog", "level_rank", "log_routes", "raw_output_hidden",
    "stdout_record", "stdout_record_route",
]  # fmt: skip

# Output indexes from here on carry log records (an output index is 16 bits on the wire; no graph
# has 65000 outputs on one node).
LOG_INDEX_BASE = 0xFF00
ENV_LOG_LEVEL = "DORA_LOG_LEVEL"
_RANK = {level: rank for rank, level in enumerate(LOG_LEVELS)}
_RANK["warning"] = _RANK["warn"]
_SHOWN_LEVEL = ("STDOUT", "TRACE", "DEBUG", "INFO", "WARNING", "ERROR")
# Records made on other threads wait here for the node's thread (the node API is not
# thread-safe); bounded, the oldest dropped and counted.
MAX_PENDING_RECORDS = 1000


def level_rank(level: str) -> int:
    """Rank of a level name (``stdout`` 0 ... ``error`` 5); ValueError for an unknown one."""
    try:
        return _RANK[str(level).lower()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r} (use {', '.join(LOG_LEVELS)})") from None


def raw_output_hidden() -> bool:
    """True when the display level (``DORA_LOG_LEVEL``) is above ``stdout``: lines nodes print
    on stdout are then kept off the terminal (``dora-ros run`` writes them to the log file)."""
    try:
        return level_rank(os.environ.get(ENV_LOG_LEVEL) or "stdout") > 0
    except ValueError:
        return False


def stdout_record_route(
    descriptor: Mapping[str, Any], node_raw: Mapping[str, Any], node_id: str
) -> tuple[int, list[str]] | None:
    """Where ``dora-ros run`` sends the lines node ``node_id`` prints, as ``stdout`` records:
    (output index, receivers), or None when no ``dora/logs`` input takes them (or its
    ``min_log_level`` drops them)."""
    if level_rank(node_raw.get("min_log_level") or "stdout") > 0:
        return None
    receivers = log_routes(descriptor, node_id).receivers.get(0)
    return (LOG_INDEX_BASE, list(receivers)) if receivers else None


def stdout_record(dataflow_id: str, node_id: str, line: str) -> str:
    """A line node ``node_id`` printed, as the JSON ``LogMessage`` of a ``stdout`` record."""
    return json.dumps(
        {
            "build_id": None,
            "dataflow_id": dataflow_id,
            "node_id": node_id,
            "daemon_id": None,
            "level": "STDOUT",
            "target": None,
            "module_path": None,
            "file": None,
            "line": None,
            "message": line,
            "timestamp": dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
            "fields": None,
        }
    )


def _python_rank(levelno: int) -> int:
    if levelno >= logging.ERROR:
        return _RANK["error"]
    if levelno >= logging.WARNING:
        return _RANK["warn"]
    if levelno >= logging.INFO:
        return _RANK["info"]
    if levelno >= logging.DEBUG:
        return _RANK["debug"]
    return _RANK["trace"]


class LogRoutes:
    """Where this node's records go and which records it receives, from the graph."""

    def __init__(self) -> None:
        # rank -> nodes with a dora/logs input that takes this node's records of that rank
        self.receivers: dict[int, tuple[str, ...]] = {}
        # sender -> LOG_INDEX_BASE + rank -> ids of this node's inputs that take them
        self.inbound: dict[str, dict[int, list[str]]] = {}

    @property
    def all_receivers(self) -> set[str]:
        return {r for rs in self.receivers.values() for r in rs}


def log_routes(descriptor: Mapping[str, Any], node_id: str) -> LogRoutes:
    """The ``dora/logs`` routes of ``node_id`` in a graph (its YAML as parsed)."""
    nodes = [n for n in descriptor.get("nodes") or () if isinstance(n, Mapping)]
    ids = [str(n.get("id")) for n in nodes]
    routes = LogRoutes()
    receivers: dict[int, set[str]] = {}
    for node in nodes:
        receiver = str(node.get("id"))
        inputs = node.get("inputs") or {}
        for input_id, value in inputs.items():
            source = value.get("source") if isinstance(value, Mapping) else value
            if not isinstance(source, str) or not source.startswith("dora/logs"):
                continue
            level, only = log_subscription(source)
            ranks = range(_RANK[level], len(LOG_LEVELS))
            if receiver == node_id:
                for sender in ids:
                    if sender != node_id and only in (None, sender):
                        by_index = routes.inbound.setdefault(sender, {})
                        for rank in ranks:
                            by_index.setdefault(LOG_INDEX_BASE + rank, []).append(str(input_id))
            elif only in (None, node_id):
                for rank in ranks:
                    receivers.setdefault(rank, set()).add(receiver)
    routes.receivers = {rank: tuple(sorted(rs)) for rank, rs in receivers.items()}
    return routes


class NodeLog:
    """The records of one node: filter, show, route (see the module docstring)."""

    def __init__(
        self,
        node_id: str,
        dataflow_id: str,
        node_raw: Mapping[str, Any],
        routes: LogRoutes,
        send: Callable[[int, str | None, tuple[str, ...], str], None],
    ) -> None:
        self.node_id = node_id
        self.dataflow_id = dataflow_id
        self.min_rank = level_rank(node_raw.get("min_log_level") or "stdout")
        display = os.environ.get(ENV_LOG_LEVEL) or "stdout"
        try:
            self.display_rank = level_rank(display)
        except ValueError:
            self.display_rank = 0
            sys.stderr.write(f"WARN dora-ros: {ENV_LOG_LEVEL}={display!r} is not a log level\n")
        self.send_logs_as: str | None = node_raw.get("send_logs_as")
        self.routes = routes
        self._send = send  # (rank, send_logs_as output, receivers, json) -> None
        self._owner = threading.get_ident()
        self._pending: deque[tuple[int, str]] = deque()
        self.pending_dropped = 0
        self._sending = False
        self.enabled = True  # False once the node is closed: records are only shown

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def emit(
        self,
        level: str | int,
        message: str,
        target: str | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        """One record, from any thread."""
        rank = level if isinstance(level, int) else level_rank(level)
        if rank < self.min_rank:
            return
        field_map = {str(k): str(v) for k, v in fields.items()} if fields else None
        if rank >= self.display_rank:
            # The format dora-ros nodes always had (Python logging's "LEVELNAME name: message"),
            # so tools and tests reading node logs keep working; the node id when no target.
            shown = f"{_SHOWN_LEVEL[rank]} {target or self.node_id}: {message}"
            if field_map:
                shown += " " + " ".join(f"{k}={v}" for k, v in field_map.items())
            try:
                sys.stderr.write(shown + "\n")
                sys.stderr.flush()
            except (OSError, ValueError):
                pass  # stderr closed: the record still goes to its subscribers
        if not self.enabled or (self.send_logs_as is None and rank not in self.routes.receivers):
            return
        record = json.dumps(
            {
                "build_id": None,
                "dataflow_id": self.dataflow_id,
                "node_id": self.node_id,
                "daemon_id": None,
                "level": LOG_LEVELS[rank].upper(),
                "target": target,
                "module_path": None,
                "file": None,
                "line": None,
                "message": message,
                "timestamp": dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
                "fields": field_map,
            }
        )
        self._pending.append((rank, record))
        if len(self._pending) > MAX_PENDING_RECORDS:
            self._pending.popleft()
            self.pending_dropped += 1
        if threading.get_ident() == self._owner:
            self.flush()

    def flush(self) -> None:
        """Send the records waiting (on the node's thread; a record made while sending waits)."""
        if self._sending or not self._pending:
            return
        self._sending = True
        try:
            while self._pending:
                rank, record = self._pending.popleft()
                self._send(rank, self.send_logs_as, self.routes.receivers.get(rank, ()), record)
        finally:
            self._sending = False


class LogHandler(logging.Handler):
    """Python ``logging`` into a node's records (as dora-rs's ``Node()`` bridges it)."""

    def __init__(self, log: NodeLog) -> None:
        super().__init__()
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            target = None if record.name == "root" else record.name
            if target == self.log.node_id:
                target = None  # dora-ros's own warnings about this node
            self.log.emit(_python_rank(record.levelno), message, target)
        except Exception:
            self.handleError(record)


def install_logging(log: NodeLog) -> None:
    """Route Python ``logging`` into the node's records (as dora-rs's ``Node()`` does).

    The root logger is left at INFO (library debug output stays quiet, as before) unless
    ``min_log_level`` or the display level ask for debug or trace.
    """
    root = logging.getLogger()
    if root.handlers:
        return
    root.addHandler(LogHandler(log))
    wanted = max(log.min_rank, log.display_rank)
    root.setLevel(logging.DEBUG if 0 < wanted <= level_rank("debug") else logging.INFO)
