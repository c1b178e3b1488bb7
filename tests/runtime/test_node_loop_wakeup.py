"""A node never sleeps on events it has already queued.

Regression (issue 12 review): `NodeLoop.pump` looks at the control socket every CONTROL_PERIOD
before it waits (`stats_if_due`). When that look took `closed` (or `stop`), INPUT_CLOSED and STOP
were queued and pump then slept in epoll anyway: nothing else ever came, so a listener of a
`send_stdout_as` output never ended (1 run in ~100 of tests/runtime/test_stdout_lines.py's graph,
6-8 runs at a time on 2 loaded cores). Real sockets, the node's own loop, no coordinator needed.
"""

from __future__ import annotations

import socket
import time

from dora_ros.runtime import control
from dora_ros.runtime.node_loop import NodeLoop


def _loop(ctl: socket.socket, listener: socket.socket) -> NodeLoop:
    init = {
        "descriptor": {"nodes": [{"id": "listener"}, {"id": "talker"}]},
        "inputs": [{"id": "lines", "source_node": "talker", "timer": None, "queue_size": 10}],
        "inbound": {"talker": {"0": ["lines"]}},
        "outputs": [],
        "routes": {},
        "receiver_limits": {},
        "ready": [],
    }
    return NodeLoop(ctl, listener, "listener", "test-dataflow", init, [])


def test_pump_does_not_sleep_on_a_closed_record_it_just_took() -> None:
    ours, coordinator = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind("")  # an autobound abstract address: nobody connects
    listener.listen(1)
    listener.setblocking(False)
    try:
        loop = _loop(ours, listener)
        loop.started = True
        loop._stats_due = time.monotonic() + 60  # no stats record in the way
        control.send(coordinator, {"op": "closed", "node": "talker"})
        started = time.monotonic()
        loop.pump(3.0)  # the control look is due: it takes `closed` before waiting
        waited = time.monotonic() - started
        events = [loop.events.pop(), loop.events.pop()]
        assert [(e or {}).get("type") for e in events] == ["INPUT_CLOSED", "STOP"]
        assert waited < 1.0, f"pump slept {waited:.1f} s with INPUT_CLOSED and STOP queued"
    finally:
        ours.close()
        coordinator.close()
        listener.close()
