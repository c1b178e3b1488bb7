"""One edge between two machines: dora-ros against raw zenoh-python, and the same edge on one machine.

Each "machine" is a Linux network namespace (as root; `tests/cluster/netns.py` makes them, joined
by veths to a bridge in the coordinator's namespace), else, not as root, daemons on loopback. Per
payload size (8 B, 64 KiB, 1 MiB, 16 MiB):

- latency: the sender sends one message every `PERIOD[size]` seconds with its send time
  (`time.time_ns()`, one clock for every process of the host) in the metadata (dora-ros) or in
  the first 8 bytes (raw Zenoh); the receiver subtracts it from its own clock the moment the
  message reaches Python. Median and p99 of `--count` messages.
- throughput: the sender sends `BURST[size]` messages back to back; the receiver times the first
  to the last it got (MB/s) and counts them (sends never block: Zenoh drops when its queue is full).

Targets: raw zenoh-python pub/sub between the two namespaces (the same Zenoh settings as dora-ros's
edges: peer mode, express, congestion control DROP), read on the main thread from zenoh-python's
default handler (a FIFO channel) -- the reference of the target: a dora-ros node receives on its
own thread, so the fair raw figure is one that hands each sample from Zenoh's thread to another
thread too -- and, for contrast, timed inside the subscriber's callback on Zenoh's own thread (no
hand-off: no Python loop of a node can receive there) and with a pyarrow array made of each
payload (the least a runtime handing Arrow arrays to Python adds); `dora-ros start` of a sender
on robot and a receiver on gpu, and the same graph with both nodes on robot (shared memory).

Every target runs `--rounds` times, the rounds interleaved (each in a rotated order), and the
medians are taken over all rounds' messages, each round's own ratio printed beside: the machine's
speed drifts from run to run, and one run per target compared moments, not code.

    sudo .venv/bin/python benchmarks/cluster.py             # about 7 minutes
    sudo .venv/bin/python benchmarks/cluster.py --sizes 8,65536  # about 90 s
    sudo .venv/bin/python benchmarks/cluster.py --stages --count 2000 --sizes 8,65536  # per step
    .venv/bin/python benchmarks/cluster.py --cold  # each step's cost in-process, cold and warm
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "cluster"))
from cluster_env import Cluster, free_port
from netns import Network, available

KIB, MIB = 1024, 1024 * 1024
SIZES = (8, 64 * KIB, MIB, 16 * MIB)
PERIOD = {8: 0.005, 64 * KIB: 0.005, MIB: 0.02, 16 * MIB: 0.15}
BURST = {8: 2000, 64 * KIB: 500, MIB: 100, 16 * MIB: 12}
# Rows of raw zenoh-python: the target's reference (a thread hand-off, as in a node) and contrast.
REFERENCE = "zenoh-python main thread"
CALLBACK = "zenoh-python callback"
# Contrast: the reference carrying an Arrow array (the sender puts an array's values, the
# receiver makes a pyarrow array of them before it reads the clock), the least any runtime that
# hands Arrow arrays to Python code adds to raw Zenoh.
ARROW = "zenoh-python main thread + Arrow"


def _pace(size: int) -> tuple[float, int]:
    """(seconds between paced messages, messages in the burst) for any size."""
    known = max((s for s in PERIOD if s <= size), default=8)
    return PERIOD[known], BURST[known]


# The sender: for each size, `count` paced messages, then a burst; `phase` in the metadata.
DORA_SENDER = """
import json, os, time
import numpy as np
import pyarrow as pa
from dora import Node

sizes = json.loads(os.environ["SIZES"]); count = int(os.environ["COUNT"])
period = json.loads(os.environ["PERIOD"]); burst = json.loads(os.environ["BURST"])
node = Node()
time.sleep(1.0)  # the receiver's subscription reaches us
for size in sizes:
    data = pa.array(np.zeros(size, dtype=np.uint8))
    for _ in range(count):
        node.send_output("data", data, {"t": time.time_ns(), "size": size, "phase": "lat"})
        time.sleep(period[str(size)])
    for _ in range(burst[str(size)]):
        node.send_output("data", data, {"t": time.time_ns(), "size": size, "phase": "thr"})
    time.sleep(1.0)
