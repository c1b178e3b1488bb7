"""The Python node API (`from dora_ros import Node`) in real dataflows started by `dora-ros run`.

Event dict shapes, timers, metadata, Arrow round trips of many types (inline and through shared
memory), send_output errors, the receive calls (next/try_recv/drain/is_empty/recv_async), logs,
service requests, `Node()` outside a dataflow, and dynamic nodes joining a running dataflow.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest
from runflow import run_flow, start_flow, wait_for, write_flow

UTC = dt.timezone.utc

# Arrow values that must round-trip exactly. Shared by the sender node and the test (exec'd).
CASES = """
import datetime as dt
import pyarrow as pa

def cases(n):
    \"\"\"Arrays of many types; `n` scales their length (n=1: a few bytes; n=2000: > 4 KiB).\"\"\"
    ints = list(range(3 * n))
    bits = range(24 * n)  # booleans are bit-packed: 8x as many to reach the same size
    out = {
        "int64": pa.array(ints, pa.int64()),
        "uint8": pa.array([i % 256 for i in ints], pa.uint8()),
        "float32": pa.array([i / 4 for i in ints], pa.float32()),
        "float16_nonull": pa.array([1.5] * 3 * n, pa.float16()),
        "int32_nulls": pa.array([None if i % 3 == 0 else i for i in ints], pa.int32()),
        "bool": pa.array([i % 3 == 0 for i in bits]),
        "bool_nulls": pa.array([None if i % 5 == 0 else i % 2 == 0 for i in bits]),
        "string_nulls": pa.array([None if i % 4 == 0 else f"s{i}é" for i in ints]),
        "large_string": pa.array([f"L{i}" for i in ints], pa.large_string()),
        "binary": pa.array([bytes([i % 256]) * (i % 5) for i in ints], pa.binary()),
        "list": pa.array([[i, None, i + 1] if i % 7 else None for i in ints], pa.list_(pa.int16())),
        "fixed_size_list": pa.array([[i, i + 1, i + 2] for i in ints], pa.list_(pa.float64(), 3)),
        "struct_nested": pa.array(
            [
                {"a": i, "b": {"c": [f"x{i}", None], "d": i % 2 == 0}, "e": None}
                if i % 6 else None
                for i in ints
            ],
            pa.struct([
                ("a", pa.int64()),
                ("b", pa.struct([("c", pa.list_(pa.string())), ("d", pa.bool_())])),
                ("e", pa.float64()),
            ]),
        ),
        "timestamp_tz": pa.array(
            [dt.datetime(2024, 1, 2, 3, 4, 5, i % 1000000, tzinfo=dt.timezone.utc) for i in ints],
            pa.timestamp("ns", tz="UTC"),
        ),
        "dictionary": pa.array([["red", "green", "blue"][i % 3] for i in ints]).dictionary_encode(),
        "sliced_int64": pa.array(ints + [99] * 10, pa.int64()).slice(5, 3 * n),
        "sliced_strings": pa.array([f"t{i}" for i in ints] + ["z"] * 9).slice(7, 3 * n),
        "sliced_struct": pa.array(
            [{"a": i} for i in ints] + [{"a": -1}] * 3, pa.struct([("a", pa.int32())])
        ).slice(2, 3 * n),
        "empty_int64": pa.array([], pa.int64()),
        "empty_string": pa.array([], pa.string()),
        "nulls": pa.nulls(3 * n),
    }
    return out
