"""`dora-ros run` end to end: routing between real node processes, terminal output and log files.

Each test writes a small graph and its Python nodes into `tmp_path` and runs the real command line.
"""

from __future__ import annotations

import os
import re
import signal

from runflow import run_dir, run_dirs, run_flow, start_flow, write_flow

# A sender: five values on `data` (one per tick of a fast timer), then it exits.
SENDER = """
import sys
import pyarrow as pa
from dora_ros import Node

base = int(sys.argv[1]) if len(sys.argv) > 1 else 0
node = Node()
sent = 0
for event in node:
    if event["type"] == "INPUT":
        node.send_output("data", pa.array([base + sent], pa.int64()))
        sent += 1
        if sent == 5:
            break
print(f"{node.dataflow_id()} sent {sent}")
"""

# A sink: records every event (type, id, value as a list) until the node is told to stop.
SINK = """
import os
from _rec import record
from dora_ros import Node

node = Node()
seen = []
for event in node:
    value = event.get("value")
    seen.append((event["type"], event.get("id"), None if value is None else value.to_pylist()))
    print("got", event["type"], event.get("id"))
record(os.environ["DORA_ROS_NODE_ID"], seen)
"""


def _inputs(seen: list, input_id: str) -> list[int]:
    return [v[0] for t, i, v in seen if t == "INPUT" and i == input_id]