"""

DORA_RECEIVER = """
import json, os, time
from dora import Node

lat = {}; thr = {}
for event in Node():
    if event["type"] != "INPUT":
        continue
    now = time.time_ns(); md = event["metadata"]; size = str(md["size"])
    if md["phase"] == "lat":
        lat.setdefault(size, []).append(now - md["t"])
    else:
        first, last, n = thr.get(size, (now, now, 0))
        thr[size] = (first, now, n + 1)
with open(os.environ["RESULT"], "w") as f:
    json.dump({"lat": lat, "thr": thr}, f)
"""

RAW_PUB = """
import json, os, struct, sys, time
import zenoh

sizes = json.loads(os.environ["SIZES"]); count = int(os.environ["COUNT"])
period = json.loads(os.environ["PERIOD"]); burst = json.loads(os.environ["BURST"])
conf = zenoh.Config()
conf.insert_json5("mode", '"peer"')
conf.insert_json5("scouting/multicast/enabled", "false")
conf.insert_json5("connect/endpoints", json.dumps([sys.argv[1]]))
conf.insert_json5("listen/endpoints", "[]")
arrow = sys.argv[2] == "arrow"
if arrow:
    import numpy as np
    import pyarrow as pa
with zenoh.open(conf) as session:
    pub = session.declare_publisher("bench/data", congestion_control=zenoh.CongestionControl.DROP,
                                    express=True)
    while not pub.matching_status.matching:
        time.sleep(0.01)
    time.sleep(0.5)
    for size in sizes:
        buf = bytearray(max(size, 17))
        data = pa.array(np.zeros(size, dtype=np.uint8)) if arrow else None
        for phase, n in ((0, count), (1, burst[str(size)])):
            for _ in range(n):
                if arrow:  # the array's values after a 17-byte header: one join, as dora-ros
                    values = data.buffers()[1]
                    pub.put(b"".join([struct.pack("<QQB", time.time_ns(), size, phase), values]))
                else:
                    struct.pack_into("<QQB", buf, 0, time.time_ns(), size, phase)
                    pub.put(bytes(buf))
                if phase == 0:
                    time.sleep(period[str(size)])
        time.sleep(1.0)
    pub.put(b"end")
    time.sleep(0.5)
"""

RAW_SUB = """
import json, os, struct, sys, threading, time
import zenoh

lat = {}; thr = {}; done = threading.Event()
arrow = sys.argv[2] == "arrow"
if arrow:
    import pyarrow as pa
    uint8 = pa.uint8()

def on_sample(sample):
    data = sample.payload.to_bytes()
    if arrow and data != b"end":  # the values as a pyarrow array, as a dora-ros node gets them
        value = pa.Array.from_buffers(uint8, len(data) - 17,
                                      [None, pa.py_buffer(memoryview(data)[17:])])
    now = time.time_ns()
    if data == b"end":
        done.set(); return
    t, size, phase = struct.unpack_from("<QQB", data)
    size = str(size)
    if phase == 0:
        lat.setdefault(size, []).append(now - t)
    else:
        first, last, n = thr.get(size, (now, now, 0))
        thr[size] = (first, now, n + 1)

conf = zenoh.Config()
conf.insert_json5("mode", '"peer"')
conf.insert_json5("scouting/multicast/enabled", "false")
conf.insert_json5("listen/endpoints", json.dumps([sys.argv[1]]))
with zenoh.open(conf) as session:
    if sys.argv[2] == "callback":  # timed on Zenoh's thread, inside the callback
        sub = session.declare_subscriber("bench/data",
                                         zenoh.handlers.Callback(on_sample, indirect=False))
        print("ready", flush=True)
        done.wait(600)
    else:  # zenoh-python's default handler (a FIFO channel), read on the main thread
        # ("arrow": and each payload made a pyarrow array, the least a runtime handing Arrow
        # arrays to Python code does per message)
        sub = session.declare_subscriber("bench/data")
        print("ready", flush=True)
        while not done.is_set():
            on_sample(sub.recv())
