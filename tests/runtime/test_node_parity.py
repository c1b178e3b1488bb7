"""dora-rs 1.1 behaviours that unchanged dora-rs nodes rely on (issue 12, "Same behaviour as dora-rs").

Each case was first run on the real dora-rs 1.1 (`dora run` of dora-rs-cli 1.1.0 in the project
venv) and the values asserted here are what it did; the comments say so where it matters.
"""

from __future__ import annotations

from runflow import run_flow, write_flow


def test_drain_after_idle_returns_every_queued_event(tmp_path):
    """dora-rs's python-drain example: sleep 1 s, then drain() gets all 100 (it returned [])."""
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
              data: {source: sender/data, queue_size: 100}
        """,
        sender="""
        import time
        import pyarrow as pa
        from dora_ros import Node

        node = Node()
        for i in range(100):
            node.send_output("data", pa.array([i]))
        time.sleep(2)  # still running when the receiver drains
        """,
        receiver="""
        import time
        from _rec import record
        from dora_ros import Node

        node = Node()
        time.sleep(1)
        drained = node.drain()
        after = node.try_recv()
        record("drain", (
            [e["value"][0].as_py() for e in drained if e["type"] == "INPUT"],
            None if after is None else after["type"],
        ))
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    values, after = flow.result("drain")
    assert values == list(range(100))
    assert after is None  # nothing left behind for try_recv


def test_undeclared_output_and_response_without_request_id_warn(tmp_path):
    """dora-rs 1.1 logs a warning and carries on (node-hub nodes with optional outputs)."""
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: camera
            path: camera.py
            outputs: [image, depth]
          - id: sink
            path: sink.py
            inputs: {image: camera/image}
        """,
        camera="""
        import pyarrow as pa
        from _rec import record
        from dora_ros import Node

        node = Node()
        results = {}
        for i in range(3):
            results[f"undeclared{i}"] = node.send_output("imgae", pa.array([1]))
        results["response"] = node.send_service_response("image", pa.array([7]), {})
        results["response_none"] = node.send_service_response("image", pa.array([8]), None)
        record("results", results)
        """,
        sink="""
        from _rec import record
        from dora_ros import Node
        values = []
        for event in Node():
            if event["type"] == "INPUT":
                values.append((event["value"][0].as_py(), sorted(event["metadata"])))
        record("sink", values)
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    assert set(flow.result("results").values()) == {None}
    # Responses without an id are still sent (dora-rs sends them, with its warning).
    assert flow.result("sink") == [(7, ["timestamp"]), (8, ["timestamp"])]
    log = flow.logs()["camera"]
    warnings = [line for line in log.splitlines() if "imgae" in line]
    assert len(warnings) == 2, log  # once when it happens, a count of the rest at the end
    assert "WARN" in warnings[0] and "'image'" in warnings[0] and "'depth'" in warnings[0]
    assert "3 sends" in warnings[1], warnings
    missing = [line for line in log.splitlines() if "request_id" in line]
    assert len(missing) == 2 and all("WARN" in line for line in missing), log


