"""Taps (runtime/tap.py) without the CLI: a real supervisor, real nodes, a tap receiver attached.

The harness below runs the same `Coordinator` as `dora-ros run` in its own process and, from a
thread, attaches a `TapReceiver` to `sender/data` whose consumer is slow on purpose. The real edge
sender -> receiver runs in lockstep (bursts of `queue_size` messages, then an ack), so it can
lose nothing; the tap must then lose what it cannot take at the sender, counted, never make the
sender wait, and account for every message (received + dropped at the sender = sent).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from runflow import STARTED, Flow, write_flow

TOTAL = 600
BURST = 10

GRAPH = f"""
nodes:
  - id: sender
    path: sender.py
    inputs:
      ack: {{source: receiver/ack, queue_size: 100}}
    outputs: [data]
  - id: receiver
    path: receiver.py
    inputs:
      data: {{source: sender/data, queue_size: {BURST}}}
    outputs: [ack]
"""

SENDER = f"""
import time
import pyarrow as pa
from dora_ros import Node
from _rec import record

node = Node()
deadline = time.monotonic() + 20
while not node._taps and time.monotonic() < deadline:  # wait for the harness's tap
    node.next(timeout=0.05)
tapped_at_start = bool(node._taps)
big = pa.array(bytes(65536))  # shared memory (64 KiB)
sent = 0
max_regions = 0
while sent < {TOTAL}:
    for _ in range({BURST}):
        value = big if sent % 2 else pa.array([sent], pa.int64())
        node.send_output("data", value, {{"i": sent}})
        sent += 1
        max_regions = max(max_regions, node._pool.region_count)
    while True:  # lockstep: the real edge can lose nothing
        event = node.next(timeout=10)
        if event is None or event["type"] != "INPUT" or event["value"][0].as_py() >= sent - 1:
            break
# Keep reading events until the harness closed the tap (the drop count goes out meanwhile).
deadline = time.monotonic() + 20
while node._taps and time.monotonic() < deadline:
    node.next(timeout=0.05)
record("sender", {{"tapped_at_start": tapped_at_start, "sent": sent,
                   "tapped_at_end": bool(node._taps), "max_regions": max_regions}})
"""

RECEIVER = """
import pyarrow as pa
from dora_ros import Node
from _rec import record

node = Node()
seen = []
for event in node:
    if event["type"] == "INPUT":
        i = event["metadata"]["i"]
        seen.append(i)
        if i % 10 == 9:
            node.send_output("ack", pa.array([i], pa.int64()))
record("receiver", seen)
"""

HARNESS = """
import json, sys, threading, time
from pathlib import Path
from dora_ros.runtime import control
from dora_ros.runtime.descriptor import load_dataflow
from dora_ros.runtime.supervisor import Coordinator
from dora_ros.runtime.tap import TapReceiver

total = int(sys.argv[2])
coordinator = Coordinator(load_dataflow(Path(sys.argv[1])), out_dir=None, name=None,
                          stop_after=None)
seen = []
shared = []  # for 64 KiB values: the mapping their data lies in

def mapping_of(address):
    with open("/proc/self/maps") as maps:
        for line in maps:
            span, *rest = line.split()
            start, end = (int(x, 16) for x in span.split("-"))
            if start <= address < end:
                return rest[4] if len(rest) >= 5 else ""
    return None

def slow(message):
    seen.append((message.seq, message.metadata.decode(), len(message.value)))
    if len(message.value) == 65536 and len(shared) < 20:
        shared.append(mapping_of(message.value.buffers()[1].address))
    time.sleep(0.005)

def tapper():
    state = coordinator.nodes["sender"]
    while not (coordinator.started and state.conn is not None):
        time.sleep(0.01)
    receiver = TapReceiver(coordinator.id, "t1", "sender", "data", slow)
    control.send(state.conn, receiver.record())
    deadline = time.monotonic() + 60
    while receiver.received + receiver.dropped_at_sender < total and time.monotonic() < deadline:
        time.sleep(0.05)
    receiver.close()
    Path("tap.json").write_text(json.dumps({
        "received": receiver.received, "dropped_at_sender": receiver.dropped_at_sender,
        "seqs": [s for s, _, _ in seen], "first": seen[0] if seen else None, "shared": shared,
    }))

