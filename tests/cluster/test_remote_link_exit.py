"""A receiving remote link at process exit, flooded by a sender (cluster/remote_link.py).

The link's callback runs on Zenoh's threads: one of them running it, or waiting for the GIL to
run it, while the interpreter finalizes aborts the process ("FATAL: exception not rethrown",
status -6, or a SIGSEGV). The node closes its links at exit; here the node's close never runs
(as when it failed or was skipped), and the links' own atexit handler must close the session
before the interpreter finalizes: before it, about one exit in ten aborted.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cluster_env import free_port
from graphs import FLOOD

# Receives until samples flow, then exits without closing its links.
DRAIN = """
import select, sys
from dora_ros.cluster.remote_link import RemoteLinks

spec = {"prefix": sys.argv[2], "receivers": [], "senders": {"flood": 4},
        "zenoh": {"mode": "peer", "connect": ["tcp/127.0.0.1:%s" % sys.argv[1]],
                  "listen": ["tcp/127.0.0.1:0"], "multicast": False}}
links = RemoteLinks("drain", spec)
link = links.inbound[0]
got = []
poller = select.poll()
poller.register(link.fd, select.POLLIN)
while len(got) < 50:
    if not poller.poll(10_000):
        sys.exit("drain: no sample within 10 s")
    link.receive(lambda _link, frame, _buffer: got.append(frame))
print("drained", len(got), flush=True)
"""

EXITS = 40
AT_ONCE = 4


def test_flooded_receiver_exits_cleanly_without_the_node_close(tmp_path: Path) -> None:
    port = free_port()
    prefix = f"dora-ros-test/{uuid.uuid4().hex}"
    (tmp_path / "flood.py").write_text(FLOOD)
    (tmp_path / "drain.py").write_text(DRAIN)
    flood = subprocess.Popen(
        [sys.executable, "flood.py", str(port), f"{prefix}/data/flood/drain", "32"],
        stdout=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert flood.stdout is not None and flood.stdout.readline() == "flooding\n"

        def drain(_: int) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "drain.py", str(port), prefix],
                                  capture_output=True, text=True, timeout=60,
                                  cwd=tmp_path)  # fmt: skip

        with ThreadPoolExecutor(AT_ONCE) as pool:
            runs = list(pool.map(drain, range(EXITS)))
    finally:
        flood.kill()
        flood.wait(timeout=10)
    bad = [(r.returncode, r.stderr.strip()[-300:]) for r in runs
           if r.returncode != 0 or "FATAL" in r.stderr]  # fmt: skip
    assert not bad, f"{len(bad)} of {EXITS} exits failed: {bad[:5]}"
    assert all(r.stdout.startswith("drained ") for r in runs)