def test_send_output_raw_sample_handler(tmp_path):
    """dora-rs's SampleHandler surface and its rules, with shared memory and without."""
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: camera
            path: camera.py
            outputs: [image]
          - id: sink
            path: sink.py
            inputs: {image: {source: camera/image, queue_size: 100}}
        """,
        camera="""
        import struct
        import numpy as np
        from _rec import record
        from dora_ros import Node

        node = Node()
        out = {}

        def attempt(name, call):
            try:
                out[name] = repr(call())
            except Exception as err:
                out[name] = (type(err).__name__, isinstance(err, RuntimeError), str(err))

        for size in (100, 8000):  # inline, then shared memory
            sample = node.send_output_raw("image", size, {"form": "manual"})
            out[f"surface{size}"] = [
                callable(getattr(sample, n, None))
                for n in ("send", "as_memoryview", "as_buffer", "__enter__", "__exit__")
            ]
            view = sample.as_memoryview()
            view[:] = b"\\x01" * size
            array = np.frombuffer(view, np.uint8)
            attempt(f"send_with_view{size}", sample.send)
            del array
            view.release()
            attempt(f"send{size}", sample.send)
            attempt(f"send_twice{size}", sample.send)

            with node.send_output_raw("image", size, {"form": "with"}) as buf:
                np.frombuffer(buf, np.uint8)[:] = 2
            struct_sample = node.send_output_raw("image", size, {"form": "buffer"})
            struct.pack_into("4B", struct_sample.as_buffer(), 0, 3, 3, 3, 3)
            struct_sample.send()

        # An exception inside `with` discards the sample and frees its region: 20 of them
        # leave one region in the pool, not 20.
        for _ in range(20):
            try:
                with node.send_output_raw("image", 100_000) as buf:
                    np.frombuffer(buf, np.uint8)[:] = 9
                    raise ValueError("boom")
            except ValueError:
                pass
        out["regions_after_exceptions"] = node._pool.region_count

        # A view kept past `with`: the send is refused, and the region is not reused while the
        # view lives (what it shows stays as written).
        def keep_view():
            global kept
            with node.send_output_raw("image", 100_000) as buf:
                kept = np.frombuffer(buf, np.uint8)
                kept[:] = 5
        attempt("with_view_alive", keep_view)
        for _ in range(3):
            with node.send_output_raw("image", 100_000) as buf:
                np.frombuffer(buf, np.uint8)[:] = 6
        out["kept_intact"] = bool((kept == 5).all())
        record("camera", out)
        """,
        sink="""
        from _rec import record
        from dora_ros import Node
        got = []
        for event in Node():
            if event["type"] == "INPUT":
                value = event["value"]
                got.append((event["metadata"].get("form"), str(value.type), len(value),
                            sorted(set(value.to_numpy()[:4].tolist()))))
        record("sink", got)
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    out = flow.result("camera")
    for size in (100, 8000):
        assert out[f"surface{size}"] == [True] * 5
        _, is_runtime_error, message = out[f"send_with_view{size}"]
        assert is_runtime_error and "view(s) are still open" in message, message
        assert out[f"send{size}"] == "None"
        assert out[f"send_twice{size}"][1:] == (True, "Sample has already been sent")
    # At most the three 8000-byte regions the sink may still hold, and one (old code: 23).
    assert out["regions_after_exceptions"] <= 4, out
    assert out["with_view_alive"][1] and "view(s) are still open" in out["with_view_alive"][2]
    assert out["kept_intact"] is True
    got = flow.result("sink")
    expected = []
    for size in (100, 8000):
        expected += [("manual", "uint8", size, [1]), ("with", "uint8", size, [2])]
        expected += [("buffer", "uint8", size, [3])]  # (only its first 4 bytes were written)
    expected += [(None, "uint8", 100_000, [6])] * 3
    assert got == expected


def test_exception_in_with_returns_the_region_at_once_or_after_the_last_view(tmp_path):
    """Leaving `with node.send_output_raw(...)` by an exception puts the region back in the pool
    at once, though the handler is still referenced (old code: only when it was dropped); with a
    numpy view still alive, not while it lives, and at the node's next call once it is gone."""
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: camera
            path: camera.py
            outputs: [image]
        """,
        camera="""
        import numpy as np
        from _rec import record
        from dora_ros import Node

        node = Node()
        pool = node._pool
        size = 100_000
        out = {}

        def state():
            return (len(pool._free), pool.region_count)

        with node.send_output_raw("image", size) as buf:  # one region, sent, free again
            np.frombuffer(buf, np.uint8)[:] = 1
        out["start"] = state()

        sample = node.send_output_raw("image", size)  # takes the free region
        out["taken"] = state()
        try:
            with sample as buf:
                np.frombuffer(buf, np.uint8)[:] = 2
                raise ValueError("boom")
        except ValueError:
            pass
        out["after_exception"] = state()  # `sample` still referenced here
        try:
            sample.send()
        except RuntimeError as err:
            out["send_after"] = str(err)

        held = node.send_output_raw("image", size)  # the same region again
        try:
            with held as buf:
                kept = np.frombuffer(buf, np.uint8)
                kept[:] = 3
                raise ValueError("boom")
        except ValueError:
            pass
        out["view_alive"] = state()
        with node.send_output_raw("image", size) as buf:  # needs a region of its own
            np.frombuffer(buf, np.uint8)[:] = 4
        out["other_send"] = state()
        out["kept_intact"] = bool((kept == 3).all())
        del kept
        node.try_recv()  # the node's next call: the held region is back
        out["view_gone"] = state()
        with node.send_output_raw("image", size) as buf:  # and reused
            np.frombuffer(buf, np.uint8)[:] = 5
        out["reused"] = state()
        record("camera", out)
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    out = flow.result("camera")
    assert out["start"] == (1, 1)
    assert out["taken"] == (0, 1)
    assert out["after_exception"] == (1, 1), out  # old code: (0, 1) until `sample` is dropped
    assert "dropped" in out["send_after"]
    assert out["view_alive"] == (0, 1), out  # not back while `kept` lives
    assert out["other_send"] == (1, 2), out  # a second region; the held one still aside
    assert out["kept_intact"] is True
    assert out["view_gone"] == (2, 2), out  # both free
    assert out["reused"] == (2, 2), out  # no third region