"""


def _cases(n: int) -> dict[str, pa.Array]:
    scope: dict = {}
    exec(CASES, scope)
    return scope["cases"](n)


def test_arrow_round_trip_below_and_above_4_kib(tmp_path):
    small, large = _cases(1), _cases(2000)
    # The large cases really are over the 4 KiB threshold (except those that cannot grow).
    assert all(
        a.nbytes >= 4096 for k, a in large.items() if not k.startswith(("empty", "nulls"))
    ), {k: a.nbytes for k, a in large.items()}
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: sender
            path: sender.py
            outputs: [data]
          - id: receiver
            path: receiver.py
            inputs: {data: {source: sender/data, queue_size: 1000}}
        """,
        cases=CASES,
        sender="""
        from cases import cases
        from dora_ros import Node

        node = Node()
        for n in (1, 2000):
            for name, array in cases(n).items():
                node.send_output("data", array, {"case": name, "n": n})
        node.send_output("data", b"hello bytes", {"case": "bytes", "n": 1})
        node.send_output("data", bytes(range(256)) * 40, {"case": "bytes", "n": 2000})
        """,
        receiver="""
        from _rec import record
        from dora_ros import Node

        node = Node()
        got = {}
        for event in node:
            if event["type"] == "INPUT":
                md = event["metadata"]
                got[(md["case"], md["n"])] = event["value"]
        record("received", got)
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    got = flow.result("received")
    for n, cases in ((1, small), (2000, large)):
        for name, expected in cases.items():
            value = got[(name, n)]
            assert value.type == expected.type, (name, n)
            assert value.equals(expected), (name, n, value, expected)
    assert got[("bytes", 1)].type == pa.uint8()
    assert got[("bytes", 1)].to_pylist() == list(b"hello bytes")
    assert got[("bytes", 2000)].to_pylist() == list(bytes(range(256)) * 40)


EVENTS_SENDER = """
import pyarrow as pa
from dora_ros import Node

