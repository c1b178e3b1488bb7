"""Shared memory stays bounded over a long run: receivers unmap the regions their sender retired,
and no RELEASE record is lost when the sender's socket is full.

Mappings are counted where they live: the receiving node reads its own `/proc/self/maps` and
counts the `memfd:dora-ros` regions mapped there.
"""

from __future__ import annotations

from runflow import run_flow, write_flow

COUNT_MAPS = """
def dora_maps():
    \"\"\"Regions of other nodes mapped in this process.\"\"\"
    with open("/proc/self/maps") as maps:
        return sum(1 for line in maps if "/memfd:dora-ros" in line)
"""


def test_receiver_unmaps_regions_its_sender_retired(tmp_path):
    # 30 bursts of 20 messages in flight at once (more than the sender's 8 free regions) with
    # sizes from 5 kB to 1.1 MB: the sender creates and retires regions all the time. Before
    # retirement was told to receivers, the receiver's mappings grew by ~12 per burst (>300).
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: sender
            path: sender.py
            inputs: {ack: receiver/ack}
            outputs: [data]
          - id: receiver
            path: receiver.py
            inputs: {data: {source: sender/data, queue_size: 64}}
            outputs: [ack]
        """,
        maps=COUNT_MAPS,
        sender="""
        import random
        import numpy as np
        import pyarrow as pa
        from _rec import record
        from dora_ros import Node

        node = Node()
        rng = random.Random(7)
        sizes = [5_000, 70_000, 300_000, 1_100_000]
        regions = []
        def burst():
            for _ in range(20):
                node.send_output("data", pa.array(np.zeros(rng.choice(sizes), np.uint8)))
            regions.append(node._pool._regions.__len__())
        burst()
        for event in node:
            if event["type"] == "INPUT":
                if len(regions) == 30:
                    break
                burst()
        record("regions", regions)
        """,
        receiver="""
        import pyarrow as pa
        from _rec import record
        from dora_ros import Node
        from maps import dora_maps

        node = Node()
        held, counts = [], []
        for event in node:
            if event["type"] != "INPUT":
                continue
            held.append(event["value"])
            del event
            if len(held) == 20:
                counts.append(dora_maps())
                held.clear()
                node.is_empty()  # sends the RELEASE records before the ack
                node.send_output("ack", pa.array([len(counts)]))
        record("counts", counts)
        """,
    )
    result = run_flow(flow, timeout=60)
    assert result.returncode == 0, result.stderr
    counts = flow.result("counts")
    assert len(counts) == 30, counts
    # 20 held + the sender's 8 free regions, and a few retired while a burst was on its way.
    assert max(counts) <= 40, counts
    assert max(counts[-10:]) <= max(counts[:10]) + 4, counts
    assert max(flow.result("regions")) <= 40


def test_release_records_wait_while_the_senders_socket_is_full(tmp_path):
    # The sender sends 600 shared-memory messages and then does not read its socket for 2 s
    # while the receiver drops each message: one RELEASE record each, more than the socket holds.
    # Before, those that did not fit were dropped and their regions stayed busy for good.
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: sender
            path: sender.py
            outputs: [data]
          - id: receiver
            path: receiver.py
            inputs: {data: {source: sender/data, queue_size: 3000}}
        """,
        sender="""
        import time
        import pyarrow as pa
        from _rec import record
        from dora_ros import Node

        node = Node()
        for i in range(600):
            node.send_output("data", pa.array([i % 256] * 5000, pa.uint8()))
        time.sleep(2.5)  # not reading: the receiver's RELEASE records pile up in our socket
        deadline = time.monotonic() + 5
        busy = None
        while time.monotonic() < deadline:
            node.is_empty()  # sends what waited for the receiver's socket
            for link in node._links.values():  # as the next send of shared memory does
                link.read_releases(node._pool)
            busy = sum(r.busy for r in node._pool._regions.values())
            if busy == 0:
                break
            time.sleep(0.05)
        record("busy", busy)
        """,
        receiver="""
        import time
        from _rec import record
        from dora_ros import Node

        node = Node()
        time.sleep(0.5)  # the sender's burst is in our socket
        n = 0
        for event in node:
            if event["type"] == "INPUT":
                n += 1
            del event
        record("received", n)
        """,
    )
    result = run_flow(flow, timeout=60)
    assert result.returncode == 0, result.stderr
    assert flow.result("received") == 600
    assert flow.result("busy") == 0


