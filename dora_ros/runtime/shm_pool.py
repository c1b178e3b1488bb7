"""Shared memory for payloads of 4 KiB and more: anonymous memfd regions, reused.

A sender owns a pool of regions. Each region is a ``memfd`` (no name in /dev/shm, not openable
by other users), mapped once, pre-faulted, and handed to each receiver once over the Unix socket
(SCM_RIGHTS). The kernel frees a region when the last process holding it dies, so nothing can leak
when any process is SIGKILLed.

A region is busy while any receiver still references a message in it; receivers send RELEASE
records when their last Python reference dies (see ``transport.InboundLink``). Reusing regions
matters: writing to fresh pages runs at ~4 GB/s here (page faults), to faulted ones at ~15 GB/s.

A region the pool gives up (more than ``MAX_FREE_REGIONS`` free, or the pool closing) is *retired*:
every link that handed its fd to a receiver is told (``RegionUser.retire``), and the receiver
unmaps it. So a receiver maps at most what its sender still holds: the regions in flight to it
plus ``MAX_FREE_REGIONS``, whatever the burst sizes and payload sizes over time.

A region still held by a receiver whose link closes (the receiver's node closed, or it died) is
*abandoned* (``ShmPool.abandon``): it is never reused, since a closed receiver may still read its
arrays over it and sends no RELEASE any more. Once no other receiver holds it, the sender
retires it (unmaps it, closes its fd); the kernel frees the memory when the closed receiver's
mapping goes. Abandoned regions leave the pool's table at once, so they cannot pile up.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass, field
from typing import Protocol

import pyarrow as pa

_PAGE = mmap.PAGESIZE
# Free regions kept for reuse; older ones beyond this are unmapped.
MAX_FREE_REGIONS = 8
# Generations travel as uint32 (wire.SHM_REF, RELEASE_ITEM) and are compared for equality only.
GENERATION_MASK = 0xFFFFFFFF


@dataclass(eq=False)
class Region:
    """One memfd mapping owned by a sender."""

    id: int
    size: int
    fd: int
    mm: mmap.mmap
    buffer: pa.Buffer  # writable view over the whole mapping
    generation: int = 0
    busy: int = 0  # receivers that still reference the current message
    sent_to: set[int] = field(default_factory=set)  # link ids that already have the fd
    abandoned: bool = False  # a closed receiver may still read it: never reused (module doc)

    def close(self) -> None:
        del self.buffer
        try:
            self.mm.close()
        except BufferError:  # a caller still holds a view; the kernel frees it later
            pass
        os.close(self.fd)


class RegionUser(Protocol):
    """A link that handed regions' fds to its receiver and must tell it when they are retired."""

    def retire(self, region_id: int) -> None: ...


_MIN_SIZE = 64 * 1024  # the smallest region


def _round_size(nbytes: int) -> int:
    # Round up to a power of two above 64 KiB granularity, so similar sizes share regions.
    size = max(nbytes, _MIN_SIZE)
    return 1 << (size - 1).bit_length()


class ShmPool:
    """The regions of one sending node."""

    def __init__(self) -> None:
        self._regions: dict[int, Region] = {}
        self._free: list[Region] = []
        self._next_id = 1
        self._users: dict[int, RegionUser] = {}  # link id -> link, for retirement notices
        self.abandoned = 0  # regions given up because a closed receiver still held them

    def acquire(self, nbytes: int) -> Region:
        """A region of at least ``nbytes`` that no receiver references."""
        region = self.take_free(nbytes)
        return region if region is not None else self._create(_round_size(nbytes))

    def take_free(self, nbytes: int) -> Region | None:
        """A free region that fits ``nbytes`` (the smallest), or None."""
        free = self._free
        if not free:
            return None
        # The region freed last, when it is of ``nbytes``' size class (so the smallest that
        # fits: sizes are powers of two from 64 KiB): a steady stream takes this branch and
        # reuses the region warmest in the caches, without the scan below (with the loop in
        # NodeLoop.send_index, a 4 KiB send went from 4.5-5.2 to 3.8-4.3 us; docs/benchmarks.md).
        region = free[-1]
        size = region.size
        if size >= nbytes and (size == _MIN_SIZE or size >> 1 < nbytes):
            free.pop()
            region.generation = (region.generation + 1) & GENERATION_MASK
            return region
        best = None
        for region in self._free:
            if region.size >= nbytes and region.size <= 4 * max(nbytes, _MIN_SIZE):
                if best is None or region.size < best.size:
                    best = region
        if best is not None:
            self._free.remove(best)
            best.generation = (best.generation + 1) & GENERATION_MASK
        return best

    def _create(self, size: int) -> Region:
        fd = os.memfd_create("dora-ros", os.MFD_CLOEXEC)
        os.ftruncate(fd, size)
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        mm = mmap.mmap(fd, size, flags=flags, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        region = Region(self._next_id, size, fd, mm, pa.py_buffer(mm))
        self._next_id += 1
        self._regions[region.id] = region
        return region

    def release(self, region_id: int, generation: int) -> None:
        """One receiver no longer references the message it got in region ``region_id``."""
        region = self._regions.get(region_id)
        if region is None or region.generation != generation or region.busy <= 0:
            return
        region.busy -= 1
        if region.busy == 0:
            self._make_free(region)

    def abandon(self, region_id: int, generation: int) -> None:
        """The link of a receiver that still held region ``region_id`` closed: the region is
        never reused (that receiver may still read it), and is retired once no other receiver
        holds it."""
        region = self._regions.get(region_id)
        if region is None or region.generation != generation or region.busy <= 0:
            return
        if not region.abandoned:
            region.abandoned = True
            self.abandoned += 1
        region.busy -= 1  # the closed receiver's count
        if region.busy == 0:
            self._retire(region)

    def settle(self, region: Region) -> None:
        """Called after a send: a region nobody received goes back to the free list."""
        if region.busy == 0:
            self._make_free(region)

    def handed_to(self, region: Region, link_id: int, user: RegionUser) -> None:
        """``region``'s fd went to the receiver of link ``link_id``: tell it when it retires."""
        region.sent_to.add(link_id)
        self._users[link_id] = user

    def forget_link(self, link_id: int) -> None:
        self._users.pop(link_id, None)
        for region in self._regions.values():
            region.sent_to.discard(link_id)

    def _make_free(self, region: Region) -> None:
        if region.abandoned:
            self._retire(region)
            return
        self._free.append(region)
        if len(self._free) > MAX_FREE_REGIONS:
            self._retire(self._free.pop(0))

    def _retire(self, region: Region) -> None:
        if self._regions.get(region.id) is not region:
            return  # retired already (an abandoned region settled again)
        del self._regions[region.id]
        for link_id in region.sent_to:
            user = self._users.get(link_id)
            if user is not None:
                user.retire(region.id)
        region.sent_to.clear()
        region.close()

    @property
    def region_count(self) -> int:
        """Regions alive (busy or free): the most any receiver of this pool has mapped."""
        return len(self._regions)

    def close(self) -> None:
        for region in self._regions.values():
            region.close()
        self._regions.clear()
        self._free.clear()
        self._users.clear()


class Mapping:
    """A receiver's read-only mapping of one region of one sender."""

    __slots__ = ("address", "array", "mm", "size")

    def __init__(self, fd: int, size: int) -> None:
        import numpy as np

        self.mm = mmap.mmap(fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
        os.close(fd)
        self.size = size
        self.array = np.frombuffer(self.mm, dtype=np.uint8)
        self.address = int(self.array.ctypes.data)
