"""Fast DDS's shared-memory files in /dev/shm, and removing those a test suite left behind.

A Fast DDS participant (rclpy peers, the bridge's rclpy backend, launch tests) makes a segment
`fastdds_<16 hex>` with a lock file `fastdds_<16 hex>_el`, and ports `fastdds_port<n>` with
`_el`/`_sl` lock files and a named semaphore `sem.fastdds_port<n>_mutex`; Fast DDS 2 (the Jazzy
peers of tests/bridge/test_jazzy.py) names the same files `fastrtps_...`. A participant holds an
flock on its lock files and maps its segments while it lives, and removes what it alone used
when it closes. A process that is killed leaves them, and a port other processes had opened can
outlive its lock files. A group of files (one segment or port: the files, locks and semaphore)
is a leftover when no live process maps or holds any of them open and its lock files can be
locked (Fast DDS's own `fastdds shm clean` uses the lock rule).
"""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path

SHM = Path("/dev/shm")
_FILE = re.compile(
    r"^(?P<sem>sem\.)?(?P<base>(?:fastdds|fastrtps)_(?:[0-9a-z]{16}|port\d{1,5}))"
    r"(?P<suffix>_el|_sl|_mutex)?$"
)


def fastdds_files() -> set[str]:
    """Names of the Fast DDS files in /dev/shm now (segments, ports, locks, semaphores)."""
    try:
        return {name for name in os.listdir(SHM) if _FILE.match(name)}
    except FileNotFoundError:
        return set()


def _held() -> set[str]:
    """Names of the /dev/shm files some live process maps or has open."""
    held: set[str] = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/maps") as maps:
                for line in maps:
                    at = line.find("/dev/shm/")
                    if at >= 0:
                        held.add(line[at + 9 :].split(" (deleted)")[0].strip())
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("/dev/shm/"):
                    held.add(target[9:])
        except OSError:  # the process ended meanwhile, or is not ours to read
            continue
    return held


def _locked(lock: Path) -> bool:
    try:
        with open(lock, "ab") as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    return False


def remove_leftovers(keep: set[str]) -> list[str]:
    """Remove the Fast DDS files of segments and ports no live process holds, except those in
    ``keep`` (what was there before the suite started: not ours to judge). Returns the names
    removed."""
    groups: dict[str, list[str]] = {}
    for name in fastdds_files():
        match = _FILE.match(name)
        assert match is not None
        groups.setdefault(match["base"], []).append(name)
    held = _held()
    removed = []
    for names in groups.values():
        if any(n in keep or n in held for n in names):
            continue
        locks = [SHM / n for n in names if n.endswith(("_el", "_sl")) and not n.startswith("sem.")]
        if any(_locked(lock) for lock in locks):
            continue
        for name in sorted(names):
            try:
                (SHM / name).unlink()
                removed.append(name)
            except FileNotFoundError:
                pass
    return removed
