"""The floor of `benchmarks/latency.py`: one memcpy into shared memory plus one wake-up.

The parent (sender) copies each payload into a pre-faulted memfd mapping it shares with a child
process (the receiver) and sends a 16-byte notice (offset, length) over a Unix socket; the child
wakes up, reads the send time from the mapping's first 8 bytes, takes a view of the payload (no
copy) and acks. For the rate, 8-byte messages go inline over the socket (whose buffer applies
back-pressure, so nothing is dropped). Writes `sender.json` / `receiver.json` to `--out` in the
format of the dora nodes.

    python floor.py --sizes 8,1048576 --counts 100,50 --rate-seconds 1 --out /tmp/floor
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import socket
import struct
import subprocess
import sys
import time
from collections import defaultdict

NOTICE = struct.Struct("<QQ")
DONE = b"d"


def clock() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def sender(args: argparse.Namespace) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    counts = [int(c) for c in args.counts.split(",")]
    capacity = max(sizes)
    fd = os.memfd_create("dora-ros-floor", 0)
    os.ftruncate(fd, capacity)
    shm = mmap.mmap(fd, capacity)
    shm.write(b"\0" * capacity)  # pre-fault: the runtime's pools reuse pages, so does the floor
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--child",
            str(child.fileno()),
            "--shm",
            str(fd),
            "--out",
            args.out,
        ],
        pass_fds=(child.fileno(), fd),
    )
    child.close()
    view = memoryview(shm)
    for size, count in zip(sizes, counts, strict=True):
        source = memoryview(b"\x01" * max(size, 8))
        for _ in range(count):
            start = clock()
            view[8:size] = source[8:size]  # the one copy of the payload
            struct.pack_into("<Q", shm, 0, start)
            parent.send(NOTICE.pack(0, max(size, 8)))
            parent.recv(16)  # ack
    sent = 0
    start = clock()
    end = start + int(args.rate_seconds * 1e9)
    while (now := clock()) < end:
        parent.send(struct.pack("<Q", now))
        sent += 1
    parent.send(DONE)
    proc.wait(timeout=30)
    result = {"lost": 0, "rate_sent": sent, "rate_start": start, "rate_end": clock()}
    with open(os.path.join(args.out, "sender.json"), "w") as file:
        json.dump(result, file)
    view.release()
    shm.close()
    os.close(fd)


def receiver(args: argparse.Namespace) -> None:
    sock = socket.socket(fileno=args.child)
    size = os.fstat(args.shm).st_size
    shm = mmap.mmap(args.shm, size, prot=mmap.PROT_READ)
    view = memoryview(shm)
    latencies: dict[int, list[int]] = defaultdict(list)
    received = first = last = 0
    while True:
        message = sock.recv(16)
        now = clock()
        if len(message) == NOTICE.size:
            offset, length = NOTICE.unpack(message)
            payload = view[offset : offset + length]  # zero-copy view of the payload
            latencies[len(payload)].append(now - struct.unpack_from("<Q", payload, 0)[0])
            payload.release()
            sock.send(b"a")
        elif len(message) == 8:
            if not received:
                first = struct.unpack("<Q", message)[0]
            received += 1
            last = now
        else:
            break
    result = {
        "latency_ns": latencies,
        "rate_received": received,
        "rate_first_sent": first,
        "rate_last_received": last,
    }
    with open(os.path.join(args.out, "receiver.json"), "w") as file:
        json.dump(result, file)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="8,4096,65536,1048576")
    parser.add_argument("--counts", default="100,100,100,50")
    parser.add_argument("--rate-seconds", type=float, default=1.0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--shm", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        receiver(args)
    else:
        sender(args)


if __name__ == "__main__":
    main()
