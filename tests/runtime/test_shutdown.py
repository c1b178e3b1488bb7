"""How a dataflow ends: STOP on Ctrl-C and `--stop-after`, escalation to SIGTERM and SIGKILL, failing
nodes and their report, `restart_policy`, and nothing left behind when a node or `dora-ros run`
itself is SIGKILLed (no process, no /dev/shm file, no socket).
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import time
from pathlib import Path

import pytest
from runflow import pid_alive, run_dirs, run_flow, start_flow, wait_for, write_flow

# Records its pid, then reacts to events until STOP (recording which STOP it got).
STOPPABLE = """
import os, sys
from _rec import record
from dora_ros import Node

node = Node()
name = os.environ["DORA_ROS_NODE_ID"]
record(f"pid_{name}", os.getpid())
print(f"{name} ready", flush=True)
for event in node:
    if event["type"] == "STOP":
        record(f"stop_{name}", event)
print(f"{name} ends", flush=True)
"""

TWO_TICKING = """
nodes:
  - id: a
    path: stoppable.py
    inputs: {tick: dora/timer/millis/50}
  - id: b
    path: stoppable.py
    inputs: {tick: dora/timer/millis/50}
"""


def _wait_ready(proc, nodes, timeout=30.0):
    """Read `dora-ros run`'s stdout until every node printed `<id> ready`."""
    assert proc.stdout is not None
    waiting = {f"{n}: {n} ready" for n in nodes}
    deadline = time.monotonic() + timeout
    lines = []
    while waiting and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        waiting.discard(line.strip())
    assert not waiting, f"nodes not ready: {waiting}; output so far: {lines}"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_sends_stop_manual_and_the_run_ends_cleanly(tmp_path, sig):
    flow = write_flow(tmp_path, TWO_TICKING, stoppable=STOPPABLE)
    proc = start_flow(flow)
    _wait_ready(proc, ["a", "b"])
    started = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert time.monotonic() - started < 30
    assert "still running" not in err  # nodes stop on STOP: no escalation needed
    for node in ("a", "b"):
        assert flow.result(f"stop_{node}") == {"type": "STOP", "id": "MANUAL", "kind": "dora"}
        assert f"{node}: {node} ends" in out
        assert not pid_alive(flow.result(f"pid_{node}"))


def test_stop_after_sends_stop_manual(tmp_path):
    flow = write_flow(tmp_path, TWO_TICKING, stoppable=STOPPABLE)
    started = time.monotonic()
    result = run_flow(flow, "--stop-after", "1.5s")
    assert result.returncode == 0, result.stderr
    assert 1.5 <= time.monotonic() - started < 15
    assert "stopping after 1.5 s (--stop-after)" in result.stderr
    for node in ("a", "b"):
        assert flow.result(f"stop_{node}")["id"] == "MANUAL"