node = Node()
node.send_output("data", pa.array([1, 2, 3]))
"""


def test_event_dicts_have_dora_rs_shapes(tmp_path):
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
              data: sender/data
        """,
        sender=EVENTS_SENDER,
        receiver="""
        import datetime as dt
        from _rec import record
        from dora_ros import Node

        node = Node()
        events = []
        for event in node:
            events.append(event)
        timeout = node.next(timeout=0.1)  # after STOP: nothing more
        record("events", (events, timeout))
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    events, after = flow.result("events")
    assert after is None
    data, closed, stop = events
    assert sorted(data) == ["id", "kind", "metadata", "type", "value"]
    assert (data["type"], data["id"], data["kind"]) == ("INPUT", "data", "dora")
    assert data["value"].equals(pa.array([1, 2, 3]))
    assert sorted(data["metadata"]) == ["timestamp"]
    ts = data["metadata"]["timestamp"]
    assert ts.tzinfo is UTC
    assert abs((dt.datetime.now(UTC) - ts).total_seconds()) < 60
    assert closed == {"type": "INPUT_CLOSED", "id": "data", "kind": "dora"}
    assert stop == {"type": "STOP", "id": "ALL_INPUTS_CLOSED", "kind": "dora"}


def test_timeout_gives_an_error_event_and_receive_calls(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: sender
            path: sender.py
            inputs: {go: receiver/go}
            outputs: [data]
          - id: receiver
            path: receiver.py
            inputs: {data: sender/data}
            outputs: [go]
        """,
        sender="""
        import pyarrow as pa
        from dora_ros import Node

        node = Node()
        for event in node:
            if event["type"] == "INPUT":
                for i in range(3):
                    node.send_output("data", pa.array([i]))
                break
        """,
        receiver="""
        import asyncio, time
        import pyarrow as pa
        from _rec import record
        from dora_ros import Node

        node = Node()
        out = {}
        out["timeout"] = node.next(timeout=0.05)
        out["try_recv_empty"] = node.try_recv()
        out["drain_empty"] = node.drain()
        out["is_empty_before"] = node.is_empty()
        node.send_output("go", pa.array([True]))
        deadline = time.monotonic() + 10
        while node.is_empty() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # let all three arrive
        out["is_empty_after"] = node.is_empty()
        first = node.try_recv()
        out["try_recv"] = first["value"].to_pylist()
        out["drain"] = [(e["type"], e.get("id")) for e in node.drain()]
        rest = []
        async def main():
            while (event := await node.recv_async(timeout=5)) is not None:
                rest.append((event["type"], event.get("id")))
                if event["type"] == "STOP":
                    break
        asyncio.run(main())
        out["async"] = rest
        record("calls", out)
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    out = flow.result("calls")
    assert out["timeout"]["type"] == "ERROR"
    assert sorted(out["timeout"]) == ["error", "kind", "type"]
    assert out["timeout"]["kind"] == "dora"
    assert out["timeout"]["error"].startswith("Timeout event stream error: Receiver timed out")
    assert out["try_recv_empty"] is None
    assert out["drain_empty"] == []
    assert out["is_empty_before"] is True
    assert out["is_empty_after"] is False
    assert out["try_recv"] == [0]
    # The sender may or may not have exited by the time of drain(); the order is what matters.
    rest = out["drain"] + out["async"]
    assert rest == [
        ("INPUT", "data"),
        ("INPUT", "data"),
        ("INPUT_CLOSED", "data"),
        ("STOP", "ALL_INPUTS_CLOSED"),
    ]


def test_timers_first_tick_at_once_hz_and_secs(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: timers
            path: timers.py
            inputs:
              slow: dora/timer/secs/5
              fast: dora/timer/hz/20
              millis: dora/timer/millis/200
        """,
        timers="""
        import time
        from _rec import record
        from dora_ros import Node

        node = Node()
        start = time.monotonic()
        ticks = []
        for event in node:
            at = time.monotonic() - start
            ticks.append((event["id"], at, event["value"], event["metadata"]))
            if at > 0.9:
                break
        record("ticks", ticks)
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    ticks = flow.result("ticks")
    for input_id, _, value, metadata in ticks:
        assert isinstance(value, pa.NullArray) and len(value) == 0, input_id
        assert sorted(metadata) == ["timestamp"]
        assert metadata["timestamp"].tzinfo is UTC
    times = {
        name: [at for i, at, _, _ in ticks if i == name] for name in ("slow", "fast", "millis")
    }
    # The first tick of every timer fires at once.
    assert all(ts and ts[0] < 0.25 for ts in times.values()), times
    assert len(times["slow"]) == 1
    assert 3 <= len(times["millis"]) <= 6, times["millis"]  # 0, .2, .4, .6, .8 s
    # 20 Hz over ~0.9 s; a loaded machine (tests run 4 at a time on 2 cores) may miss a few.
    assert 9 <= len(times["fast"]) <= 20, times["fast"]
    gaps = [b - a for a, b in zip(times["fast"], times["fast"][1:], strict=False)]
    assert sorted(gaps)[len(gaps) // 2] == pytest.approx(0.05, abs=0.02)


SENT_METADATA = {
    "flag": True,
    "off": False,
    "count": -3,
    "big": 2**62,
    "ratio": 2.5,
    "whole_float": 1.0,
    "name": "héllo wörld",
    "empty_str": "",
    "ints": [1, 2, 3],
    "floats": [0.5, -1.25],
    "strs": ["a", "b"],
    "bools": [True, False],
    "empty": [],
    "tuple": (4, 5),
    "when": dt.datetime(2024, 5, 6, 7, 8, 9, 678901, tzinfo=UTC),
}


def test_metadata_round_trips_exactly(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: sender
            path: sender.py
            outputs: [small, large]
          - id: receiver
            path: receiver.py
            inputs: {small: sender/small, large: sender/large}
        """,
        sender=f"""
        import datetime
        import pyarrow as pa
        from dora_ros import Node

        node = Node()
        metadata = {SENT_METADATA!r}
        node.send_output("small", pa.array([1]), metadata)
        node.send_output("large", pa.array(range(10000)), metadata)
        """,
        receiver="""
        from _rec import record
        from dora_ros import Node

        node = Node()
        got = {e["id"]: e["metadata"] for e in node if e["type"] == "INPUT"}
        record("metadata", got)
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    got = flow.result("metadata")
    expected = dict(SENT_METADATA, tuple=[4, 5])
    for output in ("small", "large"):
        metadata = dict(got[output])
        timestamp = metadata.pop("timestamp")
        assert timestamp.tzinfo is UTC
        assert abs((dt.datetime.now(UTC) - timestamp).total_seconds()) < 60
        assert metadata == expected
        # Same values and the same types (True is not 1, 1.0 is not 1).
        assert {k: type(v) for k, v in metadata.items()} == {
            k: type(v) for k, v in expected.items()
        }
        assert metadata["when"].tzinfo is not None
        assert metadata["when"].utcoffset() == dt.timedelta(0)


def test_send_output_errors_name_the_mistake(tmp_path):
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
        from dora_ros.errors import NodeError

        node = Node()
        errors = {}
        for name, call in {
            "undeclared_raw": lambda: node.send_output_raw("imgae", 10),
            "list": lambda: node.send_output("image", [1, 2, 3]),
        }.items():
            try:
                call()
            except Exception as err:
                errors[name] = (type(err).__name__, isinstance(err, NodeError), str(err))
        record("errors", errors)
        node.send_output("image", [1, 2, 3])  # uncaught: the node fails
        """,
        sink="""
        from dora_ros import Node
        for event in Node():
            pass
        """,
    )
    result = run_flow(flow)
    errors = flow.result("errors")
    # send_output_raw on an undeclared output raises (dora-rs 1.1 raises RuntimeError there;
    # send_output and send_service_response only warn: see test_node_parity.py).
    _, is_node_error, message = errors["undeclared_raw"]
    assert is_node_error, errors["undeclared_raw"]
    assert "'camera'" in message and "'imgae'" in message, message
    assert "'image'" in message and "'depth'" in message, message  # the declared ones
    assert errors["list"][1], errors["list"]
    assert "pyarrow array or bytes" in errors["list"][2]
    # The uncaught error fails the node and the run, and the report shows the message.
    assert result.returncode != 0
    assert "node 'camera' failed with exit status 1" in result.stderr
    assert "NodeError: send_output: data must be a pyarrow array or bytes" in result.stderr