with open(os.environ["RESULT"], "w") as f:
    json.dump({"lat": lat, "thr": thr}, f)
"""

GRAPH = """
nodes:
  - id: sender
    path: sender.py
    deploy: {{machine: robot}}
    env: {env}
    outputs: [data]
  - id: receiver
    path: receiver.py
    deploy: {{machine: {receiver_machine}}}
    env: {env}
    inputs:
      data: {{source: sender/data, queue_size: 4000}}
"""


def _env(folder: Path, count: int, result: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SIZES=json.dumps(list(SIZES)), COUNT=str(count), RESULT=str(folder / result),
        PERIOD=json.dumps({str(k): _pace(k)[0] for k in SIZES}),
        BURST=json.dumps({str(k): _pace(k)[1] for k in SIZES}),
    )  # fmt: skip
    return env


def run_raw(folder: Path, network: Network | None, count: int, how: str) -> dict[str, Any]:
    (folder / "pub.py").write_text(textwrap.dedent(RAW_PUB))
    (folder / "sub.py").write_text(textwrap.dedent(RAW_SUB))
    address = network.addresses["gpu"] if network else "127.0.0.1"
    endpoint = f"tcp/{address}:{free_port()}"

    def prefix(role: str) -> list[str]:
        return ["ip", "netns", "exec", network.namespaces[role]] if network else []

    env = _env(folder, count, "raw.json")
    (folder / "raw.json").unlink(missing_ok=True)  # never the figures of an earlier run
    sub = subprocess.Popen([*prefix("gpu"), sys.executable, "sub.py", endpoint, how],
                           cwd=folder, env=env, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert sub.stdout is not None and sub.stdout.readline().strip() == "ready"
        subprocess.run([*prefix("robot"), sys.executable, "pub.py", endpoint, how],
                       cwd=folder, env=env, check=True, timeout=600)  # fmt: skip
        if sub.wait(timeout=60) != 0:
            raise SystemExit(f"raw zenoh-python subscriber ({how}) failed: {sub.returncode}")
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()
    return json.loads((folder / "raw.json").read_text())


def run_dora(cluster: Cluster, folder: Path, count: int, receiver_machine: str) -> dict[str, Any]:
    (folder / "sender.py").write_text(textwrap.dedent(DORA_SENDER))
    (folder / "receiver.py").write_text(textwrap.dedent(DORA_RECEIVER))
    result = f"dora-{receiver_machine}.json"
    env = _env(folder, count, result)
    # The nodes inherit the daemons' environment, not ours: the settings go in the graph.
    settings = {k: env[k] for k in ("SIZES", "COUNT", "RESULT", "PERIOD", "BURST")}
    graph = GRAPH.format(receiver_machine=receiver_machine, env=json.dumps(settings))
    (folder / "graph.yml").write_text(graph)
    run = cluster.cli("start", "graph.yml", "--attach", timeout=900)
    if run.returncode != 0:
        raise SystemExit(f"dora-ros start failed:\n{run.stdout}\n{run.stderr}\n{cluster.logs()}")
    return json.loads((folder / result).read_text())


# --stages: the cross-machine edge with a time stamp per step (CLOCK_REALTIME: one clock for
# every process of the host). The node scripts wrap methods of the remote link and of the node's
# loop before the node starts: measurement only (the benchmark's figures come from the plain
# scripts above); the wrappers add well under a microsecond per step.
STAGED_SENDER = """
import json, os, time
import numpy as np
import pyarrow as pa
from dora_ros.cluster import remote_link
from dora import Node

stamps = {}  # seq -> [send_output called, link.send, publisher.put called, put returned]
current = []
send, init = remote_link.RemoteOutboundLink.send, remote_link.RemoteOutboundLink.__init__

def timed_send(self, *args):
    current.append(time.time_ns())
    send(self, *args)

