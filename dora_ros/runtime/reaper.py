"""Kills the process groups a supervisor leaves behind if it is killed itself (even by SIGKILL).

Used by `dora-ros run` (the nodes' groups) and `dora-ros launch` (the launched processes' groups):
a parent-death signal reaches only direct children, not the processes *they* start; this does.
Run as a separate process by path (no package import, ~20 ms). The supervisor writes ``+<pgid>``
when it starts a process group and ``-<pgid>`` when the group is gone. At end-of-file (the
supervisor ended, or died) every group still listed gets SIGKILL, grandchildren included; after a
normal end none is listed. ``exit`` makes it leave without killing anything.
"""

import os
import signal
import sys


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    groups: set[int] = set()
    for line in sys.stdin:
        word = line.strip()
        if word == "exit":
            return
        if word[:1] == "+":
            groups.add(int(word[1:]))
        elif word[:1] == "-":
            groups.discard(int(word[1:]))
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except OSError:
            pass  # already gone


if __name__ == "__main__":
    main()