def test_logs_service_requests_and_introspection(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: client
            path: client.py
            inputs: {response: server/response}
            outputs: [request]
          - id: server
            path: server.py
            inputs: {request: client/request}
            outputs: [response]
        """,
        client="""
        import logging
        import pyarrow as pa
        from _rec import record
        from dora_ros import Node

        node = Node()
        node.log_info("info via node.log_info")
        node.log("warn", "warn via node.log")
        logging.getLogger("mine").warning("warn via logging")
        request_id = node.send_service_request("request", pa.array([20, 22]), {"op": "sum"})
        for event in node:
            if event["type"] == "INPUT":
                record("client", {
                    "request_id": request_id,
                    "response": event["value"].to_pylist(),
                    "metadata": event["metadata"],
                    "dataflow_id": node.dataflow_id(),
                    "node_config": node.node_config(),
                    "descriptor_ids": [n["id"] for n in node.dataflow_descriptor()["nodes"]],
                    "is_restart": node.is_restart(),
                    "restart_count": node.restart_count(),
                })
                break
        """,
        server="""
        import pyarrow as pa
        from dora_ros import Node

        node = Node()
        for event in node:
            if event["type"] == "INPUT":
                total = sum(event["value"].to_pylist())
                node.send_service_response("response", pa.array([total]), event["metadata"])
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    client = flow.result("client")
    assert len(client["request_id"]) == 36
    assert client["response"] == [42]
    assert client["metadata"]["request_id"] == client["request_id"]
    assert client["metadata"]["op"] == "sum"
    (run_dir,) = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]
    assert client["dataflow_id"] == run_dir.name
    assert client["node_config"] == {
        "inputs": {"response": "server/response"},
        "outputs": ["request"],
    }
    assert client["descriptor_ids"] == ["client", "server"]
    assert client["is_restart"] is False and client["restart_count"] == 0
    log = flow.logs()["client"]
    for line in ("info via node.log_info", "warn via node.log", "warn via logging"):
        assert line in log
        assert any(x.startswith("client: ") and line in x for x in result.stderr.splitlines())


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DORA_ROS_")}


