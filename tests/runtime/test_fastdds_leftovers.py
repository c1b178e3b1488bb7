"""The suite's clean-up of Fast DDS files (tests/conftest.py): leftovers go, live ones stay."""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fastdds_shm import SHM, fastdds_files, remove_leftovers


def test_leftover_segments_are_removed_and_held_ones_kept():
    pid = os.getpid()
    dead, live, before = (f"fastdds_{pid:08x}{tag:08x}" for tag in (1, 2, 3))
    for base in (dead, live, before):
        (SHM / base).write_bytes(b"x")
        (SHM / f"{base}_el").write_bytes(b"")
    holder = open(SHM / f"{live}_el", "ab")
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        # Everything else in /dev/shm is kept: other programs' files are not this test's.
        keep = fastdds_files() - {dead, f"{dead}_el", live, f"{live}_el"}
        removed = remove_leftovers(keep)
        assert sorted(removed) == sorted([dead, f"{dead}_el"])
        assert not (SHM / dead).exists() and not (SHM / f"{dead}_el").exists()
        assert (SHM / live).exists() and (SHM / f"{before}").exists()
    finally:
        holder.close()
        for base in (dead, live, before):
            for name in (base, f"{base}_el"):
                (SHM / name).unlink(missing_ok=True)
