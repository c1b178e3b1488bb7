"""A node with Zenoh links keeps glibc's malloc to a few arenas (cluster/zenoh_config.py).

Each thread that allocates gets a glibc arena of its own (up to 8 per core); a receiving node's
Zenoh threads allocate every incoming message while its own thread frees them, and the arenas
fragmented: the cluster soak's cross-machine consumers grew for as long as they ran (flat with
two arenas). Here a receiving ``RemoteLinks`` is flooded with 64 KiB messages by a bare Zenoh
publisher in another process, and counts its arenas with glibc's own ``malloc_info``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

from cluster_env import free_port
from graphs import FLOOD

DRAIN = """
import ctypes, select, sys, tempfile
from dora_ros.cluster.remote_link import RemoteLinks

spec = {"prefix": sys.argv[2], "receivers": [], "senders": {"flood": 50},
        "zenoh": {"mode": "peer", "connect": ["tcp/127.0.0.1:%s" % sys.argv[1]],
                  "listen": ["tcp/127.0.0.1:0"], "multicast": False}}
links = RemoteLinks("drain", spec)
link = links.inbound[0]
got = 0
poller = select.poll()
poller.register(link.fd, select.POLLIN)
def count(_link, frame, _buffer):
    global got
    got += 1
while got < 3000:
    if not poller.poll(10_000):
        sys.exit("drain: no sample within 10 s")
    link.receive(count)
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
with tempfile.NamedTemporaryFile(suffix=".xml") as out:
    stream = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    print(open(out.name).read(), flush=True)
links.close()
"""


def test_a_flooded_receiver_uses_at_most_two_malloc_arenas(tmp_path: Path) -> None:
    port = free_port()
    prefix = f"dora-ros-test/{uuid.uuid4().hex}"
    (tmp_path / "flood.py").write_text(FLOOD)
    (tmp_path / "drain.py").write_text(DRAIN)
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    flood = subprocess.Popen(
        [sys.executable, "flood.py", str(port), f"{prefix}/data/flood/drain", "65536"],
        stdout=subprocess.PIPE, text=True, cwd=tmp_path, env=env,
    )  # fmt: skip
    try:
        assert flood.stdout is not None and flood.stdout.readline() == "flooding\n"
        drain = subprocess.run([sys.executable, "drain.py", str(port), prefix], env=env,
                               capture_output=True, text=True, timeout=120, cwd=tmp_path)  # fmt: skip
    finally:
        flood.kill()
        flood.wait(timeout=10)
    assert drain.returncode == 0, drain.stderr[-2000:]
    heaps = re.findall(r'<heap nr="\d+">', drain.stdout)
    # The main arena and one more (before: 10 here, one per Zenoh thread that allocated)
    assert 1 <= len(heaps) <= 2, drain.stdout[-3000:]