def test_recv_async_example_says_the_type_note_once(tmp_path):
    """dora-rs's python-recv-async graph (output_types on both nodes, input_types on the async
    receiver, which echoes from the async context): the output_types note is one line, once, on
    stderr only (not in stdout nor in any node's log)."""
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: sender
            path: sender.py
            outputs: [values]
            output_types: {values: std/core/v1/Int64}
          - id: async-receiver
            path: receiver.py
            inputs: {values: sender/values}
            input_types: {values: std/core/v1/Int64}
            outputs: [echo]
            output_types: {echo: std/core/v1/Int64}
        """,
        sender="""
        import time
        import pyarrow as pa
        from dora import Node

        node = Node()
        for i in range(10):
            node.send_output("values", pa.array([i], type=pa.int64()))
            time.sleep(0.02)
        """,
        receiver="""
        import asyncio
        import pyarrow as pa
        from dora import Node

        async def main():
            node = Node()
            received = 0
            while True:
                event = await node.recv_async(timeout=2.0)
                if event is None or event["type"] == "STOP":
                    break
                if event["type"] == "INPUT":
                    node.send_output("echo", pa.array(event["value"].to_pylist(), pa.int64()))
                    received += 1
            print(f"recv-async: SUCCESS - received and echoed {received} messages")

        asyncio.run(main())
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    assert "received and echoed 10 messages" in result.stdout
    notes = [line for line in result.stderr.splitlines() if "output_types" in line]
    assert notes == [
        "dora-ros: note: output_types/input_types of 'sender', 'async-receiver' are annotations:"
        " dora-ros does not check the data against them (as dora-rs, which only warns)"
    ], result.stderr
    assert "output_types" not in result.stdout
    assert all("output_types" not in log for log in flow.logs().values())


def test_recv_async_cancelled_loses_nothing_and_sends_concurrently(tmp_path):
    """A wait_for that cancels recv_async must not swallow the next event (it did: next() went
    on in a worker thread and its event was dropped), and another coroutine may send meanwhile."""
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: sender
            path: sender.py
            inputs: {echo: {source: receiver/echo, queue_size: 1000}}
            outputs: [data]
          - id: receiver
            path: receiver.py
            inputs:
              data: {source: sender/data, queue_size: 100}
              tick: dora/timer/millis/20
            outputs: [echo]
        """,
        sender="""
        import time
        import pyarrow as pa
        from _rec import record
        from dora_ros import Node

        node = Node()
        for i in range(40):
            node.send_output("data", pa.array([i]))
            time.sleep(0.02)
        echoes = 0
        for event in node:
            if event["type"] == "INPUT":
                echoes += 1
        record("echoes", echoes)
        """,
        receiver="""
        import asyncio
        import pyarrow as pa
        from _rec import record
        from dora_ros import Node

        node = Node()

        async def echo(stop):
            sent = 0
            while not stop.is_set():
                node.send_output("echo", pa.array([sent]))
                sent += 1
                await asyncio.sleep(0.003)
            return sent

        async def main():
            values, timeouts, ticks = [], 0, 0
            stop = asyncio.Event()
            echoer = asyncio.create_task(echo(stop))
            while len(values) < 40:
                try:
                    event = await asyncio.wait_for(node.recv_async(), 0.005)
                except asyncio.TimeoutError:
                    timeouts += 1
                    continue
                if event is None:
                    break
                if event["type"] == "INPUT" and event["id"] == "data":
                    values.append(event["value"][0].as_py())
                elif event["type"] == "INPUT":
                    ticks += 1
            stop.set()
            sent = await echoer
            record("receiver", (values, timeouts, ticks, sent))

        asyncio.run(main())
        """,
    )
    result = run_flow(flow, timeout=60)
    assert result.returncode == 0, result.stderr
    values, timeouts, ticks, sent = flow.result("receiver")
    assert values == list(range(40))
    assert timeouts > 10 and ticks > 5, (timeouts, ticks)  # both paths were exercised
    assert flow.result("echoes") == sent


def test_second_concurrent_recv_async_is_refused(tmp_path):
    """Two coroutines waiting on one node would share its fd (the second silently replacing the
    first): the second is a clear error, and the first still gets its answer."""
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: lonely
            path: lonely.py
        """,
        lonely="""
        import asyncio
        from _rec import record
        from dora_ros import Node

        node = Node()

        async def main():
            first = asyncio.create_task(node.recv_async(timeout=0.5))
            await asyncio.sleep(0.05)
            try:
                await node.recv_async(timeout=0.5)
                second = "no error"
            except Exception as err:
                second = f"{type(err).__name__}: {err}"
            return (await first)["type"], second

        record("result", asyncio.run(main()))
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    first, second = flow.result("result")
    assert first == "ERROR"  # its timeout, as next(timeout=...) gives
    assert second.startswith("NodeError: node 'lonely': recv_async is already waiting"), second