def test_a_node_ignoring_stop_and_sigterm_is_killed(tmp_path):
    # Default escalation is STOP, 5 s, SIGTERM, 2 s, SIGKILL; DORA_ROS_STOP_GRACE=1 shortens the
    # first wait so this takes ~3 s.
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: polite
            path: stoppable.py
            inputs: {tick: dora/timer/millis/50}
          - id: stubborn
            path: stubborn.py
            inputs: {tick: dora/timer/millis/50}
        """,
        stoppable=STOPPABLE,
        stubborn="""
        import os, signal, time
        from _rec import record
        from dora_ros import Node

        signal.signal(signal.SIGTERM, lambda *_: print("ignoring SIGTERM", flush=True))
        node = Node()
        record("pid_stubborn", os.getpid())
        print("stubborn ready", flush=True)
        for event in node:
            if event["type"] == "STOP":
                print("ignoring STOP", flush=True)
        while True:
            time.sleep(0.1)
        """,
    )
    proc = start_flow(flow, env={"DORA_ROS_STOP_GRACE": "1"})
    _wait_ready(proc, ["polite", "stubborn"])
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    elapsed = time.monotonic() - started
    assert 2.5 <= elapsed < 10, elapsed
    assert "stubborn: ignoring STOP" in out
    assert "stubborn: ignoring SIGTERM" in out
    assert "'stubborn' still running 1 s after STOP; sending SIGTERM" in err
    assert "'stubborn' still running 3 s after STOP; sending SIGKILL" in err
    assert "node 'stubborn' was stopped with signal SIGKILL" in err
    assert "'polite'" not in err  # it stopped on STOP
    assert proc.returncode != 0
    assert not pid_alive(flow.result("pid_stubborn"))


def test_bad_stop_grace_is_a_one_line_error(tmp_path):
    flow = write_flow(tmp_path, TWO_TICKING, stoppable=STOPPABLE)
    result = run_flow(flow, env={"DORA_ROS_STOP_GRACE": "soon"})
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: DORA_ROS_STOP_GRACE='soon': expected a number of seconds >= 0"
    )


def test_failing_nodes_are_reported_with_id_status_and_stderr(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: exits
            path: exits.py
          - id: raises
            path: raises.py
          - id: aborts
            path: aborts.py
          - id: fine
            path: fine.py
        """,
        exits="""
        import sys
        print("about to exit", file=sys.stderr)
        sys.exit(3)
        """,
        raises="""
        from dora_ros import Node
        node = Node()
        raise ValueError("camera calibration missing")
        """,
        aborts="""
        import os, sys
        print("about to abort", file=sys.stderr, flush=True)
        os.abort()
        """,
        fine="""
        print("all good")
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 1
    err = result.stderr
    log = re.compile(r" \(log: out/[0-9a-f-]{36}/log_(\w+)\.txt\)$", re.M)
    assert re.search(
        r"^dora-ros: error: node 'exits' failed with exit status 3: about to exit" + log.pattern,
        err,
        re.M,
    ), err
    assert re.search(
        r"^dora-ros: error: node 'raises' failed with exit status 1: ValueError: camera calibration missing"
        + log.pattern,
        err,
        re.M,
    ), err
    assert re.search(
        r"^dora-ros: error: node 'aborts' failed with signal SIGABRT: about to abort" + log.pattern,
        err,
        re.M,
    ), err
    # The traceback is printed once, as the node wrote it (prefixed), not again in the report.
    assert err.count("Traceback (most recent call last)") == 1, err
    assert err.count("raises: ValueError: camera calibration missing") == 1, err
    assert "'fine' failed" not in err
    summary = [line for line in err.splitlines() if "failed: " in line and "dataflow" in line]
    assert len(summary) == 1, err
    for node in ("exits", "raises", "aborts"):
        assert f"node '{node}'" in summary[0]


RESTARTING = """
import os, sys
from _rec import record
from dora_ros import Node

node = Node()
count = node.restart_count()
record(f"run_{count}", (node.is_restart(), count))
sys.exit(int(sys.argv[1]) if count < int(sys.argv[2]) else 0)
"""


def _runs(flow) -> list:
    return [flow.result(f"run_{i}") for i in range(10) if flow.has_result(f"run_{i}")]


def test_restart_on_failure_until_max_restarts(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: flaky
            path: restarting.py
            args: "4 99"  # always fails with status 4
            restart_policy: on-failure
            max_restarts: 2
        """,
        restarting=RESTARTING,
    )
    result = run_flow(flow)
    assert _runs(flow) == [(False, 0), (True, 1), (True, 2)]
    assert result.returncode != 0
    assert result.stderr.count("exited with exit status 4; restarting it") == 2
    assert "node 'flaky' failed with exit status 4" in result.stderr


