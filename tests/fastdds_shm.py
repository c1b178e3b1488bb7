"""Fast DDS's shared-memory files in /dev/shm, and removing those a test suite left behind.

A Fast DDS participant (rclpy peers, the bridge's rclpy backend, launch tests) makes a segment
`fastdds_<16 hex>` with a lock file `fastdds_<16 hex>_el`, and ports `fastdds_port<n>` with
`_el`/`_sl` lock files; it holds an flock on the lock file while it lives and removes the files
when it closes. A process that is killed leaves them. A file is a leftover when its lock file
can be locked: no live process holds it (Fast DDS's own `fastdds shm clean` uses the same rule).
"""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path

SHM = Path("/dev/shm")
_LOCK = re.compile(r"^fastdds_(?:[0-9a-z]{16}|port\d{1,5})_(?:el|sl)$")


def fastdds_files() -> set[str]:
    """Names of the Fast DDS files in /dev/shm now."""
    try:
        return {name for name in os.listdir(SHM) if name.startswith("fastdds_")}
    except FileNotFoundError:
        return set()


def _in_use(lock: Path) -> bool:
    try:
        with open(lock, "ab") as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    return False


def remove_leftovers(keep: set[str]) -> list[str]:
    """Remove the files of segments and ports no live process holds, except those in ``keep``
    (what was there before the suite started: not ours to judge). Returns the names removed."""
    removed = []
    for lock_name in sorted(fastdds_files()):
        if not _LOCK.match(lock_name) or lock_name in keep:
            continue
        base = lock_name[:-3]
        lock = SHM / lock_name
        if not lock.exists() or _in_use(lock):
            continue
        for name in (base, f"{base}_el", f"{base}_sl"):
            if name in keep:
                continue
            try:
                (SHM / name).unlink()
                removed.append(name)
            except FileNotFoundError:
                pass
    return removed
