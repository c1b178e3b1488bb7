"""Taps and node verbs on nodes that do not read events: a send-only node (a sensor driver's loop of
``send_output``) and a stopped one (SIGSTOP). The supervisor must never block on a node's control
socket, and a node that only sends must still take its control records (``NodeLoop.stats_if_due``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from live_run import GRAPH, LiveRun, live_run
from toolrun import DORA_ROS

from dora_ros.tools.dataflows import DataflowClient

# A sensor driver: sends forever, never asks for an event.
SEND_ONLY = """
import time
import pyarrow as pa
from dora import Node

node = Node()
count = 0
while True:
    count += 1
    node.send_output("count", pa.array([count]))
    time.sleep(0.01)
"""

SEND_ONLY_GRAPH = GRAPH.replace("    inputs:\n      tick: dora/timer/millis/20\n", "", 1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _dora_ros(run: LiveRun, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    port = str(_free_port())
    return subprocess.run(
        [DORA_ROS, *args, "--coordinator-port", port],
        env=run.env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def _pid(run: LiveRun, node: str) -> int:
    """The pid of `node` once it runs (registered: listening for its inputs). A node only
    spawned has a pid too: stopped then, it never listens (CI under load: every pub missed)."""
    deadline = time.monotonic() + 30
    while True:
        listed = _dora_ros(run, "node", "list", "--format", "json")
        assert listed.returncode == 0, listed.stderr
        for line in listed.stdout.splitlines():
            row = json.loads(line)
            if row["node"] == node and row.get("pid") and row.get("status") == "running":
                return int(row["pid"])
        assert time.monotonic() < deadline, f"{node} is not running: {listed.stdout}"
        time.sleep(0.2)


def test_echo_on_a_send_only_node_gets_values(tmp_path: Path) -> None:
    assert "tick" not in SEND_ONLY_GRAPH
    with live_run(tmp_path, graph=SEND_ONLY_GRAPH, talker=SEND_ONLY) as run:
        # before: the node never read its control socket, so the tap never reached it
        echoed = _dora_ros(run, "topic", "echo", "talker/count", "--count", "5", "--format",
                           "json", "--duration", "20")  # fmt: skip
        assert echoed.returncode == 0, echoed.stderr
        values = [json.loads(line)["value"][0] for line in echoed.stdout.splitlines()]
        assert len(values) == 5 and values == list(range(values[0], values[0] + 5)), values


def test_record_proxy_records_a_send_only_node(tmp_path: Path) -> None:
    import pyarrow as pa
    from mcap.reader import make_reader

    with live_run(tmp_path, graph=SEND_ONLY_GRAPH, talker=SEND_ONLY) as run:
        out = tmp_path / "proxy.mcap"
        recorded = _dora_ros(run, "record", "--proxy", "-o", str(out), "--topics",
                             "talker/count", "--stop-after", "3s")  # fmt: skip
        assert recorded.returncode == 0, recorded.stderr
    with open(out, "rb") as stream:
        values = [
            pa.ipc.open_stream(message.data).read_all().column("value").to_pylist()[0]
            for _, _, message in make_reader(stream).iter_messages(topics=["talker/count"])
        ]
    # before: nothing (the tap never reached the node); 100 Hz for about 3 s, none lost
    assert len(values) >= 20 and values == list(range(values[0], values[0] + len(values)))


def test_a_stopped_node_tapped_many_times_does_not_stall_the_supervisor(tmp_path: Path) -> None:
    with live_run(tmp_path, graph=SEND_ONLY_GRAPH, talker=SEND_ONLY) as run:
        pid = _pid(run, "talker")
        os.kill(pid, signal.SIGSTOP)  # it reads nothing from now on
        try:
            old = os.environ.get("XDG_RUNTIME_DIR")
            os.environ["XDG_RUNTIME_DIR"] = run.env["XDG_RUNTIME_DIR"]
            try:
                with DataflowClient.open(run.id, port=_free_port()) as client:
                    tap = {"node": "talker", "output": "count", "listener": "t3"}
                    # Lease renewals and parameter sets: before, each one a blocking send on
                    # the node's control socket, and after ~280 the supervisor hung for good.
                    for n in range(600):
                        assert client.query("tap", tap, node="talker", timeout=5)["running"]
                        client.query("param_set", {"node": "talker", "key": f"k{n % 50}",
                                                   "value": "x" * 2000}, node="talker", timeout=5)  # fmt: skip
                    stop = client.query("node_stop", {"node": "talker", "grace": 30},
                                        node="talker", timeout=5)  # fmt: skip
                    assert stop["action"] == "stop"
            finally:
                if old is None:
                    del os.environ["XDG_RUNTIME_DIR"]
                else:
                    os.environ["XDG_RUNTIME_DIR"] = old
            listed = _dora_ros(run, "node", "list", timeout=20)
            assert listed.returncode == 0 and "talker" in listed.stdout, listed.stderr
            started = time.monotonic()
            run.proc.send_signal(signal.SIGINT)
            run.proc.wait(timeout=20)  # Ctrl-C still works: the stopped node is killed
            assert time.monotonic() - started < 20
        finally:
            if run.proc.poll() is None:
                os.kill(pid, signal.SIGCONT)


# As fast as it can, paced to at most 15 kHz, on a 1 ms timer (it reads events: old code tapped
# it too); writes how many it sent by when (wall clock).
FAST = """
import time
import pyarrow as pa
from dora import Node