def test_restart_on_failure_recovers(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: flaky
            path: restarting.py
            args: "4 1"  # fails the first time only
            restart_policy: on-failure
        """,
        restarting=RESTARTING,
    )
    result = run_flow(flow)
    assert _runs(flow) == [(False, 0), (True, 1)]
    assert result.returncode == 0, result.stderr


def test_stop_while_a_node_waits_for_its_restart_ends_the_run(tmp_path):
    """STOP (here --stop-after) while a failed node waits out its restart_delay: the run ends,
    that node with it (nothing to stop: no process), without restarting it and without failing
    the run (its failure was being handled by its restart policy). Before, stop()
    dropped the pending restart but never counted the node as ended, and the run waited for it
    for ever (found by `benchmarks/soak.py --cluster`: a crashing node restarted every few
    seconds, and `stop` of the dataflow never finished)."""
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: flaky
            path: restarting.py
            args: "3 1000"  # fails every time
            restart_policy: on-failure
            restart_delay: 60
          - id: a
            path: stoppable.py
            inputs: {tick: dora/timer/millis/50}
        """,
        restarting=RESTARTING,
        stoppable=STOPPABLE,
    )
    # 10 s: `flaky` must have started, passed the start barrier and failed before STOP, also on
    # a loaded machine (failing during the stop is a failure of the run, not this case).
    started = time.monotonic()
    result = run_flow(flow, "--stop-after", "10s", timeout=45)
    assert time.monotonic() - started < 30, result.stderr
    assert _runs(flow) == [(False, 0)]  # never restarted
    assert "node 'flaky' exited with exit status 3; restarting it (restart 1)" in result.stderr
    assert result.returncode == 0, result.stderr