class TimedPublisher:  # stands in for the link's Zenoh publisher: put is stamped
    def __init__(self, link, publisher):
        self.link, self.publisher = link, publisher

    def __getattr__(self, name):
        return getattr(self.publisher, name)

    def put(self, *args, **kwargs):
        current.append(time.time_ns())
        self.publisher.put(*args, **kwargs)
        current.append(time.time_ns())
        stamps[self.link.seq] = list(current)

def timed_init(self, *args):
    init(self, *args)
    self.publisher = TimedPublisher(self, self.publisher)

remote_link.RemoteOutboundLink.send = timed_send
remote_link.RemoteOutboundLink.__init__ = timed_init
size = int(os.environ["STAGE_SIZE"]); count = int(os.environ["COUNT"])
period = float(os.environ["STAGE_PERIOD"])
node = Node()
time.sleep(1.0)
data = pa.array(np.zeros(size, dtype=np.uint8))
for _ in range(count):
    current[:] = [time.time_ns()]
    node.send_output("data", data, {"t": current[0], "size": size, "phase": "lat"})
    time.sleep(period)
time.sleep(0.5)
with open(os.environ["RESULT"] + ".send", "w") as f:
    json.dump(stamps, f)
"""

STAGED_RECEIVER = """
import json, os, time
from dora_ros.cluster import remote_link
from dora_ros.runtime import node_loop, wire
from dora import Node

# Zenoh callback entered and returned, in arrival order (FIFO: matched to frames in order)
arrivals = []; returns = []
# seq -> [callback entered, callback returned, receive called, on_frame called, on_frame
# returned, decode_inline called, its array made, its metadata made, decode_inline returned,
# next() returned]
stamps = {}
woke = [0]
on_sample, receive = remote_link.RemoteInboundLink._on_sample, remote_link.RemoteInboundLink.receive
on_frame = node_loop.NodeLoop.on_frame
decode_inline, decode_payload = wire.decode_inline, wire.decode_payload
decode_metadata = wire.decode_metadata
last = [None]

def timed_on_sample(self, sample):
    arrivals.append(time.time_ns())
    on_sample(self, sample)
    returns.append(time.time_ns())

def timed_receive(self, handler):
    woke[0] = time.time_ns()
    return receive(self, handler)

def timed_on_frame(self, link, data, extra):
    t = time.time_ns()
    on_frame(self, link, data, extra)
    seq = link.last_seq
    i = len(stamps)
    # The callback's return is filled in at the end: the node's thread, woken by the eventfd
    # write (which lets the GIL go), may get here before the callback has returned.
    stamps[seq] = [arrivals[i] if i < len(arrivals) else 0, 0, woke[0], t, time.time_ns()]
    last[0] = seq

# Remote frames are inline records (remote_link.py): on_frame decodes none itself, so these
# stamps go to the message on_frame just queued (a KIND_SHM frame would break that).
def timed_decode_inline(record):
    stamps[last[0]].append(time.time_ns())
    value = decode_inline(record)
    stamps[last[0]].append(time.time_ns())
    return value

def timed_decode_payload(*args):
    value = decode_payload(*args)
    stamps[last[0]].append(time.time_ns())
    return value

def timed_decode_metadata(*args):
    value = decode_metadata(*args)
    stamps[last[0]].append(time.time_ns())
    return value

remote_link.RemoteInboundLink._on_sample = timed_on_sample
remote_link.RemoteInboundLink.receive = timed_receive
node_loop.NodeLoop.on_frame = timed_on_frame
wire.decode_inline = timed_decode_inline  # looked up in the module at each call
wire.decode_payload = timed_decode_payload
wire.decode_metadata = timed_decode_metadata
for event in Node():
    if event["type"] != "INPUT":
        continue
    now = time.time_ns()
    if last[0] is not None:
        stamps[last[0]].append(now)
for i, seq in enumerate(stamps):
    stamps[seq][1] = returns[i] if i < len(returns) else 0