def test_node_outside_a_dataflow_is_a_clear_error():
    code = textwrap.dedent(
        """
        from dora_ros import Node
        from dora_ros.errors import NodeError
        for args in ((), ("no-such-dynamic-node",)):
            try:
                Node(*args)
            except NodeError as err:
                print("NodeError:", err)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=_clean_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    plain, dynamic = result.stdout.splitlines()
    assert "Node() found no dataflow" in plain and "dora-ros run" in plain
    assert "'no-such-dynamic-node'" in dynamic and "path: dynamic" in dynamic


def test_dynamic_node_joins_a_running_dataflow(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: src
            path: src.py
            inputs: {tick: dora/timer/millis/20}
            outputs: [data]
          - id: dyn
            path: dynamic
            inputs: {data: src/data}
            outputs: [back]
          - id: sink
            path: sink.py
            inputs: {back: dyn/back}
        """,
        src="""
        import pyarrow as pa
        from dora_ros import Node

        node = Node()
        count = 0
        for event in node:
            if event["type"] == "INPUT":
                node.send_output("data", pa.array([count]))
                count += 1
        """,
        sink="""
        from _rec import record
        from dora_ros import Node

        node = Node()
        got = [e["value"].to_pylist() for e in node if e["type"] == "INPUT"]
        record("sink", got)
        """,
        dyn="""
        import sys
        from _rec import record
        from dora_ros import Node
        from dora_ros.errors import NodeError

        node = Node(sys.argv[1])
        values = []
        for event in node:
            if event["type"] == "INPUT":
                values.append(event["value"].to_pylist()[0])
                node.send_output("back", event["value"])
                if len(values) == 5:
                    break
        errors = []
        for name in ("dyn", "src", "nope"):
            try:
                Node(name)
            except NodeError as err:
                errors.append(str(err))
        record("dyn", (node.dataflow_id(), values, errors))
        """,
    )
    run = start_flow(flow)
    # A dynamic node finds the dataflow by its control socket: wait until it listens.
    out = tmp_path / "out"
    runs = lambda: [p for p in out.iterdir() if not p.is_symlink()] if out.is_dir() else []  # noqa: E731
    wait_for(runs, 20, "the dataflow's log folder")
    (run_dir,) = runs()
    control = f"@dora-ros/{os.getuid()}/{run_dir.name}/ctl"
    wait_for(lambda: control in Path("/proc/net/unix").read_text(), 20, "the control socket")
    dynamic = subprocess.run(
        [sys.executable, str(tmp_path / "dyn.py"), "dyn"],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert dynamic.returncode == 0, dynamic.stderr
    dataflow_id, values, errors = flow.result("dyn")
    assert len(values) == 5
    assert values == list(range(values[0], values[0] + 5))  # consecutive: nothing lost
    # Joining twice, joining as a node the runtime started, or as an unknown node: clear errors.
    assert "node 'dyn' is already running" in errors[0], errors
    assert "node 'src' is already running" in errors[1], errors
    assert "no running dataflow has a dynamic node 'nope'" in errors[2], errors
    assert (tmp_path / "out" / dataflow_id).is_dir()
    # dyn left, so sink's only input closed: it stopped on its own.
    wait_for(lambda: flow.has_result("sink"), 10, "the sink to record")
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=30)
    assert run.returncode == 0, err
    assert flow.result("sink") == [[v] for v in values]


def test_input_timeout_closes_and_recovers(tmp_path):
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
              data: {source: sender/data, input_timeout: 0.3}
        """,
        sender="""
        import time
        import pyarrow as pa
        from dora_ros import Node

        node = Node()
        node.send_output("data", pa.array([1]))
        time.sleep(1.2)  # quiet for longer than the input's timeout
        node.send_output("data", pa.array([2]))
        time.sleep(0.1)
        """,
        receiver="""
        import time
        from _rec import record
        from dora_ros import Node

        node = Node()
        start = time.monotonic()
        seen = []
        for event in node:
            value = event.get("value")
            seen.append(
                (event["type"], event["id"], value.to_pylist() if value is not None else None,
                 round(time.monotonic() - start, 2))
            )
        record("seen", seen)
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    seen = flow.result("seen")
    kinds = [(t, i, v) for t, i, v, _ in seen]
    assert kinds[:4] == [
        ("INPUT", "data", [1]),
        ("INPUT_CLOSED", "data", None),
        ("INPUT_RECOVERED", "data", None),
        ("INPUT", "data", [2]),
    ], seen
    closed_at = seen[1][3]
    assert 0.25 <= closed_at - seen[0][3] < 1.0, seen


def test_send_stdout_as_sends_each_line(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: talker
            path: talker.py
            outputs: [lines]
            send_stdout_as: lines
          - id: listener
            path: listener.py
            inputs: {lines: talker/lines}
        """,
        talker="""
        import time
        from dora_ros import Node

        node = Node()
        time.sleep(0.3)
        for i in range(3):
            print(f"line {i}", flush=True)
        """,
        listener="""
        from _rec import record
        from dora_ros import Node

        node = Node()
        got = [(str(e["value"].type), e["value"].to_pylist()) for e in node if e["type"] == "INPUT"]
        record("got", got)
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    assert flow.result("got") == [("string", [f"line {i}"]) for i in range(3)]
    assert "talker: line 2" in result.stdout