def test_restart_always_and_never(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: again
            path: restarting.py
            args: "0 0"  # always exits 0
            restart_policy: always
            max_restarts: 3
          - id: once
            path: once.py
            restart_policy: never
        """,
        restarting=RESTARTING,
        once="""
        from _rec import record
        import os
        path = "once_runs.txt"
        with open(path, "a") as f:
            f.write("run\\n")
        raise SystemExit(5)
        """,
    )
    result = run_flow(flow)
    assert _runs(flow) == [(False, 0), (True, 1), (True, 2), (True, 3)]
    assert (tmp_path / "once_runs.txt").read_text() == "run\n"
    assert "node 'once' failed with exit status 5" in result.stderr
    assert "'again' failed" not in result.stderr
    assert result.returncode != 0


def test_restarted_node_receives_again(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: src
            path: src.py
            inputs: {tick: dora/timer/millis/30, done: sink/done}
            outputs: [data]
          - id: sink
            path: sink.py
            inputs: {data: src/data}
            outputs: [done]
            restart_policy: on-failure
        """,
        src="""
        import pyarrow as pa
        from dora_ros import Node

        node = Node()
        count = 0
        for event in node:
            if event["type"] == "INPUT" and event["id"] == "tick":
                node.send_output("data", pa.array([count]))
                count += 1
            elif event["type"] == "INPUT" and event["id"] == "done":
                break
        """,
        sink="""
        import os
        import pyarrow as pa
        from _rec import record
        from dora_ros import Node

        node = Node()
        got = []
        for event in node:
            if event["type"] == "INPUT":
                got.append(event["value"][0].as_py())
                if len(got) == 3:
                    break
        record(f"sink_{node.restart_count()}", got)
        if not node.is_restart():
            os._exit(7)  # crash: no goodbye
        node.send_output("done", pa.array([True]))
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    first, second = flow.result("sink_0"), flow.result("sink_1")
    assert len(first) == 3 and len(second) == 3
    assert second[0] > first[-1]  # the restarted node gets new messages
    assert "node 'sink' exited with exit status 7; restarting it (restart 1)" in result.stderr


# --- nothing left behind ----------------------------------------------------------------------

SPAWNER = """
import os, subprocess, sys
from _rec import record
from dora_ros import Node
import pyarrow as pa

node = Node()
name = os.environ["DORA_ROS_NODE_ID"]
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
record(f"pids_{name}", (os.getpid(), child.pid))
print(f"{name} ready", flush=True)
for event in node:
    if event["type"] == "INPUT" and "data" in node.node_config()["outputs"]:
        node.send_output("data", pa.array(range(100_000)))  # shared memory
"""

LEAK_GRAPH = """
nodes:
  - id: a
    path: spawner.py
    inputs: {tick: dora/timer/millis/20}
    outputs: [data]
  - id: b
    path: spawner.py
    inputs: {data: a/data}
"""


def _dev_shm() -> set[str]:
    return set(os.listdir("/dev/shm"))


def _our_sockets(dataflow_id: str) -> list[str]:
    needle = f"@dora-ros/{os.getuid()}/{dataflow_id}/"
    return [line for line in Path("/proc/net/unix").read_text().splitlines() if needle in line]


def _shared_mappings(pid: int) -> list[str]:
    """Names of the shared (`s`) file mappings of a process."""
    names = []
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if fields[1].endswith("s") and len(fields) > 5:
            names.append(fields[5])
    return names


def _start_leak_flow(tmp_path):
    flow = write_flow(tmp_path, LEAK_GRAPH, spawner=SPAWNER)
    before = _dev_shm()
    proc = start_flow(flow)
    _wait_ready(proc, ["a", "b"])
    wait_for(lambda: (tmp_path / "out").exists() and run_dirs(tmp_path / "out"), 10, "out/")
    (run_dir,) = run_dirs(tmp_path / "out")
    pids = {n: flow.result(f"pids_{n}") for n in ("a", "b")}
    # Shared memory is memfd only: receivers map the sender's regions, nothing is in /dev/shm.
    wait_for(lambda: any("memfd:dora-ros" in m for m in _shared_mappings(pids["b"][0])), 10,
             "b to map a's shared memory")  # fmt: skip
    for node_pid, _ in pids.values():
        assert not [m for m in _shared_mappings(node_pid) if m.startswith("/dev/shm")]
        # No file of ours in /tmp or /dev/shm either: sockets are abstract, memory is memfd.
        files = [
            os.readlink(f"/proc/{node_pid}/fd/{fd}") for fd in os.listdir(f"/proc/{node_pid}/fd")
        ]
        assert not [f for f in files if f.startswith(("/tmp/", "/dev/shm/"))], files
    assert _our_sockets(run_dir.name)
    return flow, proc, run_dir.name, pids, before


def _assert_nothing_left(dataflow_id, pids, before, timeout=5.0):
    every = [pid for pair in pids for pid in pair]
    wait_for(lambda: not any(pid_alive(p) for p in every), timeout, f"processes {every} to end")
    wait_for(lambda: not _our_sockets(dataflow_id), timeout, "the dataflow's sockets to close")
    new = {n for n in _dev_shm() - before if "dora" in n.lower()}
    assert not new, new
    assert not [p for p in Path("/tmp").iterdir() if dataflow_id in p.name]


def test_sigkill_of_a_node_leaves_nothing_behind(tmp_path):
    _flow, proc, dataflow_id, pids, before = _start_leak_flow(tmp_path)
    os.kill(pids["a"][0], signal.SIGKILL)
    # a's end closes b's input: b stops by itself, and the run reports a's death.
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert "node 'a' failed with signal SIGKILL" in err
    _assert_nothing_left(dataflow_id, pids.values(), before)


def test_sigkill_of_dora_ros_run_leaves_nothing_behind(tmp_path):
    _, proc, dataflow_id, pids, before = _start_leak_flow(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    # The nodes die with it (parent-death signal), and the children they started (which that
    # signal does not reach) are killed by the reaper process of `dora-ros run`.
    try:
        _assert_nothing_left(dataflow_id, pids.values(), before)
    finally:
        for _, child in pids.values():
            if pid_alive(child):
                os.kill(child, signal.SIGKILL)


def test_missing_executable_is_a_one_line_error(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: ok
            path: ok.py
          - id: camera
            path: ./bin/camera-driver
        """,
        ok="print('should not start')",
    )
    result = run_flow(flow)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "camera" in lines[0] and "bin/camera-driver" in lines[0]
    assert "Traceback" not in result.stderr
    assert "should not start" not in result.stdout
    assert re.search(r"graph\.yml:\d+", lines[0]), lines[0]