def test_fan_out_reaches_both_subscribers_then_closes(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: src
            path: sender.py
            inputs: {tick: dora/timer/millis/20}
            outputs: [data]
          - id: a
            path: sink.py
            inputs: {x: src/data}
          - id: b
            path: sink.py
            inputs: {x: src/data}
        """,
        sender=SENDER,
        sink=SINK,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    for node in ("a", "b"):
        seen = flow.result(node)
        assert _inputs(seen, "x") == [0, 1, 2, 3, 4]
        # Every input comes before INPUT_CLOSED, which comes before STOP.
        assert seen[-2:] == [("INPUT_CLOSED", "x", None), ("STOP", "ALL_INPUTS_CLOSED", None)]


def test_fan_in_from_two_senders(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: s1
            path: sender.py
            args: "100"
            inputs: {tick: dora/timer/millis/20}
            outputs: [data]
          - id: s2
            path: sender.py
            args: "200"
            inputs: {tick: dora/timer/millis/20}
            outputs: [data]
          - id: sink
            path: sink.py
            inputs:
              one: s1/data
              two: s2/data
        """,
        sender=SENDER,
        sink=SINK,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    seen = flow.result("sink")
    assert _inputs(seen, "one") == [100, 101, 102, 103, 104]
    assert _inputs(seen, "two") == [200, 201, 202, 203, 204]
    closed = [i for t, i, _ in seen if t == "INPUT_CLOSED"]
    assert sorted(closed) == ["one", "two"]
    # STOP comes only once both inputs are closed.
    assert seen[-1] == ("STOP", "ALL_INPUTS_CLOSED", None)
    assert [t for t, _, _ in seen].count("STOP") == 1


def test_one_output_into_two_inputs_of_one_node(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: src
            path: sender.py
            inputs: {tick: dora/timer/millis/20}
            outputs: [data]
          - id: sink
            path: sink.py
            inputs:
              x: src/data
              y: {source: src/data, queue_size: 100}
        """,
        sender=SENDER,
        sink=SINK,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    seen = flow.result("sink")
    assert _inputs(seen, "x") == [0, 1, 2, 3, 4]
    assert _inputs(seen, "y") == [0, 1, 2, 3, 4]
    assert sorted(i for t, i, _ in seen if t == "INPUT_CLOSED") == ["x", "y"]
    assert seen[-1] == ("STOP", "ALL_INPUTS_CLOSED", None)


def test_output_is_prefixed_with_node_id_and_logged_per_node(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: talker
            path: talker.py
          - id: other-talker
            path: talker.py
        """,
        talker="""
        import os, sys
        name = os.environ["DORA_ROS_NODE_ID"]
        print(f"hello from {name}")
        print(f"warning from {name}", file=sys.stderr)
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    for node in ("talker", "other-talker"):
        assert f"{node}: hello from {node}\n" in result.stdout
        assert f"{node}: warning from {node}\n" in result.stderr
    logs = flow.logs()
    assert sorted(logs) == ["other-talker", "talker"]
    for node, text in logs.items():
        assert f"hello from {node}\n" in text
        assert f"warning from {node}\n" in text
        # The log file holds the node's own lines, without the terminal prefix.
        assert f"{node}: " not in text


def test_the_log_keeps_the_last_lines_of_both_streams(tmp_path):
    # Both pipes of a node end when it exits; the log must take what either still has to say
    # (the stream that ended first used to close it, losing the other's last lines).
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: a
            path: loud.py
          - id: b
            path: loud.py
          - id: c
            path: loud.py
        """,
        loud="""
        import os
        print("out")
        # one write just before exiting: the stderr relay is still busy when stdout ends
        os.write(2, "".join(f"err {i}\\n" for i in range(300)).encode())
        os._exit(0)
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    for node, text in flow.logs().items():
        lines = text.splitlines()
        assert "out" in lines, node
        assert [line for line in lines if line.startswith("err")] == [
            f"err {i}" for i in range(300)
        ], node


def test_log_folder_is_named_after_the_dataflow_id(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: src
            path: sender.py
            inputs: {tick: dora/timer/millis/10}
            outputs: [data]
        """,
        sender=SENDER,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    folder = run_dir(tmp_path / "out")
    dataflow_id = folder.name
    assert f"src: {dataflow_id} sent 5" in result.stdout
    assert (folder / "log_src.txt").read_text() == f"{dataflow_id} sent 5\n"


def test_python_node_runs_with_the_python_running_dora_ros(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: which
            path: which.py
            env: {PATH: /nonexistent}
        """,
        which="""
        import sys
        from _rec import record
        import pyarrow
        record("which", sys.executable)
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    import sys

    assert flow.result("which") == sys.executable


def test_a_closed_stdout_pipe_affects_neither_logs_nor_the_run(tmp_path):
    # `dora-ros run graph.yml | head -3`: the reader goes away after 3 lines. Before, the relay
    # thread died of BrokenPipeError and the node's log stopped at 4 of 40 lines.
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: talker
            path: talker.py
        """,
        talker="""
        import sys, time
        for i in range(40):
            print(f"line {i}", flush=True)
            print(f"err {i}", file=sys.stderr, flush=True)
            time.sleep(0.02)
        """,
    )
    proc = start_flow(flow)
    assert proc.stdout is not None and proc.stderr is not None
    head = [proc.stdout.readline() for _ in range(3)]
    proc.stdout.close()  # as `head -3` exits
    err = proc.stderr.read()
    assert proc.wait(timeout=30) == 0, err
    assert head == [f"talker: line {i}\n" for i in range(3)]
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert err.count("talker: err ") == 40, err  # stderr still shown in full
    (log,) = flow.logs().values()
    lines = log.splitlines()
    assert [x for x in lines if x.startswith("line")] == [f"line {i}" for i in range(40)]
    assert [x for x in lines if x.startswith("err")] == [f"err {i}" for i in range(40)]


def test_name_links_the_log_folder_and_the_start_line_says_where(tmp_path):
    flow = write_flow(tmp_path, "nodes:\n  - id: hello\n    path: hello.py\n", hello="print('hi')")
    ids = []
    for _ in range(2):  # the second run takes the links over
        result = run_flow(flow, "--name", "demo")
        assert result.returncode == 0, result.stderr
        match = re.search(
            r"^dora-ros: dataflow ([0-9a-f-]{36}) \(demo\) started; logs in out/\1/$",
            result.stderr,
            re.M,
        )
        assert match, result.stderr
        ids.append(match.group(1))
        for link in ("demo", "latest"):
            assert os.readlink(tmp_path / "out" / link) == ids[-1]
            assert (tmp_path / "out" / link / "log_hello.txt").read_text() == "hi\n"
    assert ids[0] != ids[1]
    assert sorted(p.name for p in run_dirs(tmp_path / "out")) == sorted(ids)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([*ids, "demo", "latest"])


def test_a_bad_name_is_a_one_line_error(tmp_path):
    flow = write_flow(tmp_path, "nodes:\n  - id: hello\n    path: hello.py\n", hello="print('hi')")
    for name in ("latest", "a/b", ".hidden"):
        result = run_flow(flow, "--name", name)
        assert result.returncode == 1
        assert result.stderr.startswith(f"error: --name {name!r}: a run's name becomes"), (
            result.stderr
        )
        assert not (tmp_path / "out").exists()


def test_ctrl_c_says_once_what_it_stops(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: ticker
            path: ticker.py
            inputs: {tick: dora/timer/millis/50}
        """,
        ticker="""
        from dora_ros import Node
        node = Node()
        print("ready", flush=True)
        for event in node:
            pass
        """,
    )
    proc = start_flow(flow, "--name", "robot")
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ticker: ready\n"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert err.count("dora-ros: stopping robot; Ctrl-C again kills\n") == 1, err


def test_node_prefixes_are_coloured_on_a_terminal_only(tmp_path):
    import pty
    import subprocess

    from runflow import DORA_ROS

    flow = write_flow(tmp_path, "nodes:\n  - id: hello\n    path: hello.py\n", hello="print('hi')")
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    proc = subprocess.Popen(
        [*DORA_ROS, "run", str(flow.graph)],
        cwd=tmp_path,
        stdout=secondary,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(secondary)
    _, err = proc.communicate(timeout=30)
    output = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # EIO: the terminal's other end is closed
            break
        if not chunk:
            break
        output += chunk
    os.close(primary)
    assert proc.returncode == 0, err
    assert re.search(rb"\x1b\[\d+mhello:\x1b\[0m hi\r?\n", output), output
    assert b"\x1b[" not in err  # stderr was a pipe: plain
    # The same node keeps its colour in every run and command (`dora-ros build` too).
    from dora_ros.runtime.console import prefix

    assert prefix("hello", True).encode() in output
    assert prefix("hello", False) == "hello: "
