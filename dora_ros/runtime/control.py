"""The control channel between ``dora-ros run`` (the coordinator) and each node.

One SOCK_SEQPACKET connection per node, one JSON object per record. Only lifecycle travels here
(register, init, start, ready, closed, stop, stats); data never does.

Node -> coordinator: ``register`` {node, pid, dynamic}, ``stats`` {dropped: {input: n},
send_dropped: {receiver: n}}.
Coordinator -> node: ``init`` (what the node needs to know, see ``Coordinator._init_message``),
``error`` {message}, ``start`` (every node is up), ``ready`` {node} (a late or restarted node is
listening), ``closed`` {node} (a node ended for good: its outputs are closed), ``stop``.
"""

from __future__ import annotations

import json
import os
import socket
from collections import deque
from typing import Any

# Environment variables the coordinator sets for the processes it starts.
ENV_DATAFLOW_ID = "DORA_ROS_DATAFLOW_ID"
ENV_NODE_ID = "DORA_ROS_NODE_ID"
ENV_RESTART_COUNT = "DORA_ROS_RESTART_COUNT"

RECORD_LIMIT = 4 * 1024 * 1024
# Records an `Outbox` keeps for a node that does not read them (beyond them, droppable records
# are dropped and counted; `stop` is always kept).
OUTBOX_LIMIT = 256


def encode(message: dict[str, Any]) -> bytes:
    data = json.dumps(message, separators=(",", ":"), default=str).encode()
    if len(data) > RECORD_LIMIT:
        raise ValueError(f"control record of {len(data)} bytes is too large")
    return data


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    data = encode(message)
    sock.sendall(data) if sock.type != socket.SOCK_SEQPACKET else sock.send(data)


class Outbox:
    """The coordinator's records for one node's control socket, sent without ever blocking.

    A node reads its control socket only when it calls into the node API; one that is stopped
    (SIGSTOP) or stuck fills the socket, and a blocking send would stall the coordinator for
    good (Ctrl-C included). Records that do not fit wait here, in order, and ``flush`` (from
    the coordinator's loop) retries them. At most ``OUTBOX_LIMIT`` wait: beyond that a record
    sent with ``keep=False`` is dropped and counted in ``dropped``; ``stop`` (``keep=True``)
    is always kept (the escalation to signals ends a node that never reads it).
    """

    def __init__(self, sock: socket.socket, limit: int = OUTBOX_LIMIT) -> None:
        self.sock = sock
        self.limit = limit
        self.pending: deque[bytes] = deque()
        self.dropped = 0

    def send(self, message: dict[str, Any], *, keep: bool = False) -> bool:
        """Send or queue ``message``; False if it was dropped. OSError: the node is gone."""
        data = encode(message)
        if not self.pending and self._try(data):
            return True
        if len(self.pending) >= self.limit and not keep:
            self.dropped += 1
            return False
        self.pending.append(data)
        return True

    def flush(self) -> bool:
        """Send what waits, as far as the socket takes it; True while records still wait."""
        while self.pending:
            try:
                if not self._try(self.pending[0]):
                    return True
            except OSError:
                self.pending.clear()  # the node is gone: its records with it
                return False
            self.pending.popleft()
        return False

    def _try(self, data: bytes) -> bool:
        try:
            self.sock.send(data, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        return True


def recv(sock: socket.socket) -> dict[str, Any] | None:
    """One record, or None once the other side closed the connection."""
    try:
        data = sock.recv(RECORD_LIMIT)
    except ConnectionResetError:
        # The peer closed with records of ours unread. The kernel reports that once and then
        # still hands out what the peer sent before closing (e.g. a node's last `stats`).
        try:
            data = sock.recv(RECORD_LIMIT)
        except (ConnectionResetError, BrokenPipeError):
            return None
    except BrokenPipeError:
        return None
    if not data:
        return None
    message: dict[str, Any] = json.loads(data)
    return message


def new_socket() -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, RECORD_LIMIT + 65536)
        except OSError:
            pass
    return sock


def running_dataflows() -> list[str]:
    """Ids of the dataflows of this user whose coordinator is listening (for dynamic nodes)."""
    prefix = f"@dora-ros/{os.getuid()}/"
    found = []
    try:
        with open("/proc/net/unix") as table:
            for line in table:
                path = line.rsplit(None, 1)[-1] if line.count(" ") >= 7 else ""
                if path.startswith(prefix) and path.endswith("/ctl"):
                    found.append(path[len(prefix) : -len("/ctl")])
    except OSError:
        pass
    return sorted(set(found))
