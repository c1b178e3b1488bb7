"""`dora-ros topic list|echo|hz|info|pub` on a running `dora-ros run` (taps, tools/topic_dataflow.py).

Each test starts a real run in the background (`live_run`) and calls the console script against
it, with a coordinator port nothing listens on, so only the local run registry answers.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from live_run import GRAPH, LiveRun, live_run
from toolrun import DORA_ROS

from dora_ros.tools.dataflows import query

LISTENER_RECORDING = """
import json
from dora import Node

node = Node()
with open("heard.jsonl", "w") as out:
    for event in node:
        if event["type"] == "INPUT":
            out.write(json.dumps(event["value"].to_pylist()) + "\\n")
            out.flush()
"""

WIDE_TALKER = """
import pyarrow as pa
from dora import Node

node = Node()
count = 0
for event in node:
    if event["type"] == "INPUT":
        for _ in range(3):
            count += 1
            node.send_output("count", pa.array(range(count, count + 30)))
"""

FAST_GRAPH = """
nodes:
  - id: talker
    path: talker.py
    inputs:
      tick: dora/timer/millis/1
    outputs: [count]
  - id: listener
    path: listener.py
    inputs:
      count:
        source: talker/count
        queue_size: 1000
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _topic(run: LiveRun, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    port = str(_free_port())
    return subprocess.run(
        [DORA_ROS, "topic", *args, "--coordinator-port", port],
        env=run.env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def _listeners(run: LiveRun, port: int) -> dict[str, int]:
    old = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = run.env["XDG_RUNTIME_DIR"]
    try:
        rows = query(run.id, "topics", {}, port=port)["topics"]
    finally:
        if old is None:
            del os.environ["XDG_RUNTIME_DIR"]
        else:
            os.environ["XDG_RUNTIME_DIR"] = old
    return {f"{r['node']}/{r['output']}": r["listeners"] for r in rows}


def test_list_echo_hz_info_on_a_run(tmp_path: Path) -> None:
    with live_run(tmp_path, name="live") as run:
        echoed = _topic(run, "echo", "-d", "live", "talker/count", "--count", "3", "--format",
                        "json", "--metadata")  # fmt: skip
        assert echoed.returncode == 0, echoed.stderr
        lines = [json.loads(line) for line in echoed.stdout.splitlines()]
        assert len(lines) == 3
        values = [line["value"][0] for line in lines]
        assert values == list(range(values[0], values[0] + 3)), values
        assert all(line["topic"] == "talker/count" for line in lines)
        assert "timestamp" in lines[0]["metadata"]

        listed = _topic(run, "list", "-d", "live")
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.splitlines() == [
            "TOPIC         SUBSCRIBERS",
            "talker/count  listener/count (queue 4)",
        ]
        rows = [
            json.loads(line) for line in _topic(run, "list", "--format", "json").stdout.splitlines()
        ]
        assert [r["name"] for r in rows] == ["talker/count"] and rows[0]["running"] is True
        assert rows[0]["subscribers"] == [{"node": "listener", "input": "count", "queue_size": 4}]

        text = _topic(run, "echo", "talker/count", "--count", "1")
        assert text.returncode == 0 and text.stdout.startswith("[") and "---" in text.stdout

        rate = _topic(run, "hz", "talker/count", "--duration", "2", "--format", "json")
        assert rate.returncode == 0, rate.stderr
        last = json.loads(rate.stdout.splitlines()[-1])
        # a 20 ms timer: the rate from the send times, whatever the load here
        assert last["topic"] == "talker/count" and last["messages"] >= 10
        assert 20 <= last["rate"] <= 80, last
        assert last["size_mean"] == 8

        described = _topic(run, "info", "talker/count", "--duration", "1")
        assert described.returncode == 0, described.stderr
        assert described.stdout.splitlines()[:5] == [
            "Topic: talker/count",
            "Type: int64",
            "Publisher: talker (running)",
            "Subscriber count: 1",
            "  listener/count: queue_size 4",
        ]
        # every command above has let its tap go: nobody listens any more
        assert _listeners(run, _free_port()) == {"talker/count": 0}


def test_bad_input_is_one_line_and_non_zero(tmp_path: Path) -> None:
    with live_run(tmp_path, name="live") as run:
        cases = [
            (("echo", "-d", "nope", "talker/count"), "no running dataflow is called 'nope'"),
            (("echo", "-d", "live", "talkr/count"), "has no node 'talkr' (did you mean 'talker'?)"),
            (("hz", "talker/nope"), "node 'talker' has no output 'nope' (outputs: count)"),
            (("info", "talker"), "'talker': a dataflow topic is node/output"),
            (("pub", "talker/count", "{bad"), "topic pub: the data is not JSON"),
            (("pub", "listener/count", "1"), "node 'listener' has no output 'count'"),
        ]
        for args, message in cases:
            result = _topic(run, *args)
            assert result.returncode == 1, (args, result.stdout)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and message in lines[0], (args, result.stderr)


def test_pub_sends_as_the_node_would(tmp_path: Path) -> None:
    graph = GRAPH.replace("millis/20", "secs/3600")  # the talker sends once, at the start
    with live_run(tmp_path, graph=graph, listener=LISTENER_RECORDING) as run:
        heard = tmp_path / "heard.jsonl"
        deadline = time.monotonic() + 20
        while not (heard.exists() and heard.read_text().strip()):
            assert time.monotonic() < deadline, run.output()
            time.sleep(0.05)
        result = _topic(run, "pub", "talker/count", "[7, 8]", "--count", "2", "--rate", "20")
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [
            "publishing #1: talker/count (int64) to listener",
            "publishing #2: talker/count (int64) to listener",
        ]
        (tmp_path / "one.json").write_text('{"x": 1.5, "name": "a"}')
        result = _topic(run, "pub", "talker/count", "--file", str(tmp_path / "one.json"))
        assert result.returncode == 0, result.stderr
        deadline = time.monotonic() + 10
        while len(heard.read_text().splitlines()) < 4:
            assert time.monotonic() < deadline, heard.read_text()
            time.sleep(0.05)
        lines = [json.loads(line) for line in heard.read_text().splitlines()]
        assert lines == [[1], [7, 8], [7, 8], [{"x": 1.5, "name": "a"}]]


def _wait_listeners(run: LiveRun, topic: str, wanted: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    port = _free_port()
    while _listeners(run, port).get(topic) != wanted:
        assert time.monotonic() < deadline, f"{topic}: never {wanted} listener(s)"
        time.sleep(0.1)


def test_a_slow_terminal_drops_counted_and_the_dataflow_loses_nothing(tmp_path: Path) -> None:
    # 30 numbers a message, about 200 bytes printed: the pipe (64 KiB) fills in a second
    with live_run(
        tmp_path, graph=FAST_GRAPH, talker=WIDE_TALKER, listener=LISTENER_RECORDING
    ) as run:
        port = str(_free_port())
        # stdout is a pipe nobody reads for a while: the echo blocks writing, its queue fills.
        echo = subprocess.Popen(
            [DORA_ROS, "topic", "echo", "talker/count", "--duration", "3", "--coordinator-port",
             port],
            env=run.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        _wait_listeners(run, "talker/count", 1, 20)
        time.sleep(5)  # thousands of messages: 64 KiB in the pipe, MAX_QUEUED waiting, the rest
        out, err = echo.communicate(timeout=60)
        assert echo.returncode == 0, err
        assert "message(s) dropped" in err and "here: the reader was too slow" in err, err
        dropped = int(err.split("talker/count: ")[1].split()[0])
        assert dropped > 0
        shown = out.count("---")
        assert shown > 0
        _wait_listeners(run, "talker/count", 0, 5)  # it let go of the tap at the end
        # The dataflow's own edge lost nothing while the tap dropped: the listener got every
        # value the talker sent, in order.
        run.proc.send_signal(signal.SIGINT)
        run.proc.wait(timeout=20)
        values = [
            json.loads(line)[0] for line in (tmp_path / "heard.jsonl").read_text().splitlines()
        ]
        assert values == list(range(1, len(values) + 1))
        # Missed timer ticks queue up to queue_size as in dora-rs, so the busy talker's own
        # `tick` input may drop a few on a loaded machine (CI): only the edge counts here.
        drops = [x for x in run.output().splitlines() if "dropped" in x and "'tick'" not in x]
        assert drops == [], run.output()


RESTARTING_TALKER = """
import pyarrow as pa
from dora import Node

node = Node()
sent = tapped = 0
for event in node:
    if event["type"] == "INPUT":
        sent += 1
        node.send_output("count", pa.array([node.restart_count() * 1000 + sent]))
        tapped += bool(node._taps)
        if tapped == 20 and node.restart_count() == 0:
            raise SystemExit(1)  # restarted by its policy: the tap must follow
"""


def test_a_restarted_node_is_tapped_again(tmp_path: Path) -> None:
    graph = GRAPH.replace(
        "    outputs: [count]", "    outputs: [count]\n    restart_policy: on-failure"
    )
    with live_run(tmp_path, graph=graph, talker=RESTARTING_TALKER) as run:
        result = _topic(run, "echo", "talker/count", "--format", "json", "--duration", "8")
        assert result.returncode == 0, result.stderr
        values = [json.loads(line)["value"][0] for line in result.stdout.splitlines()]
        before = [v for v in values if v < 1000]
        after = [v for v in values if v > 1000]
        # the first process, from the tap on until it failed, 20 sends later
        assert len(before) >= 10 and before == list(range(before[0], before[-1] + 1)), values
        # after the restart (within one renewal of the lease) the new process is tapped
        assert len(after) >= 10 and after == list(range(after[0], after[0] + len(after)))


def test_echo_without_a_topic_prints_every_output(tmp_path: Path) -> None:
    graph = GRAPH.replace("queue_size: 4", "queue_size: 4\n    outputs: [heard]")
    listener = """
import pyarrow as pa
from dora import Node

node = Node()
for event in node:
    if event["type"] == "INPUT":
        node.send_output("heard", pa.array(["got " + str(event["value"][0].as_py())]))
"""
    with live_run(tmp_path, graph=graph, listener=listener) as run:
        # A duration, not a count: the second output's tap may attach after 20 messages of the
        # first on a loaded machine (seen in CI).
        result = _topic(run, "echo", "--format", "json", "--duration", "4")
        assert result.returncode == 0, result.stderr
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert {line["topic"] for line in lines} == {"talker/count", "listener/heard"}
        heard = [line["value"][0] for line in lines if line["topic"] == "listener/heard"]
        assert all(text.startswith("got ") for text in heard)


def test_a_killed_listener_lets_go_of_its_tap(tmp_path: Path) -> None:
    with live_run(tmp_path) as run:
        port = str(_free_port())
        echo = subprocess.Popen(
            [DORA_ROS, "topic", "echo", "talker/count", "--coordinator-port", port],
            env=run.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_listeners(run, "talker/count", 1, 20)
        echo.kill()  # no untap: the lease lapses
        echo.wait()
        _wait_listeners(run, "talker/count", 0, 10)


def test_echo_summarises_long_arrays_unless_raw(tmp_path: Path) -> None:
    talker = """
import pyarrow as pa
from dora import Node

node = Node()
for event in node:
    if event["type"] == "INPUT":
        node.send_output("count", pa.array(range(100), pa.int32()))
"""
    with live_run(tmp_path, talker=talker) as run:
        short = _topic(run, "echo", "talker/count", "--count", "1", "--format", "json")
        assert json.loads(short.stdout)["value"] == {
            "length": 100, "type": "int32", "first": [0, 1, 2, 3, 4, 5, 6, 7],
        }  # fmt: skip
        full = _topic(run, "echo", "talker/count", "--count", "1", "--format", "json", "--raw")
        assert json.loads(full.stdout)["value"] == list(range(100))
        text = _topic(run, "echo", "talker/count", "--count", "1")
        assert text.stdout.splitlines()[0] == "<100 x int32> [0, 1, 2, 3, 4, 5, 6, 7, ...]"
