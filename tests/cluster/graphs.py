"""Graphs and node scripts of the cluster tests (two machines: robot and gpu)."""

from __future__ import annotations

import pickle
from pathlib import Path

# robot: source -> relay (local edge); relay -> sink crosses machines; gpu: sink -> recorder
# (local edge). Payloads alternate 8 B and 64 KiB (the shared-memory path on the local side).
SPLIT_GRAPH = """
nodes:
  - id: source
    path: source.py
    deploy: {machine: robot}
    inputs:
      tick: dora/timer/millis/30
    outputs: [value]
  - id: relay
    path: relay.py
    deploy: {machine: robot}
    inputs:
      value: source/value
    outputs: [big]
  - id: sink
    path: sink.py
    _unstable_deploy: {machine: gpu}
    inputs:
      big: relay/big
    outputs: [count]
  - id: recorder
    path: recorder.py
    deploy: {machine: gpu}
    inputs:
      count: sink/count
"""

SOURCE = """
import pyarrow as pa
from dora import Node

node = Node()
n = 0
for event in node:
    if event["type"] == "INPUT":
        n += 1
        node.send_output("value", pa.array([n], type=pa.int64()))
"""

RELAY = """
import numpy as np
import pyarrow as pa
from dora import Node

from _rec import record

node = Node()
n = 0
for event in node:
    if event["type"] == "INPUT":
        n = event["value"][0].as_py()
        size = 8 if n % 2 == 0 else 65536
        data = np.full(size, n % 256, dtype=np.uint8)
        node.send_output("big", pa.array(data), {"n": n, "tag": "from-robot"})
record("relay", n)  # the last number it sent (none if it was killed)
"""

SINK = """
import numpy as np
import pyarrow as pa
from dora import Node
from _rec import record

node = Node()
events = []
first_meta = None
for event in node:
    kind = event["type"]
    if kind == "INPUT":
        n = event["metadata"]["n"]
        values = event["value"].to_numpy(zero_copy_only=False)
        ok = len(values) == (8 if n % 2 == 0 else 65536) and bool(np.all(values == n % 256))
        if first_meta is None:
            first_meta = {k: v for k, v in event["metadata"].items() if k != "timestamp"}
            first_meta["has_timestamp"] = "timestamp" in event["metadata"]
        events.append(("INPUT", n, ok))
        print(f"sink got {n}", flush=True)
        node.send_output("count", pa.array([n], type=pa.int64()))
    else:
        events.append((kind, event.get("id"), event.get("value")))
        record("sink", {"events": events, "meta": first_meta})
record("sink", {"events": events, "meta": first_meta})
"""

RECORDER = """
from dora import Node
from _rec import record

node = Node()
seen = []
for event in node:
    if event["type"] == "INPUT":
        seen.append(event["value"][0].as_py())
        record("recorder", seen)
"""

SCRIPTS = {"source": SOURCE, "relay": RELAY, "sink": SINK, "recorder": RECORDER}

# A finite sender on robot, a receiver on gpu: INPUT_CLOSED / NODE_FAILED cross machines.
FINITE_GRAPH = """
nodes:
  - id: sender
    path: sender.py
    deploy: {machine: robot}
    inputs:
      tick: dora/timer/millis/20
    outputs: [data]
  - id: receiver
    path: receiver.py
    deploy: {machine: gpu}
    inputs:
      data: sender/data
"""

SENDER = """
import os, sys
import pyarrow as pa
from dora import Node

node = Node()
n = 0
for event in node:
    if event["type"] == "INPUT":
        n += 1
        node.send_output("data", pa.array([n]))
        if n == 5:
            break
if os.environ.get("FAIL"):
    print("sender: giving up", file=sys.stderr, flush=True)
    sys.exit(3)
"""

RECEIVER = """
from dora import Node
from _rec import record

node = Node()
events = []
for event in node:
    if event["type"] == "INPUT":
        events.append(("INPUT", event["value"][0].as_py()))
        print("receiver got", event["value"][0].as_py(), flush=True)
    elif event["type"] == "NODE_FAILED":
        events.append(("NODE_FAILED", event["value"]["source_node_id"], event["value"]["error"]))
    else:
        events.append((event["type"], event["id"]))
record("receiver", events)
"""


def assert_seen_or_counted(numbers: list[int], row: dict[str, object], folder: Path) -> None:
    """Every message of the split graph up to the last one seen reached the sink, or is in the
    run's drop report (relay's queue, relay -> sink in flight, held, or sent while the sink's
    subscription was gone, sink's queue). What the relay sent after the sink's last one (the
    sink ended first) may be counted too, as the relay's sends to a receiver gone: at most
    that many more."""
    dropped = row["dropped"]
    assert isinstance(dropped, dict)
    counted = sum(dropped.get(k, 0) for k in ("relay/value", "relay->sink", "sink/big"))
    assert numbers == sorted(set(numbers))
    gaps = numbers[-1] - len(numbers)
    relay = folder / "relay.pkl"
    after = max(0, pickle.loads(relay.read_bytes()) - numbers[-1]) if relay.exists() else 0
    assert gaps <= counted <= gaps + after, (numbers[:20], dropped, after)


# A Zenoh publisher that floods a remote link's key (argv: port to listen on, key, payload bytes)
# with frames as a sender node puts them (remote_link.py): a record, then its sequence number.
FLOOD = """
import struct, sys, zenoh
conf = zenoh.Config()
conf.insert_json5("scouting/multicast/enabled", "false")
conf.insert_json5("listen/endpoints", '["tcp/127.0.0.1:%s"]' % sys.argv[1])
session = zenoh.open(conf)
publisher = session.declare_publisher(sys.argv[2], congestion_control=zenoh.CongestionControl.DROP)
payload = bytes(int(sys.argv[3]))
print("flooding", flush=True)
seq = 0
while True:
    seq += 1
    publisher.put(payload + struct.pack("<Q", seq))
"""