def test_a_sender_failing_before_its_receiver_starts_closes_its_inputs(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: broken
            path: broken.py
            outputs: [data]
          - id: late
            path: late.py
            inputs: {data: broken/data}
        """,
        broken="raise SystemExit(2)",
        late="""
        import time
        from _rec import record
        time.sleep(1.0)  # registers after `broken` has already failed
        from dora_ros import Node

        record("late", [(e["type"], e["id"]) for e in Node()])
        """,
    )
    result = run_flow(flow)
    assert flow.result("late") == [
        ("INPUT_CLOSED", "data"),
        ("NODE_FAILED", "broken"),
        ("STOP", "ALL_INPUTS_CLOSED"),
    ]
    assert result.returncode == 1
    assert "node 'broken' failed with exit status 2" in result.stderr


def test_restart_always_stops_once_all_inputs_are_closed(tmp_path):
    # dora-rs 1.1 starts such a node once ("not restarting node because all inputs are already
    # closed") and the run ends with 0; before, dora-ros restarted it in a tight loop forever.
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: src
            path: src.py
            inputs: {tick: dora/timer/millis/20}
            outputs: [data]
          - id: again
            path: again.py
            restart_policy: always
            inputs: {data: src/data}
        """,
        src="""
        from dora_ros import Node
        node = Node()
        for k, event in enumerate(e for e in node if e["type"] == "INPUT"):
            node.send_output("data", b"x")
            if k == 2:
                break
        """,
        again="""
        from dora_ros import Node
        node = Node()
        with open("again_runs.txt", "a") as f:
            f.write(f"{node.restart_count()}\\n")
        for event in node:
            pass
        """,
    )
    result = run_flow(flow, timeout=30)
    assert result.returncode == 0, result.stderr
    runs = (tmp_path / "again_runs.txt").read_text().split()
    assert runs == ["0"], runs
    assert (
        "node 'again' exited with exit status 0; not restarting it: all its inputs are closed"
        in result.stderr
    )


def test_restart_delay_has_a_floor_and_doubles(tmp_path):
    # restart_delay unset: 0.1 s, 0.2 s, 0.4 s between the runs (before: none at all).
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: again
            path: again.py
            restart_policy: always
            max_restarts: 3
        """,
        again="""
        import time
        with open("again_runs.txt", "a") as f:
            f.write(f"{time.monotonic()}\\n")
        """,
    )
    result = run_flow(flow, timeout=30)
    assert result.returncode == 0, result.stderr
    starts = [float(x) for x in (tmp_path / "again_runs.txt").read_text().split()]
    assert len(starts) == 4
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2 and gaps[2] >= 0.4, gaps


FAILING_UPSTREAM = """
nodes:
  - id: failer
    path: failer.py
    inputs: {tick: dora/timer/millis/50}
    outputs: [out]
  - id: down
    path: down.py
    inputs:
      f: failer/out
      t: dora/timer/millis/50
  - id: other
    path: other.py
    inputs: {tick: dora/timer/millis/50}
