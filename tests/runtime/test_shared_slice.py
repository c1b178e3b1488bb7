"""The receiver's lease on a shared-memory message, with the C ``shared_slice`` and without it.

A received message of 4 KiB or more is an Arrow buffer over the receiver's mapping of the sender's
region (no copy), read-only, that keeps the mapping alive and queues a RELEASE for the sender only
when the last Arrow object over it dies. ``_sample_buffer.c``'s ``shared_slice`` does this in C on
the receive path (issue 12's 4-64 KiB latency); without the C extension ``transport._Lease`` and
``pa.foreign_buffer`` do the same. Both are run here over a real socket pair and a real memfd pool:
a sender's link, a receiver's link, RELEASE records back to the sender's pool.
"""

from __future__ import annotations

import collections
import gc
import importlib
import mmap
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from c_build import aarch64_compiler, compile_object, host_compiler

from dora_ros.runtime import transport, wire
from dora_ros.runtime.shm_pool import ShmPool
from dora_ros.runtime.transport import SocketInboundLink, SocketOutboundLink

SOURCE = Path(transport.__file__).parent / "_sample_buffer.c"
HAS_C = importlib.util.find_spec("dora_ros.runtime._sample_buffer") is not None


@pytest.fixture(params=["c", "python"])
def flavour(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "c":
        assert HAS_C, "the C extension is not built (make, or pip install -e .)"
        assert transport._shared_slice is not None
    else:
        monkeypatch.setattr(transport, "_shared_slice", None)
    return str(request.param)


class Edge:
    """One sender pool and link, one receiver link, over a SOCK_SEQPACKET pair."""

    def __init__(self) -> None:
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        a.setblocking(False)
        b.setblocking(False)
        self.pool = ShmPool()
        self.out = SocketOutboundLink(1, "receiver", a, 10)
        self.inbound = SocketInboundLink(b)
        self.frames: list[bytes] = []

    def send(self, payload: bytes) -> int:
        """Send ``payload`` in a region; returns the region id."""
        region = self.pool.acquire(len(payload))
        region.mm[: len(payload)] = payload
        header = wire.HEADER.pack(wire.KIND_SHM, wire.ENC_BYTES, 0, 0, 0, 0, len(payload))
        ref = wire.SHM_REF.pack(region.id, region.generation, region.size)
        fds = [region.fd] if self.out.needs_fd(region) else []
        self.out.send([header, ref, b""], fds, region, self.pool)
        self.pool.settle(region)
        return region.id

    def receive(self) -> pa.Array:
        """The next message as the node gets it (the buffer from ``shm_buffer``)."""
        self.frames.clear()
        assert self.inbound.receive(lambda _link, data, _: self.frames.append(data))
        (data,) = self.frames
        _, encoding, _, code, _, _, nbytes = wire.HEADER.unpack_from(data)
        region_id, generation, _ = wire.SHM_REF.unpack_from(data, wire.HEADER.size)
        buf = self.inbound.shm_buffer(region_id, generation, nbytes)
        return wire.decode_payload(encoding, code, buf)

    def busy(self) -> int:
        """Messages the sender still counts as held by the receiver (after its releases)."""
        assert self.inbound.flush_releases()
        self.out.read_releases(self.pool)
        return sum(r.busy for r in self.pool._regions.values())

    def close(self) -> None:
        self.out.close(self.pool)
        self.inbound.close()
        self.pool.close()


@pytest.fixture
def edge() -> Iterator[Edge]:
    e = Edge()
    yield e
    e.close()


def test_a_received_message_is_the_mapping_itself_read_only(flavour: str, edge: Edge) -> None:
    payload = bytes(range(256)) * 40  # 10,240 bytes
    region_id = edge.send(payload)
    value = edge.receive()
    assert value.to_numpy().tobytes() == payload
    data = value.buffers()[1]
    mapping = edge.inbound.mappings[region_id]
    view = np.frombuffer(mapping.mm, np.uint8)
    assert data.address == view.ctypes.data  # zero copy: the receiver's mapping of the region
    assert data.size == len(payload)
    assert not data.is_mutable
    with pytest.raises((BufferError, TypeError, ValueError)):
        memoryview(data)[0] = 1  # type: ignore[index]


def test_the_release_goes_back_when_the_last_view_dies(flavour: str, edge: Edge) -> None:
    edge.send(b"\1" * 5000)
    value = edge.receive()
    numpy_view = value.to_numpy(zero_copy_only=True)
    del value
    assert edge.busy() == 1  # a numpy view still shows the sender's memory: not released
    assert not edge.inbound.releases
    assert numpy_view[0] == 1
    del numpy_view
    assert edge.busy() == 0  # released, and the sender read the RELEASE record
    region = edge.pool.take_free(5000)
    assert region is not None  # the region is free for the next message


def test_a_retired_region_stays_mapped_while_a_message_over_it_lives(
    flavour: str, edge: Edge
) -> None:
    region_id = edge.send(b"\7" * 8192)
    value = edge.receive()
    # The sender retires the region (as when it gives up a region beyond MAX_FREE_REGIONS):
    # the receiver drops the mapping from its table, the message must still read.
    edge.inbound.sock.setblocking(False)
    edge.out.retire(region_id)
    assert edge.inbound.receive(lambda *_: pytest.fail("a RETIRE is not a frame"))
    assert region_id not in edge.inbound.mappings
    assert value.to_numpy()[-1] == 7
    del value
    assert len(edge.inbound.releases) == 1


def test_many_messages_cycle_through_a_few_regions(flavour: str, edge: Edge) -> None:
    regions = set()
    for i in range(200):
        regions.add(edge.send(bytes([i % 256]) * 4096))
        value = edge.receive()
        assert value.to_numpy()[0] == i % 256
        del value
        assert edge.busy() == 0
    assert len(regions) == 1  # each message's region was released before the next send
    assert edge.pool.region_count == 1


def test_shared_slice_keeps_the_exception_being_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    # The lease may die while an exception propagates (a node's handler raised with a message in
    # a local variable): its release must not replace or clear that exception.
    assert HAS_C, "the C extension is not built (make, or pip install -e .)"
    shared_slice = importlib.import_module("dora_ros.runtime._sample_buffer").shared_slice
    fd = os.memfd_create("test-shared-slice")
    os.ftruncate(fd, 65536)
    mm = mmap.mmap(fd, 65536, prot=mmap.PROT_READ)
    os.close(fd)
    releases: collections.deque[Any] = collections.deque()

    def handler() -> None:
        buf = pa.py_buffer(shared_slice(mm, 4096, releases, (3, 4)))
        assert buf.size == 4096
        raise KeyError("from the handler")

    with pytest.raises(KeyError, match="from the handler"):
        handler()
    assert list(releases) == [(3, 4)]
    with pytest.raises(ValueError, match="65537 bytes do not fit in a mapping of 65536"):
        shared_slice(mm, 65537, releases, (1, 1))
    with pytest.raises(TypeError):
        shared_slice(mm, 1, releases)  # type: ignore[call-arg]
    # An append that fails is reported as unraisable, never raised where the buffer died.
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    slice_ = shared_slice(mm, 8, None, (5, 6))
    del slice_
    assert [type(u.exc_value) for u in unraisable] == [AttributeError]
    assert list(releases) == [(3, 4)]
    mm.close()  # every export is gone


def test_the_c_helper_compiles_without_warnings_here(tmp_path: Path) -> None:
    compile_object(host_compiler(), SOURCE, tmp_path)


def test_the_c_helper_compiles_without_warnings_for_aarch64(tmp_path: Path) -> None:
    compile_object(aarch64_compiler(), SOURCE, tmp_path)


def _receiver_maps() -> int:
    """Read-only mappings of dora-ros regions in this process (the receivers' ``Mapping``s)."""
    with open("/proc/self/maps") as maps:
        return sum(1 for line in maps if "/memfd:dora-ros" in line and line.split()[1][1] == "-")


def test_a_kept_array_holds_only_its_own_mapping_of_a_closed_link(flavour: str) -> None:
    # Issue 12 (review): without the C extension the lease held the whole link, so one kept
    # array kept all 12 mappings of a closed link alive (the C slice: its own only).
    edge = Edge()
    try:
        before = _receiver_maps()
        kept = []
        for i in range(12):  # each kept: 12 regions, 12 mappings
            edge.send(bytes([i + 1]) * 8192)
            kept.append(edge.receive())
        assert _receiver_maps() == before + 12
        last = kept[-1]
        del kept
        edge.out.close(edge.pool)
        edge.inbound.close()
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        a.close()
        edge.inbound = SocketInboundLink(b)  # the closed link is dropped, as the node does
        gc.collect()
        assert _receiver_maps() == before + 1
        assert last.to_numpy()[-1] == 12
        del last
        assert _receiver_maps() == before
    finally:
        edge.close()


def test_generations_wrap_past_two_to_the_32(flavour: str, edge: Edge) -> None:
    # Generations travel as uint32: after 2**32 reuses of one region the sender died with
    # struct.error. They wrap, and are compared for equality only.
    region_id = edge.send(b"\0" * 8192)
    edge.receive()  # dropped at once
    assert edge.busy() == 0
    edge.pool._regions[region_id].generation = 2**32 - 3
    generations = []
    for i in range(6):
        assert edge.send(bytes([i + 1]) * 8192) == region_id  # the one region, reused
        generations.append(edge.pool._regions[region_id].generation)
        value = edge.receive()
        assert value.to_numpy()[0] == i + 1
        del value
        assert edge.busy() == 0  # the release (with the wrapped generation) freed it
    assert generations == [2**32 - 2, 2**32 - 1, 0, 1, 2, 3]


def test_a_duplicate_release_does_not_take_another_receivers_count(flavour: str) -> None:
    # One region sent to two receivers; the first sends its RELEASE twice. Before, the second
    # copy took the other receiver's count: the region went free and the next message
    # overwrote what the second receiver still read.
    a1, b1 = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    a2, b2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pool = ShmPool()
    outs = [SocketOutboundLink(1, "r1", a1, 10), SocketOutboundLink(2, "r2", a2, 10)]
    try:
        region = pool.acquire(8192)
        ref = wire.SHM_REF.pack(region.id, region.generation, region.size)
        header = wire.HEADER.pack(wire.KIND_SHM, wire.ENC_BYTES, 0, 0, 0, 0, 8192)
        for out in outs:
            out.send([header, ref, b""], [region.fd], region, pool)
        assert region.busy == 2
        release = bytes([wire.KIND_RELEASE]) + wire.RELEASE_ITEM.pack(region.id, region.generation)
        b1.send(release)
        b1.send(release)  # duplicate
        outs[0].read_releases(pool)
        assert region.busy == 1  # the second receiver still holds it
        assert pool.take_free(8192) is None
    finally:
        for out in outs:
            out.close(pool)
        pool.close()
        for s in (b1, b2):
            s.close()


class _RacingReleases(collections.deque):  # type: ignore[type-arg]
    """A releases deque where a lease dies on another thread right after flush_releases found
    it empty (between its loop's test and what follows)."""

    late: tuple[int, int] | None = None

    def __len__(self) -> int:
        n = super().__len__()
        if n == 0 and self.late is not None:
            self.append(self.late)  # appended after the emptiness was seen
            self.late = None
        return n


def test_a_release_appended_while_flushing_is_not_lost(edge: Edge) -> None:
    releases = _RacingReleases()
    releases.late = (7, 9)
    edge.inbound.releases = releases
    assert edge.inbound.flush_releases()
    assert list(releases) == [(7, 9)]  # sent by the next flush, not dropped
    assert edge.inbound.flush_releases()
    assert not releases
    assert edge.out.sock.recv(64) == bytes([wire.KIND_RELEASE]) + wire.RELEASE_ITEM.pack(7, 9)


def test_regions_a_closed_receiver_still_holds_are_never_reused(flavour: str, edge: Edge) -> None:
    # Issue 12 (review): a closed link gave every region its receiver held back to the free
    # list, and the next messages overwrote arrays the closed node still read (MAP_SHARED).
    kept = []
    for i in range(4):
        edge.send(bytes([i + 1]) * 8192)
        kept.append(edge.receive())
    held = set(edge.out.outstanding)
    assert len(held) == 4
    edge.out.close(edge.pool)  # the receiver's node closed: its sender sees the link close
    reused = []
    for _ in range(8):
        region = edge.pool.acquire(8192)
        reused.append(region.id in held)
        region.mm[:8192] = b"\xff" * 8192
        edge.pool.settle(region)
    assert [int(v.to_numpy()[0]) for v in kept] == [1, 2, 3, 4]
    assert [int(v.to_numpy()[-1]) for v in kept] == [1, 2, 3, 4]
    assert not any(reused)
    assert edge.pool.abandoned == 4
    assert edge.pool.region_count == 1  # the abandoned ones left the pool: one new region


def test_a_region_a_closed_receiver_held_is_retired_when_the_others_release_it() -> None:
    # Sent to two receivers; the first one's link closes while it holds the region: the second
    # one's release then retires the region (the second receiver is told to unmap it) instead
    # of freeing it for reuse.
    a1, b1 = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    a2, b2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pool = ShmPool()
    outs = [SocketOutboundLink(1, "r1", a1, 10), SocketOutboundLink(2, "r2", a2, 10)]
    try:
        region = pool.acquire(8192)
        ref = wire.SHM_REF.pack(region.id, region.generation, region.size)
        header = wire.HEADER.pack(wire.KIND_SHM, wire.ENC_BYTES, 0, 0, 0, 0, 8192)
        for out in outs:
            out.send([header, ref, b""], [region.fd], region, pool)
        outs[0].close(pool)
        assert pool.abandoned == 1 and region.busy == 1
        assert pool.region_count == 1  # the second receiver still holds it
        b2.recv(256)  # the message
        b2.send(bytes([wire.KIND_RELEASE]) + wire.RELEASE_ITEM.pack(region.id, region.generation))
        outs[1].read_releases(pool)
        assert pool.region_count == 0 and pool.take_free(8192) is None
        retire = b2.recv(256)
        assert retire == bytes([wire.KIND_RETIRE]) + wire.RETIRE_ITEM.pack(region.id)
        assert pool.acquire(8192) is not region
    finally:
        for out in outs:
            out.close(pool)
        pool.close()
        for s in (b1, b2):
            s.close()


def test_receivers_that_close_again_and_again_leave_nothing_in_the_sender(flavour: str) -> None:
    # A dynamic node leaving and rejoining: each time its link closes while it keeps arrays,
    # so its regions are abandoned. They must leave the pool (no regions, fds or mappings
    # piling up in the sender), whatever the receiver keeps.
    pool = ShmPool()
    fds_before = len(os.listdir("/proc/self/fd"))
    maps_before = (_receiver_maps(), _sender_maps())
    try:
        for _ in range(30):
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            out, inbound = SocketOutboundLink(1, "dynamic", a, 10), SocketInboundLink(b)
            kept = []
            for i in range(3):
                region = pool.acquire(8192)
                region.mm[:8192] = bytes([i + 1]) * 8192
                ref = wire.SHM_REF.pack(region.id, region.generation, region.size)
                header = wire.HEADER.pack(wire.KIND_SHM, wire.ENC_BYTES, 0, 0, 0, 0, 8192)
                fds = [region.fd] if out.needs_fd(region) else []
                out.send([header, ref, b""], fds, region, pool)
                pool.settle(region)
                assert inbound.receive(lambda *_: None)
                kept.append(inbound.shm_buffer(region.id, region.generation, 8192))
            out.close(pool)
            inbound.close()
            assert [buf.to_pybytes()[:1] for buf in kept] == [b"\1", b"\2", b"\3"]
            del kept, inbound
        assert pool.abandoned == 90
        assert pool.region_count == 0
        assert len(os.listdir("/proc/self/fd")) <= fds_before
        assert (_receiver_maps(), _sender_maps()) == maps_before
    finally:
        pool.close()


def _sender_maps() -> int:
    with open("/proc/self/maps") as maps:
        return sum(1 for line in maps if "/memfd:dora-ros" in line and line.split()[1][1] == "w")
