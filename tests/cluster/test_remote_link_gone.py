"""A sender counts what it sends to a receiver on another machine that is gone (remote_link.py).

Once its publisher matched the receiver's subscriber, a ``RemoteOutboundLink`` counts the
messages it sends while that subscription is gone as its own drops, as a local link counts them
for a receiver not there (else Zenoh discards them, counted nowhere). Here the receiver leaves
before the sender sent anything (the listener's "gone" came during the match phase, which once
threw it away: five sends into the void, counted nowhere), and comes back; and a receiver that
never comes (what the link held while it waited for the match was sent into the void).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

from cluster_env import free_port

SCENARIO = """
import json, sys, time
from dora_ros.cluster.remote_link import RemoteLinks
from dora_ros.runtime import wire
from dora_ros.runtime.shm_pool import ShmPool

port, prefix, sender_port = sys.argv[1], sys.argv[2], sys.argv[3]
peer = {"mode": "peer", "multicast": False}
def receiver(connect=()):
    return RemoteLinks("b", {"prefix": prefix, "receivers": [], "senders": {"a": 8},
                             "zenoh": {**peer, "listen": ["tcp/127.0.0.1:%s" % port],
                                       "connect": list(connect)}})
def wait(predicate, seconds=10):
    until = time.monotonic() + seconds
    while not predicate() and time.monotonic() < until:
        time.sleep(0.01)
    return predicate()

first = receiver()
sender = RemoteLinks("a", {"prefix": prefix, "receivers": ["b"], "senders": {},
                           "zenoh": {**peer, "connect": ["tcp/127.0.0.1:%s" % port],
                                     "listen": ["tcp/127.0.0.1:%s" % sender_port]}})
pool = ShmPool()
report = {}
try:
    out = sender.outbound(1, "b", 8)
    report["matched"] = wait(lambda: out.publisher.matching_status.matching)
    first.close()  # gone before the first send
    report["unmatched"] = wait(lambda: not out.publisher.matching_status.matching)
    time.sleep(1.2)  # past the match phase (MATCH_TIMEOUT): sends go out as they come
    header = wire.HEADER.pack(wire.KIND_INLINE, wire.ENC_BYTES, 0, 0, 0, 1, 5)
    for _ in range(5):
        out.send([header, b"", b"hello"], [], None, pool)
    report["dropped_while_gone"] = out.dropped
    # It connects to the sender (which would otherwise find it again at its own pace).
    again = receiver(["tcp/127.0.0.1:%s" % sender_port])
    report["rematched"] = wait(lambda: out.publisher.matching_status.matching)
    got = []
    link = again.inbound[0]
    def ready():
        out.send([header, b"", b"hello"], [], None, pool)  # Zenoh may drop one: sent again
        link.receive(lambda _l, frame, _b: got.append(frame))
        return bool(got)
    report["received_after"] = wait(ready)
    report["dropped_after"] = out.dropped
    again.close()
    # A receiver that never comes: what the link held in its match phase is counted at its end
    never = sender.outbound(2, "c", 8)
    for _ in range(3):
        never.send([header, b"", b"hello"], [], None, pool)
    time.sleep(1.2)
    never.flush(pool)
    report["never"] = [never.dropped, never.seq, len(never.pending)]
finally:
    sender.close()
    pool.close()
print(json.dumps(report), flush=True)
"""


def test_sends_to_a_receiver_gone_are_counted(tmp_path: Path) -> None:
    (tmp_path / "scenario.py").write_text(SCENARIO)
    run = subprocess.run(
        [sys.executable, "scenario.py", str(free_port()), f"dora-ros-test/{uuid.uuid4().hex}",
         str(free_port())],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report == {"matched": True, "unmatched": True, "dropped_while_gone": 5,
                      "rematched": True, "received_after": True, "dropped_after": 5,
                      "never": [3, 0, 0]}  # fmt: skip