"""


def test_a_failing_node_gives_node_failed_downstream_and_the_others_keep_running(tmp_path):
    # dora-rs 1.1 (recorded with `dora run`): INPUT_CLOSED for the failed node's inputs, then
    # {'type': 'NODE_FAILED', 'id': 'failer', 'kind': 'dora', 'value': {'source_node_id':
    # 'failer', 'error': 'exited with code 1 with stderr output:\n----...\n<stderr>\n----...\n',
    # 'affected_input_ids': ['f']}}; the other nodes go on and the run exits with 1.
    flow = write_flow(
        tmp_path,
        FAILING_UPSTREAM,
        failer="""
        from dora_ros import Node
        node = Node()
        for k, event in enumerate(e for e in node if e["type"] == "INPUT"):
            node.send_output("out", b"x")
            if k == 1:
                raise ValueError("camera calibration missing")
        """,
        down="""
        import time
        from _rec import record
        from dora_ros import Node
        node = Node()
        seen = []
        for event in node:
            if event["type"] == "INPUT" and event["id"] == "t":
                continue
            seen.append({k: v for k, v in event.items() if k not in ("metadata", "value")})
            if event["type"] == "NODE_FAILED":
                seen[-1]["value"] = event["value"]
                record("failed_at", time.monotonic())
        record("seen", seen)
        """,
        other="""
        import time
        from _rec import record
        from dora_ros import Node
        node = Node()
        ticks = []
        for event in node:
            if event["type"] == "INPUT":
                ticks.append(time.monotonic())
        record("other_ticks", ticks)
        """,
    )
    result = run_flow(flow, "--stop-after", "5", timeout=30)
    assert result.returncode == 1, result.stderr
    seen = flow.result("seen")
    assert [e["type"] for e in seen] == ["INPUT", "INPUT", "INPUT_CLOSED", "NODE_FAILED", "STOP"]
    failed = seen[3]
    assert set(failed) == {"type", "id", "kind", "value"}
    assert (failed["id"], failed["kind"]) == ("failer", "dora")
    value = failed["value"]
    assert type(value) is dict and set(value) == {"source_node_id", "error", "affected_input_ids"}
    assert value["source_node_id"] == "failer" and value["affected_input_ids"] == ["f"]
    dashes = "-" * 81
    assert value["error"].startswith(f"exited with code 1 with stderr output:\n{dashes}\n")
    assert value["error"].endswith(f"ValueError: camera calibration missing\n{dashes}\n")
    assert seen[4]["id"] == "MANUAL"
    # `other` went on ticking after the failure.
    after = [t for t in flow.result("other_ticks") if t > flow.result("failed_at")]
    assert len(after) >= 5, after
    assert result.stderr.count("Traceback (most recent call last)") == 1, result.stderr


def test_a_restarted_upstream_gives_node_restarted(tmp_path):
    # dora-rs 1.1: {'type': 'NODE_RESTARTED', 'id': 'flaky', 'kind': 'dora'} (no 'value' key),
    # and the inputs from the restarted node stay open.
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: flaky
            path: flaky.py
            inputs: {tick: dora/timer/millis/50}
            outputs: [out]
            restart_policy: on-failure
          - id: down
            path: down.py
            inputs: {f: flaky/out}
        """,
        flaky="""
        import sys
        import pyarrow as pa
        from dora_ros import Node
        node = Node()
        for k, event in enumerate(e for e in node if e["type"] == "INPUT"):
            node.send_output("out", pa.array([node.restart_count()]))
            if k == 1:
                sys.exit(3 if node.restart_count() == 0 else 0)
        """,
        down="""
        from _rec import record
        from dora_ros import Node
        node = Node()
        seen = []
        for event in node:
            seen.append({k: v for k, v in event.items() if k != "metadata"})
            if "value" in seen[-1] and event["type"] == "INPUT":
                seen[-1]["value"] = event["value"].to_pylist()
        record("seen", seen)
        """,
    )
    result = run_flow(flow, timeout=30)
    assert result.returncode == 0, result.stderr
    seen = flow.result("seen")
    restarted = {"type": "NODE_RESTARTED", "id": "flaky", "kind": "dora"}
    assert restarted in seen, seen
    inputs = [e["value"] for e in seen if e["type"] == "INPUT"]
    assert inputs == [[0], [0], [1], [1]], seen
    assert seen.index(restarted) == 2, seen
    assert [e["type"] for e in seen[-2:]] == ["INPUT_CLOSED", "STOP"]