node = Node()
count = 0
start = time.time()
noted = start
with open("sent.txt", "w") as out:
    for event in node:
        if event["type"] != "INPUT":
            continue
        now = time.time()
        while count < (now - start) * 15_000:
            count += 1
            node.send_output("count", pa.array([count]))
        if now - noted >= 0.25:
            out.write(f"{now} {count}\\n")
            out.flush()
            noted = now
"""
FAST_GRAPH = GRAPH.replace("millis/20", "millis/1")


def test_hz_counts_the_rate_sent_not_what_reached_the_tap(tmp_path: Path) -> None:
    with live_run(tmp_path, graph=FAST_GRAPH, talker=FAST) as run:
        time.sleep(1)
        started = time.time()
        # the window holds the whole run: a sender stalled by the load here and catching up
        # averages out over the same span as the sender's own count below
        rate = _dora_ros(run, "topic", "hz", "talker/count", "--window", "30", "--duration",
                         "5", "--format", "json")  # fmt: skip
        ended = time.time()
        assert rate.returncode == 0, rate.stderr
        last = json.loads(rate.stdout.splitlines()[-1])
    notes = [tuple(map(float, line.split())) for line in (tmp_path / "sent.txt").open()]
    window = [(t, n) for t, n in notes if started + 1.5 <= t <= ended - 0.5]
    (t0, n0), (t1, n1) = window[0], window[-1]
    sent = (n1 - n0) / (t1 - t0)
    assert sent > 2000, f"the sender was too slow here for this test: {sent:.0f} msg/s"
    # before: the rate of what reached the tap (9,005 Hz of 15,000 sent in a run), now the sender's
    assert 0.85 * sent <= last["rate"] <= 1.15 * sent, (sent, last)
    assert last["rate_received"] <= last["rate"] and isinstance(last["window"], int), last


def test_pub_to_a_stopped_receiver_does_not_hold_up_the_supervisor(tmp_path: Path) -> None:
    import base64
    import threading

    import pyarrow as pa

    from dora_ros.runtime import wire

    data = base64.b64encode(wire.ipc_bytes(pa.array([1]))).decode()
    pub = {"node": "talker", "output": "count", "data": data}
    with live_run(tmp_path) as run:
        pid = _pid(run, "listener")
        os.kill(pid, signal.SIGSTOP)  # accepts no connection: its listen backlog fills
        old = os.environ.get("XDG_RUNTIME_DIR")
        os.environ["XDG_RUNTIME_DIR"] = run.env["XDG_RUNTIME_DIR"]
        try:
            with DataflowClient.open(run.id, port=_free_port()) as client:
                answers = [client.query("pub", pub, node="talker", timeout=10)
                           for _ in range(140)]  # fmt: skip
                # its listen backlog (128) took the first ones; connecting to a full one fails
                # at once (EAGAIN for a Unix socket with a timeout): missed, not waited for
                assert answers[0] == {"sent": ["listener"], "missed": []}, answers[0]
                assert answers[-1] == {"sent": [], "missed": ["listener"]}, answers[-1]
                busy = threading.Event()

                def publish() -> None:
                    while not busy.is_set():
                        with contextlib.suppress(Exception):  # only `nodes` is checked
                            client.query("pub", pub, node="talker", timeout=10)

                threads = [threading.Thread(target=publish) for _ in range(4)]
                for thread in threads:
                    thread.start()
                try:
                    time.sleep(1)
                    slowest = 0.0
                    for _ in range(10):
                        started = time.monotonic()
                        client.query("nodes", {}, node="talker", timeout=10)
                        slowest = max(slowest, time.monotonic() - started)
                finally:
                    busy.set()
                    for thread in threads:
                        thread.join()
                # the supervisor answers pub on its own thread: it must never wait there
                assert slowest < 0.5, slowest
        finally:
            os.kill(pid, signal.SIGCONT)
            if old is None:
                del os.environ["XDG_RUNTIME_DIR"]
            else:
                os.environ["XDG_RUNTIME_DIR"] = old