with open(os.environ["RESULT"] + ".recv", "w") as f:
    json.dump(stamps, f)
"""

STEPS = (
    "sender: send_output called -> remote link's send (runtime: payload, metadata, header)",
    "sender: link's send -> publisher.put called (frame join, match check)",
    "sender: publisher.put (attachment, Zenoh)",
    "Zenoh: put returned -> receiver's callback entered (network, Zenoh's threads)",
    "receiver: the callback on Zenoh's thread (deque append, eventfd write; and any wait for"
    " the GIL the woken node's thread took meanwhile)",
    "receiver: callback returned -> link's receive on the node's thread (epoll wake-up, GIL;"
    " negative: the node's thread ran first)",
    "receiver: receive -> on_frame (eventfd read, payload to_bytes, sequence number)",
    "receiver: on_frame (header, routing, queue)",
    "receiver: on_frame returned -> decode_inline called (rest of the pump, pop)",
    "receiver: decode_inline's array (header, py_buffer, from_buffers)",
    "receiver: decode_inline's metadata (JSON, timestamp)",
    "receiver: the rest of decode_inline (its return)",
    "receiver: decode_inline returned -> next() returned (event dict)",
)
SENDER_STAMPS, RECEIVER_STAMPS = 4, 10


def run_stages(cluster: Cluster, folder: Path, count: int, size: int) -> str:
    """Per-step medians of ``count`` paced messages of ``size`` bytes over the cross edge."""
    (folder / "sender.py").write_text(textwrap.dedent(STAGED_SENDER))
    (folder / "receiver.py").write_text(textwrap.dedent(STAGED_RECEIVER))
    result = str(folder / f"stages-{size}")
    settings = {"COUNT": str(count), "RESULT": result, "STAGE_SIZE": str(size),
                "STAGE_PERIOD": str(_pace(size)[0])}  # fmt: skip
    (folder / "graph.yml").write_text(
        GRAPH.format(receiver_machine="gpu", env=json.dumps(settings))
    )
    run = cluster.cli("start", "graph.yml", "--attach", timeout=900)
    if run.returncode != 0:
        raise SystemExit(f"dora-ros start failed:\n{run.stdout}\n{run.stderr}\n{cluster.logs()}")
    sent = json.loads(Path(result + ".send").read_text())
    got = json.loads(Path(result + ".recv").read_text())
    steps: list[list[int]] = [[] for _ in STEPS]
    totals = []
    for seq, r in got.items():
        s = sent.get(seq)
        if s is None or len(s) != SENDER_STAMPS or len(r) != RECEIVER_STAMPS or not all(r):
            continue
        t = s + r
        for i in range(len(STEPS)):
            steps[i].append(t[i + 1] - t[i])
        totals.append(t[-1] - t[0])
    if not totals:
        raise SystemExit(f"--stages: no message has all its stamps ({len(got)} received)")
    rows = [f"stages of {len(totals)}/{count} paced {size}-byte messages (medians, us):",
            "| step | median us | p90 us |", "|---|---|---|"]  # fmt: skip
    for name, values in zip(STEPS, steps, strict=True):
        values.sort()
        rows.append(f"| {name} | {statistics.median(values) / 1000:.1f} |"
                    f" {values[int(len(values) * 0.9)] / 1000:.1f} |")  # fmt: skip
    totals.sort()
    rows.append(f"| send_output called -> next() returned | {statistics.median(totals) / 1000:.1f} |"
                f" {totals[int(len(totals) * 0.9)] / 1000:.1f} |")  # fmt: skip
    return "\n".join(rows)


def cold_costs(rounds: int) -> str:
    """In one process: what each per-message step costs when the process slept 5 ms before it
    (a paced message: cold caches) and back to back (warm), medians over interleaved rounds."""
    import struct
    import time

    import numpy as np
    import pyarrow as pa

    from dora_ros.runtime import wire

    data = pa.array(np.zeros(8, dtype=np.uint8))
    params = {"t": time.time_ns(), "size": 8, "phase": "lat"}
    raw_buf = bytearray(17)

    def encode() -> bytes:  # what send_index and the remote link do for an inline message
        payload, _ = wire.encode_payload(data)
        meta = wire.encode_metadata(params)
        header = wire.HEADER.pack(wire.KIND_INLINE, payload.encoding, 0, payload.type_code,
                                  len(meta), time.time_ns(), payload.length)  # fmt: skip
        return b"".join([header, meta, payload.view, b"\0" * 8])

    record = encode()
    meta_end = wire.HEADER.size + len(wire.encode_metadata(params))

    def raw_send() -> bytes:  # the raw sender's per-message work
        struct.pack_into("<QQB", raw_buf, 0, time.time_ns(), 8, 0)
        return bytes(raw_buf)

    steps = {
        "raw zenoh-python sender: pack the time, bytes()": raw_send,
        "raw zenoh-python receiver: unpack the time": lambda: struct.unpack_from("<QQB", record),
        "a pyarrow array of a payload (py_buffer, from_buffers)": lambda: pa.Array.from_buffers(
            pa.uint8(), 8, [None, pa.py_buffer(memoryview(record)[meta_end : meta_end + 8])]
        ),
        "dora-ros sender: encode_payload": lambda: wire.encode_payload(data),
        "dora-ros sender: encode_metadata (3 parameters)": lambda: wire.encode_metadata(params),
        "dora-ros sender: the whole inline record": encode,
        "dora-ros receiver: decode_metadata": lambda: wire.decode_metadata(
            record[wire.HEADER.size : meta_end], params["t"]
        ),
        "dora-ros receiver: decode_inline (array and metadata)": lambda: wire.decode_inline(record),
        "an empty Python call": lambda: None,
    }
    cold: dict[str, list[int]] = {name: [] for name in steps}
    warm: dict[str, list[int]] = {name: [] for name in steps}
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for name, step in steps.items():
            for pause, into in ((0.005, cold), (0.0, warm)):
                for _ in range(40):
                    if pause:
                        time.sleep(pause)
                    start = clock()
                    step()
                    into[name].append(clock() - start)
    rows = ["| step (in-process) | 5 ms apart, us | back to back, us |", "|---|---|---|"]
    for name in steps:
        rows.append(f"| {name} | {statistics.median(cold[name]) / 1000:.1f} |"
                    f" {statistics.median(warm[name]) / 1000:.1f} |")  # fmt: skip
    return "\n".join(rows)


def _fmt_us(ns: float) -> str:
    return f"{ns / 1000:,.0f}"


def _burst(data: dict[str, Any], size: int) -> tuple[float, int]:
    """(MB/s, messages received) of one run's burst of ``size``-byte messages."""
    first, last, n = data["thr"].get(str(size), (0, 0, 0))
    return ((n - 1) * size / ((last - first) / 1e9) / 1e6 if n > 1 and last > first else 0.0), n


