"""The transport between real nodes: shared memory from 4 KiB, zero copy on receive, region reuse,
`send_output_raw`, and bounded input queues (oldest dropped first, drops reported).

Zero copy is checked where it happens: inside the receiving node, the address of the received
value's data buffer must lie in a `memfd:dora-ros` mapping of that process (`/proc/self/maps`).
"""

from __future__ import annotations

import re

from runflow import run_flow, write_flow

# Imported by node scripts: which mapping of this process holds an address.
MAPS = """
def mapping_of(address):
    \"\"\"(start, end, perms, name) of the mapping of this process holding `address`, or None.\"\"\"
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if start <= address < end:
                name = fields[5].strip() if len(fields) > 5 else ""
                return start, end, fields[1], name
    return None
"""


def test_large_payloads_arrive_zero_copy_in_reused_memfd_regions(tmp_path):
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
        maps=MAPS,
        sender="""
        import pyarrow as pa
        from dora_ros import Node

        node = Node()
        # Ping-pong, so the receiver has dropped message k before message k+1 is sent.
        rounds = 0
        def send(k):
            if k % 2:  # the IPC path: strings
                node.send_output("data", pa.array([f"{k}:{i:06d}" for i in range(8000)]), {"k": k})
            else:  # the flat path: 64 KiB of uint8
                node.send_output("data", pa.array([k % 256] * 65536, pa.uint8()), {"k": k})
        send(0)
        for event in node:
            if event["type"] == "INPUT":
                rounds += 1
                if rounds == 20:
                    break
                send(rounds)
        """,
        receiver="""
        import pyarrow as pa
        from _rec import record
        from dora_ros import Node
        from maps import mapping_of

        node = Node()
        seen = []
        while (event := node.next()) is not None:
            if event["type"] != "INPUT":
                continue
            value, k = event["value"], event["metadata"]["k"]
            ok = value.to_pylist()[:2] == (
                [f"{k}:000000", f"{k}:000001"] if k % 2 else [k % 256] * 2
            )
            # The data buffer (values of uint8; characters of strings) and, for strings, the
            # offsets buffer all lie in shared memory.
            addresses = [b.address for b in value.buffers() if b is not None]
            seen.append((k, ok, len(value), [mapping_of(a) for a in addresses]))
            node.send_output("ack", pa.array([k]))
            del event, value  # drop the message: its region may go back to the sender
        record("seen", seen)
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    seen = flow.result("seen")
    assert [k for k, *_ in seen] == list(range(20))
    starts = []
    for k, ok, length, mappings in seen:
        assert ok, k
        assert length == (8000 if k % 2 else 65536)
        for mapping in mappings:
            assert mapping is not None, (k, mappings)
            _, _, perms, name = mapping
            assert name.startswith("/memfd:dora-ros"), (k, mapping)
            assert perms.startswith("r-"), perms  # receivers map it read-only
        starts.append(mappings[-1][0])
    # Regions are reused: 20 messages, a handful of mappings, the same one seen again and again.
    assert len(set(starts)) <= 4, starts
    assert max(starts.count(s) for s in set(starts)) >= 5, starts


def test_small_payloads_do_not_use_shared_memory(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: sender
            path: sender.py
            outputs: [data]
          - id: receiver
            path: receiver.py
            inputs: {data: sender/data}
        """,
        maps=MAPS,
        sender="""
        import pyarrow as pa
        from dora_ros import Node

        node = Node()
        node.send_output("data", pa.array(range(511), pa.int64()))  # 4088 bytes: inline
        node.send_output("data", pa.array(range(512), pa.int64()))  # 4096 bytes: shared memory
        """,
        receiver="""
        from _rec import record
        from dora_ros import Node
        from maps import mapping_of

        node = Node()
        got = []
        for event in node:
            if event["type"] == "INPUT":
                value = event["value"]
                mapping = mapping_of(value.buffers()[1].address)
                got.append((value.to_pylist(), mapping[3] if mapping else None))
        record("got", got)
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    (small, small_map), (large, large_map) = flow.result("got")
    assert small == list(range(511)) and large == list(range(512))
    assert not (small_map or "").startswith("/memfd:dora-ros"), small_map
    assert large_map.startswith("/memfd:dora-ros"), large_map


def test_send_output_raw_small_and_large(tmp_path):
    sizes = [0, 16, 4095, 4096, 1 << 20, 3 * (1 << 20) + 5]
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: sender
            path: sender.py
            outputs: [data]
          - id: receiver
            path: receiver.py
            inputs: {data: {source: sender/data, queue_size: 100}}
        """,
        maps=MAPS,
        sender=f"""
        import numpy as np
        from _rec import record
        from dora_ros import Node
        from maps import mapping_of

        node = Node()
        where = {{}}
        for n in {sizes!r}:
            with node.send_output_raw("data", n, {{"n": n}}) as buf:
                array = np.frombuffer(buf, np.uint8)
                array[:] = np.arange(n) % 251
                mapping = mapping_of(array.ctypes.data) if n else None
                where[n] = mapping[3] if mapping else None
                del array  # as with dora-rs: no view may outlive the block (send() refuses)
        record("sender", where)
        """,
        receiver="""
        import numpy as np
        from _rec import record
        from dora_ros import Node
        from maps import mapping_of

        node = Node()
        got = {}
        for event in node:
            if event["type"] == "INPUT":
                value, n = event["value"], event["metadata"]["n"]
                data = value.to_numpy(zero_copy_only=True)
                mapping = mapping_of(value.buffers()[1].address) if n else None
                got[n] = (
                    str(value.type),
                    len(value),
                    bool((data == np.arange(n) % 251).all()),
                    mapping[3] if mapping else None,
                )
        record("receiver", got)
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    sender, receiver = flow.result("sender"), flow.result("receiver")
    assert sorted(receiver) == sizes
    for n in sizes:
        value_type, length, equal, mapping = receiver[n]
        assert (value_type, length, equal) == ("uint8", n, True), n
        in_shm = n >= 4096
        # Large buffers are written straight into shared memory and read from it.
        assert (sender[n] or "").startswith("/memfd:dora-ros") == in_shm, (n, sender[n])
        assert (mapping or "").startswith("/memfd:dora-ros") == in_shm, (n, mapping)


def test_slow_receiver_keeps_the_newest_and_the_run_reports_drops(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: sender
            path: sender.py
            outputs: [small, large]
          - id: receiver
            path: receiver.py
            inputs:
              small: {source: sender/small, queue_size: 2}
              large: {source: sender/large, queue_size: 2}
        """,
        sender="""
        import numpy as np
        import pyarrow as pa
        from dora_ros import Node

        node = Node()
        for i in range(30):
            node.send_output("small", pa.array([i]))
            node.send_output("large", pa.array(np.full(100_000, i, np.int32)))
        """,
        receiver="""
        import time
        from _rec import record
        from dora_ros import Node

        node = Node()
        time.sleep(1.5)  # slow: all 30 messages of each input arrive while it sleeps
        got = []
        for event in node:
            value = event.get("value")
            got.append(
                (event["type"], event["id"], None if value is None else (value[0].as_py(), len(value)))
            )
        record("got", got)
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    got = flow.result("got")
    inputs = [(i, v) for t, i, v in got if t == "INPUT"]
    small = [v for i, v in inputs if i == "small"]
    large = [v for i, v in inputs if i == "large"]
    assert small == [(28, 1), (29, 1)]
    # Shared-memory records wait at the sender while the receiver's backlog is unread (so its
    # memory stays bounded); whatever the split, they arrive in order and the last one arrives.
    assert [n for _, n in large] == [100_000] * len(large)
    assert large[-1] == (29, 100_000)
    assert [k for k, _ in large] == sorted({k for k, _ in large})
    # Queued inputs come before INPUT_CLOSED, which comes before STOP.
    assert [t for t, _, _ in got][-3:] == ["INPUT_CLOSED", "INPUT_CLOSED", "STOP"]
    drops = _drops(result.stderr)
    assert drops["input small"] == 28
    # Nothing is lost silently: every message was received or counted as dropped.
    assert len(large) + drops.get("input large", 0) + drops.get("send receiver", 0) == 30


def _drops(stderr: str) -> dict[str, int]:
    """Drop counts `dora-ros run` reported: {"input <id>": n, "send <receiver>": n}."""
    counts = {}
    for match in re.finditer(r"input '([^']+)': dropped (\d+) message", stderr):
        counts[f"input {match.group(1)}"] = int(match.group(2))
    for match in re.finditer(r": (\d+) message\(s\) for '([^']+)' were dropped", stderr):
        counts[f"send {match.group(2)}"] = int(match.group(1))
    return counts


def test_messages_sent_just_before_the_sender_exits_arrive(tmp_path):
    # Regression: the sender exits with the receiver's RELEASE record unread in its socket, so the
    # kernel reports ECONNRESET to the receiver once before handing out the last records.
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: sender
            path: sender.py
            outputs: [data]
          - id: receiver
            path: receiver.py
            inputs: {data: sender/data}
        """,
        sender="""
        import time
        import pyarrow as pa
        from dora_ros import Node

        node = Node()
        node.send_output("data", pa.array(range(10_000)))  # shared memory: released later
        time.sleep(0.7)  # the receiver has released it by now; we never read that
        node.send_output("data", pa.array([1]))  # inline: nothing reads the RELEASE
        node.send_output("data", pa.array([1, 2]))
        """,
        receiver="""
        import time
        from _rec import record
        from dora_ros import Node

        node = Node()
        event = node.next()
        got = [len(event["value"])]
        del event
        node.is_empty()  # sends the RELEASE
        time.sleep(1.5)  # the sender exits meanwhile
        got += [len(e["value"]) if e["type"] == "INPUT" else e["type"] for e in node]
        record("got", got)
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    assert flow.result("got") == [10_000, 1, 2, "INPUT_CLOSED", "STOP"]


def test_regions_are_not_reused_while_any_receiver_holds_a_message(tmp_path):
    # Two receivers; one keeps every message alive to the end, the other drops each at once.
    # If a region were reused while the first still references it, its old arrays would change.
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: sender
            path: sender.py
            inputs: {tick: dora/timer/millis/10}
            outputs: [data]
          - id: keeper
            path: receiver.py
            args: keep
            inputs: {data: {source: sender/data, queue_size: 100}}
          - id: dropper
            path: receiver.py
            args: drop
            inputs: {data: {source: sender/data, queue_size: 100}}
        """,
        sender="""
        import numpy as np
        import pyarrow as pa
        from dora_ros import Node

        node = Node()
        k = 0
        for event in node:
            if event["type"] == "INPUT":
                node.send_output("data", pa.array(np.full(50_000, k, np.int32)), {"k": k})
                k += 1
                if k == 40:
                    break
        """,
        receiver="""
        import sys
        from _rec import record
        from dora_ros import Node

        node = Node()
        kept, bad = [], []
        for event in node:
            if event["type"] == "INPUT":
                value, k = event["value"], event["metadata"]["k"]
                if value[0].as_py() != k or value[-1].as_py() != k:
                    bad.append(k)
                if sys.argv[1] == "keep":
                    kept.append((k, value))
            del event
        changed = [k for k, v in kept if v[0].as_py() != k or v[len(v) // 2].as_py() != k]
        record(sys.argv[1], (bad, [k for k, _ in kept], changed))
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    bad, kept, changed = flow.result("keep")
    assert bad == [] and changed == []
    assert kept == list(range(40))
    bad, _, _ = flow.result("drop")
    assert bad == []


def test_messages_for_a_receiver_that_ended_are_reported(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: sender
            path: sender.py
            inputs: {tick: dora/timer/millis/20}
            outputs: [data]
          - id: receiver
            path: receiver.py
            inputs: {data: sender/data}
        """,
        sender="""
        import pyarrow as pa
        from dora_ros import Node

        node = Node()
        sent = 0
        for event in node:
            if event["type"] == "INPUT":
                node.send_output("data", pa.array([sent]))
                sent += 1
                if sent == 40:
                    break
        """,
        receiver="""
        from dora_ros import Node

        node = Node()
        for event in node:
            if event["type"] == "INPUT" and event["value"][0].as_py() == 1:
                break  # leaves early; the sender goes on
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    line = re.search(
        r"node 'sender': (\d+) message\(s\) for 'receiver' were dropped", result.stderr
    )
    assert line is not None, result.stderr
    # Messages already in the receiver's socket when it exits are gone with it, uncounted.
    assert 20 <= int(line.group(1)) <= 38, line.group(0)


def test_shared_memory_of_a_busy_receiver_is_bounded_by_its_queue(tmp_path):
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
        import numpy as np
        import pyarrow as pa
        from _rec import record
        from dora_ros import Node

        node = Node()
        for i in range(200):
            node.send_output("data", pa.array(np.full(1 << 18, i, np.int32)))  # 1 MiB each
        record("regions", len(node._pool._regions))
        """,
        receiver="""
        import time
        from dora_ros import Node

        from _rec import record

        node = Node()
        time.sleep(1)  # busy: not reading
        record("received", [e["value"][0].as_py() for e in node if e["type"] == "INPUT"])
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    # Without the bound it was 200 regions (200 MiB) for a queue of 2.
    assert flow.result("regions") <= 16
    received = flow.result("received")
    assert received == sorted(set(received)) and received
    drops = _drops(result.stderr)
    assert len(received) + drops.get("input data", 0) + drops.get("send receiver", 0) == 200


def test_a_burst_to_a_slower_receiver_with_a_large_queue_loses_nothing(tmp_path):
    # Regression (issue 12, "the 8-byte rate with nothing dropped"): a sender that ends while a
    # slower receiver still has most of its burst to read waited at most 2 s in close(), polling
    # every 10 ms, then dropped the rest ("receiver not running or too slow": 91,033 of 573,033
    # in benchmarks/latency.py). The receiver here is busy in its own code for 3 s first, so it is
    # slower than the sender whatever the load; counts are asserted, not times.
    count = 120_000
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: sender
            path: sender.py
            outputs: [rate]
          - id: receiver
            path: receiver.py
            inputs:
              rate:
                source: sender/rate
                queue_size: 1000000
        """,
        sender=f"""
        import numpy as np
        import pyarrow as pa
        from _rec import record
        from dora_ros import Node

        node = Node()
        array = pa.array(np.zeros(8, np.uint8))
        for _ in range({count}):
            node.send_output("rate", array)
        record("sent", {count})
        """,
        receiver="""
        import time
        from _rec import record
        from dora_ros import Node

        node = Node()
        time.sleep(3.0)
        received = 0
        for event in node:
            if event["type"] == "INPUT":
                assert len(event["value"]) == 8
                received += 1
        record("received", received)
        """,
    )
    result = run_flow(flow, timeout=90)
    assert result.returncode == 0, result.stderr
    assert flow.result("sent") == count
    assert flow.result("received") == count, result.stderr
    assert "dropped" not in result.stderr, result.stderr


def test_messages_held_back_for_a_slow_receiver_keep_the_bytes_sent(tmp_path):
    # Regression: a small message held back while the receiver's socket was full kept a view of
    # the caller's array, not a copy, so reusing the array for the next message (as
    # benchmarks/nodes/latency_sender.py does) changed what the receiver got later.
    count = 5_000
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: sender
            path: sender.py
            outputs: [data]
          - id: receiver
            path: receiver.py
            inputs:
              data: {source: sender/data, queue_size: 100000}
        """,
        sender=f"""
        import numpy as np
        import pyarrow as pa
        from dora_ros import Node

        node = Node()
        values = np.zeros(1, np.uint64)
        array = pa.array(values)  # a view of `values`: no copy
        for i in range({count}):
            values[0] = i
            node.send_output("data", array)
        """,
        receiver="""
        import time
        from _rec import record
        from dora_ros import Node

        node = Node()
        time.sleep(1.0)  # the sender's burst fills our socket meanwhile
        got = [e["value"][0].as_py() for e in node if e["type"] == "INPUT"]
        record("got", got)
        """,
    )
    result = run_flow(flow, timeout=60)
    assert result.returncode == 0, result.stderr
    assert flow.result("got") == list(range(count))