threading.Thread(target=tapper, daemon=True).start()
sys.exit(coordinator.run())
"""


def _dora_shm() -> set[str]:
    # dora's own entries only: Fast DDS files come and go with other tests running beside this
    # one (a tap never opens DDS)
    return {n for n in os.listdir("/dev/shm") if "dora" in n}


def _run_harness(flow: Flow) -> subprocess.CompletedProcess[str]:
    (flow.dir / "harness.py").write_text(HARNESS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DORA_ROS_")}
    proc = subprocess.Popen(
        [sys.executable, "harness.py", str(flow.graph), str(TOTAL)],
        cwd=flow.dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    STARTED.append(proc)
    out, err = proc.communicate(timeout=90)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_tap_never_slows_the_sender_and_counts_its_drops(tmp_path: Path) -> None:
    before = _dora_shm()
    flow = write_flow(tmp_path, GRAPH, sender=SENDER, receiver=RECEIVER)
    result = _run_harness(flow)
    assert result.returncode == 0, result.stderr
    sender = flow.result("sender")
    assert sender["tapped_at_start"], "the tap record never reached the sender"
    assert sender["sent"] == TOTAL
    # The real edge lost nothing, in order, though the tap's consumer was slow.
    assert flow.result("receiver") == list(range(TOTAL))
    assert "dropped" not in result.stderr, result.stderr
    tap = json.loads((tmp_path / "tap.json").read_text())
    # The sender did not wait for the tap: it dropped for it, and counted every drop.
    assert tap["dropped_at_sender"] > 0, tap
    assert tap["received"] + tap["dropped_at_sender"] == TOTAL, tap
    assert tap["seqs"] == list(range(1, tap["received"] + 1))
    seq, metadata, length = tap["first"]
    assert seq == 1 and json.loads(metadata)["i"] >= 0 and length >= 1
    # The supervisor reads a 64 KiB value where the sender wrote it (its memfd region, mapped
    # read-only), with no copy before it republishes.
    assert tap["shared"] and all(m.startswith("/memfd:dora-ros") for m in tap["shared"]), tap
    # Regions the tap held went back promptly: the pool stays small (8 free at most, plus the
    # few in flight to the receiver and the tap's queue of 4).
    assert sender["max_regions"] <= 16, sender
    # The tap went when its receiver closed: the sender dropped its link.
    assert not sender["tapped_at_end"]
    assert _dora_shm() <= before


def test_a_tap_on_a_quiet_output_costs_the_sender_nothing_after_it_closes(tmp_path: Path) -> None:
    """A tap closed before any message: the node drops the link on its next call, sends on."""
    graph = """
nodes:
  - id: sender
    path: sender.py
    inputs: {tick: dora/timer/millis/20}
    outputs: [data]
"""
    sender = """
import time
import pyarrow as pa
from dora_ros import Node
from _rec import record

node = Node()
states = []
for event in node:
    if event["type"] == "INPUT":
        states.append(bool(node._taps))
        node.send_output("data", pa.array([1]))
        if len(states) > 5 and states[-1] is False and True in states:
            break
record("states", states)
"""
    harness = HARNESS.replace(
        "while receiver.received + receiver.dropped_at_sender < total",
        "while receiver.received < 2",
    )
    flow = write_flow(tmp_path, graph, sender=sender)
    (flow.dir / "harness.py").write_text(harness)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DORA_ROS_")}
    proc = subprocess.run(
        [sys.executable, "harness.py", str(flow.graph), "0"], cwd=flow.dir, env=env,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    states = flow.result("states")
    # tapped, then untapped again once the receiver closed
    assert True in states and states[-1] is False, states
