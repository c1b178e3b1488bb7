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


def test_orphan_ports_semaphores_and_fast_dds_2_files_are_removed_and_mapped_ones_kept():
    """What a full `make test` left before (47 files after one run): port segments whose lock
    files were gone, ports' named semaphores, and the `fastrtps_` files of Fast DDS 2 (the Jazzy
    peers). A file some live process maps stays, with the rest of its group."""
    import mmap

    pid = os.getpid() % 10000
    orphan_port = f"fastdds_port{pid}"
    orphan_sem = f"sem.fastdds_port{pid}_mutex"
    old_segment = f"fastrtps_{os.getpid():08x}{4:08x}"
    mapped = f"fastdds_port{pid + 10000}"
    mapped_sem = f"sem.fastdds_port{pid + 10000}_mutex"
    names = [orphan_port, orphan_sem, old_segment, f"{old_segment}_el", mapped, mapped_sem]
    for name in names:
        (SHM / name).write_bytes(b"x" * 4096)
    holder = open(SHM / mapped, "r+b")
    view = mmap.mmap(holder.fileno(), 4096)
    holder.close()  # only the mapping holds it now
    try:
        keep = fastdds_files() - set(names)
        removed = remove_leftovers(keep)
        assert sorted(removed) == sorted(names[:4])
        assert (SHM / mapped).exists() and (SHM / mapped_sem).exists()
    finally:
        view.close()
        for name in names:
            (SHM / name).unlink(missing_ok=True)