def test_a_receiver_that_dies_with_messages_queued_for_it_does_not_break_the_sender(tmp_path):
    # The sender's queue for a busy receiver holds shared-memory records when the receiver dies.
    # Before, the next send found the link closed under it: IndexError (pop from an empty
    # deque) or EBADF on the closed socket, and the sender crashed; its regions were also
    # counted free twice.
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: sender
            path: sender.py
            outputs: [data]
          - id: receiver
            path: receiver.py
            inputs: {data: {source: sender/data, queue_size: 2}}
        """,
        sender="""
        import time
        from _rec import record
        from dora_ros import Node

        node = Node()
        # 3 s of sending without waiting for events (which would notice the receiver's exit
        # first): the receiver dies in the middle of it.
        for _ in range(20):  # inline records fill the receiver's backlog: what follows waits
            node.send_output("data", bytes(8))
        until = time.monotonic() + 3
        while time.monotonic() < until:
            node.send_output("data", bytes(100_000))  # shared memory: queued while it sleeps
            node.send_output("data", bytes(8))  # inline: sent without looking for releases
            time.sleep(0.001)
        node.drain()  # takes the RELEASE records of the gone receiver's link
        busy = [r.busy for r in node._pool._regions.values()]
        record("busy", busy)
        """,
        receiver="""
        import os, time
        from dora_ros import Node

        node = Node()
        time.sleep(1.0)  # not reading: the sender's queue for us fills
        os._exit(0)  # gone, with records queued for us at the sender
        """,
    )
    result = run_flow(flow, timeout=60)
    assert result.returncode == 0, result.stderr
    assert all(b == 0 for b in flow.result("busy")), flow.result("busy")


def test_a_sender_in_step_with_its_receiver_has_its_region_back_with_the_reply(tmp_path):
    # Ping-pong of 5 kB messages: the receiver drops each one and replies. Its RELEASE goes
    # before the reply (NodeLoop.send_releases) and the sender takes it before next() hands it
    # the reply, so each send finds the one region free and never reads RELEASE records on its
    # send path (NodeLoop.acquire runs only when no free region is at hand). Before, the release
    # went after the reply and the sender read its releases when it entered next(), before the
    # reply came: every reply found the region busy (issue 12's 4-64 KiB latency: 2.5-3 us per
    # message when the send had to read them).
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: sender
            path: sender.py
            inputs: {ack: receiver/ack}
            outputs: [data]
          - id: receiver
            path: receiver.py
            inputs: {data: sender/data}
            outputs: [ack]
        """,
        sender="""
        import numpy as np
        import pyarrow as pa
        from _rec import record
        from dora_ros import Node

        node = Node()
        loop = node._loop
        misses = []
        acquire = loop.acquire
        def counting_acquire(nbytes):
            misses.append(nbytes)
            return acquire(nbytes)
        loop.acquire = counting_acquire
        payload = pa.array(np.zeros(5000, np.uint8))
        busy = []
        node.send_output("data", payload)
        for event in node:
            if event["type"] != "INPUT":
                continue
            busy.append(sum(r.busy for r in node._pool._regions.values()))
            if len(busy) == 200:
                break
            node.send_output("data", payload)
        record("busy", busy)
        record("misses", len(misses))
        record("regions", node._pool.region_count)
        """,
        receiver="""
        import pyarrow as pa
        from dora_ros import Node

        node = Node()
        for event in node:
            if event["type"] == "INPUT":
                n = len(event["value"])
                del event  # the message is dropped: its region can go back
                node.send_output("ack", pa.array([n], pa.uint32()))
        """,
    )
    result = run_flow(flow, timeout=60)
    assert result.returncode == 0, result.stderr
    busy = flow.result("busy")
    assert len(busy) == 200
    assert busy == [0] * 200, f"region still busy at {200 - busy.count(0)} of 200 replies"
    assert flow.result("misses") == 1  # the first send, which made the region
    assert flow.result("regions") == 1


def test_arrays_a_closed_receiver_keeps_are_not_overwritten(tmp_path):
    # Issue 12 (review): a receiver keeps numpy views of its last 8 messages and closes its
    # Node; its sender saw the link close and put every region that receiver held back on the
    # free list, so the next bursts overwrote what the closed node still read (7 of 8 arrays
    # corrupted). Those regions are abandoned now: never reused.
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: sender
            path: sender.py
            outputs: [data]
          - id: steady
            path: steady.py
            inputs: {data: {source: sender/data, queue_size: 100}}
          - id: early
            path: early.py
            inputs: {data: {source: sender/data, queue_size: 100}}
        """,
        sender="""
        import time
        import numpy as np
        import pyarrow as pa
        from _rec import record
        from dora_ros import Node

        node = Node()
        index = 0
        until = time.monotonic() + 5
        while time.monotonic() < until:
            for _ in range(30):
                node.send_output("data", pa.array(np.full(8192, index, np.int64)))  # 64 KiB
                index += 1
            time.sleep(0.05)
            node.drain()
        record("pool", (getattr(node._pool, "abandoned", None), node._pool.region_count))
        """,
        steady="""
        from dora_ros import Node

        node = Node()
        for event in node:
            pass
        """,
        early="""
        import time
        from _rec import record
        from dora_ros import Node

        node = Node()
        kept = []
        count = 0
        for event in node:
            if event["type"] == "INPUT":
                count += 1
                kept = [*kept[-7:], event["value"].to_numpy()]
                if count == 30:
                    break
        taken = [int(a[0]) for a in kept]
        node.close()
        time.sleep(3)  # the sender sends on, for ~60 bursts
        record("kept", (taken, [sorted(set(a.tolist())) for a in kept]))
        """,
    )
    result = run_flow(flow, timeout=60)
    assert result.returncode == 0, result.stderr
    taken, seen = flow.result("kept")
    assert seen == [[i] for i in taken], "a kept array was overwritten after close"
    abandoned, regions = flow.result("pool")
    assert abandoned >= 8
    assert regions <= 40