def _label(size: int) -> str:
    if size < KIB:
        return f"{size} B"
    return f"{size // KIB} KiB" if size < MIB else f"{size // MIB} MiB"


def table(rounds: list[dict[str, dict[str, Any]]], count: int) -> str:
    """Latency over every round's messages (median, p99), the burst of the median round, and
    the target's verdict on those medians, with each round's own ratio beside it."""
    targets = list(rounds[0])
    rows = ["| size | target | median us | p99 us | got | burst MB/s | burst got |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    ratios = []
    for size in SIZES:
        key = str(size)
        medians = {}
        for target in targets:
            lat = sorted(x for r in rounds for x in r[target]["lat"].get(key, []))
            if lat:
                medians[target] = statistics.median(lat)
            bursts = sorted(_burst(r[target], size) for r in rounds)
            mbs, n = bursts[len(bursts) // 2]
            p99 = _fmt_us(lat[min(len(lat) - 1, int(len(lat) * 0.99))]) if lat else "-"
            rows.append(
                f"| {_label(size)} | {target} | {_fmt_us(medians[target]) if lat else '-'} |"
                f" {p99} | {len(lat)}/{count * len(rounds)} | {mbs:,.0f} | {n}/{_pace(size)[1]} |"
            )
        if REFERENCE in medians and "dora-ros cross" in medians:
            raw, ours = medians[REFERENCE], medians["dora-ros cross"]
            limit = max(raw * 1.2, raw + 25_000)
            each = []
            for r in rounds:
                r_raw, r_ours = r[REFERENCE]["lat"].get(key), r["dora-ros cross"]["lat"].get(key)
                if r_raw and r_ours:
                    each.append(f"{statistics.median(r_ours) / statistics.median(r_raw):.2f}x")
            line = (
                f"{size} B: dora-ros/raw {ours / raw:.2f}x"
                f" ({'within' if ours <= limit else 'OVER'} 1.2x or +25 us of {REFERENCE};"
                f" rounds {', '.join(each)})"
            )
            for contrast in (ARROW, CALLBACK):
                if contrast in medians:
                    line += f"; {ours / medians[contrast]:.2f}x {contrast}"
            ratios.append(line)
    return "\n".join(rows) + "\n\n" + "\n".join(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100,
                        help="paced messages per size and round")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of every target, interleaved")  # fmt: skip
    parser.add_argument("--loopback", action="store_true", help="no namespaces, even as root")
    parser.add_argument("--sizes", default=None, help="comma-separated subset, e.g. 8,65536")
    parser.add_argument("--stages", action="store_true",
                        help="only the cross-machine edge, with a time stamp per step")  # fmt: skip
    parser.add_argument("--cold", action="store_true",
                        help="only the in-process cost of each per-message step, cold and warm")  # fmt: skip
    args = parser.parse_args()
    if args.rounds < 1 or args.count < 1:
        parser.error("--rounds and --count must be at least 1")
    if args.cold:
        print(cold_costs(max(args.rounds, 5)))
        return
    if args.sizes:
        global SIZES
        SIZES = tuple(int(s) for s in args.sizes.split(","))
    why = "--loopback" if args.loopback else available()
    with tempfile.TemporaryDirectory(prefix="dora-ros-cluster-bench-") as tmp:
        folder = Path(tmp)
        network = None if why else Network(("robot", "gpu"))
        where = "two network namespaces" if network else f"loopback ({why})"
        print(f"cluster benchmark: {where}, {args.count} paced messages per size", flush=True)
        results: list[dict[str, dict[str, Any]]] = []
        cluster = Cluster.on(folder, network)
        stages: list[str] = []
        try:
            # The coordinator and daemons first: the raw rows run beside them too (their pings
            # and samples every second), as the dora-ros rows do.
            cluster.up("robot", "gpu", network=network)
            if args.stages:
                stages = [run_stages(cluster, folder, args.count, size) for size in SIZES]
            runs = {
                REFERENCE: lambda: run_raw(folder, network, args.count, "channel"),
                "dora-ros cross": lambda: run_dora(cluster, folder, args.count, "gpu"),
                ARROW: lambda: run_raw(folder, network, args.count, "arrow"),
                CALLBACK: lambda: run_raw(folder, network, args.count, "callback"),
                "dora-ros local": lambda: run_dora(cluster, folder, args.count, "robot"),
            }
            # Rounds of every target in turn, each round in a rotated order: this machine's
            # speed drifts from run to run (docs/benchmarks.md, "Cluster", session 8), so a
            # target run once, at one moment, may be compared with another at a slower one.
            names = list(runs)
            for r in range(0 if args.stages else args.rounds):
                print(f"round {r + 1}/{args.rounds}", flush=True)
                order = names[r % len(names) :] + names[: r % len(names)]
                results.append({name: runs[name]() for name in order})
        finally:
            try:
                left = cluster.close()
                if left:
                    print(f"warning: killed leftover processes: {left}", file=sys.stderr)
            finally:
                if network is not None:
                    network.close()
        print("\n\n".join(stages) if stages else table(results, args.count))


if __name__ == "__main__":
    main()
