"""A graph split over two machines (daemons on loopback), operated with start/list/logs/stop."""

from __future__ import annotations

import time
from pathlib import Path

from cluster_env import Cluster, result, wait_for, write
from graphs import (
    FINITE_GRAPH,
    RECEIVER,
    SCRIPTS,
    SENDER,
    SINK,
    SPLIT_GRAPH,
    assert_seen_or_counted,
)


def test_start_list_logs_stop(cluster: Cluster, tmp_path: Path) -> None:
    write(tmp_path, SPLIT_GRAPH, **SCRIPTS)
    cluster.up("robot", "gpu")
    started = cluster.cli("start", "graph.yml", "--name", "two", "--detach", check=True)
    assert "started (two) on gpu, robot" in started.stdout

    row = cluster.row("two")
    assert row is not None and row["status"] == "running"
    assert row["machines"] == ["gpu", "robot"] and row["nodes"] == 4
    quiet = cluster.cli("list", "-q", check=True).stdout.split()
    assert quiet == [row["uuid"]]
    table = cluster.cli("list", check=True).stdout.splitlines()
    assert table[0].split() == ["UUID", "NAME", "STATUS", "NODES", "MACHINES", "CPU", "MEMORY"]
    assert table[1].split()[:5] == [row["uuid"], "two", "Running", "4", "gpu,robot"]

    # Data crossed machines and went on over gpu's local edge.
    wait_for(lambda: (tmp_path / "recorder.pkl").exists() and len(result(tmp_path, "recorder"))
             >= 12, 30, "12 messages at the recorder")  # fmt: skip
    # CPU and memory of the four node processes (each a Python with pyarrow: tens of MB).
    usage = wait_for(lambda: (r := cluster.row("two")) and r["memory"] > 40e6 and r, 10,
                     "the nodes' memory in `list`")  # fmt: skip
    assert usage["cpu"] >= 0
    logs = cluster.cli("logs", "two", "-n", "sink", "--tail", "3", check=True).stdout
    lines = logs.splitlines()
    assert len(lines) == 3 and all(line.startswith("sink got ") for line in lines)
    everything = cluster.cli("logs", row["uuid"], check=True).stdout
    assert "sink: sink got " in everything

    stopped = cluster.cli("stop", "two", check=True)
    assert f"dataflow {row['uuid']} finished" in stopped.stdout
    final = cluster.row("two")
    assert final is not None and final["status"] == "finished"

    sink = result(tmp_path, "sink")
    inputs = [e for e in sink["events"] if e[0] == "INPUT"]
    numbers = [n for _, n, _ in inputs]
    assert len(numbers) >= 12
    assert_seen_or_counted(numbers, _final(cluster), tmp_path)
    assert all(ok for _, _, ok in inputs)  # 8 B and 64 KiB arrays arrived intact
    assert sink["meta"] == {"n": numbers[0], "tag": "from-robot", "has_timestamp": True}
    assert sink["events"][-1][:2] == ("STOP", "MANUAL")
    seen = result(tmp_path, "recorder")
    assert seen == numbers[: len(seen)]


def test_attach_input_closed_crosses_machines(cluster: Cluster, tmp_path: Path) -> None:
    write(tmp_path, FINITE_GRAPH, sender=SENDER, receiver=RECEIVER)
    cluster.up("robot", "gpu")
    run = cluster.cli("start", "graph.yml", "--attach")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "receiver: receiver got 5" in run.stdout  # node lines shown while attached
    assert run.stdout.rstrip().endswith("finished")
    assert result(tmp_path, "receiver") == [
        *(("INPUT", n) for n in range(1, 6)),
        ("INPUT_CLOSED", "data"),
        ("STOP", "ALL_INPUTS_CLOSED"),
    ]


def test_failure_on_one_machine_is_node_failed_on_the_other(
    cluster: Cluster, tmp_path: Path
) -> None:
    graph = FINITE_GRAPH.replace("    outputs: [data]", "    outputs: [data]\n    env: {FAIL: 1}")
    write(tmp_path, graph, sender=SENDER, receiver=RECEIVER)
    cluster.up("robot", "gpu")
    start = time.monotonic()
    run = cluster.cli("start", "graph.yml", "--name", "failing")
    assert run.returncode == 1, run.stdout + run.stderr
    assert time.monotonic() - start < 30
    assert "failed: node 'sender' failed with exit status 3" in run.stderr
    events = result(tmp_path, "receiver")
    assert events[:5] == [("INPUT", n) for n in range(1, 6)]
    assert events[5] == ("INPUT_CLOSED", "data")
    assert events[6][:2] == ("NODE_FAILED", "sender")
    assert "exited with code 3" in events[6][2] and "sender: giving up" in events[6][2]
    row = cluster.row("failing")
    assert row is not None and row["status"] == "failed"


QUEUE_GRAPH = """
nodes:
  - id: burst
    path: burst.py
    deploy: {machine: robot}
    inputs:
      tick: dora/timer/millis/500
    outputs: [data]
  - id: slow
    path: slow.py
    deploy: {machine: gpu}
    inputs:
      data: {source: burst/data, queue_size: 3}
"""

BURST = """
import pyarrow as pa
from dora import Node

node = Node()
for event in node:
    if event["type"] == "INPUT":
        for n in range(1, 101):
            node.send_output("data", pa.array([n]))
        break
"""

SLOW = """
import time
from dora import Node
from _rec import record

node = Node()
got = []
for event in node:
    if event["type"] == "INPUT":
        got.append(event["value"][0].as_py())
        time.sleep(0.3)
record("slow", got)
"""


def test_queue_size_and_drop_oldest_across_machines(cluster: Cluster, tmp_path: Path) -> None:
    write(tmp_path, QUEUE_GRAPH, burst=BURST, slow=SLOW)
    cluster.up("robot", "gpu")
    run = cluster.cli("start", "graph.yml", "--name", "q")
    assert run.returncode == 0, run.stdout + run.stderr
    got = result(tmp_path, "slow")
    # A burst of 100 into a queue of 3 while the receiver sleeps: the oldest went, the newest
    # stayed (the last message always arrives), and every message is either seen or counted.
    assert got == sorted(got) and got[-1] == 100
    assert len(got) < 20
    row = cluster.row("q")
    assert row is not None
    # Dropped at the receiver's queue, or by the sender while its Zenoh publisher was not
    # matched yet (it holds at most queue_size messages): counted either way, all of them.
    assert set(row["dropped"]) <= {"slow/data", "burst->slow"}
    assert sum(row["dropped"].values()) == 100 - len(got)
    if "slow/data" in row["dropped"]:
        count = row["dropped"]["slow/data"]
        assert f"node 'slow' input 'data': dropped {count} message(s)" in run.stderr
    if "burst->slow" in row["dropped"]:
        count = row["dropped"]["burst->slow"]
        assert f"node 'burst': {count} message(s) for 'slow' were dropped" in run.stderr


def _final(cluster: Cluster) -> dict[str, object]:
    row = cluster.row("two")
    assert row is not None and row["status"] != "running"
    return row


# relay's output goes to a node on its own machine (shared memory) and one on the other: the
# 64 KiB messages leave robot from the shared-memory region (header and metadata as the Zenoh
# attachment, the payload alone as the Zenoh payload), 8 B ones inline.
MIXED_GRAPH = SPLIT_GRAPH.replace(
    "  - id: recorder\n",
    "  - id: mirror\n"
    "    path: mirror.py\n"
    "    deploy: {machine: robot}\n"
    "    inputs:\n"
    "      big: relay/big\n"
    "    outputs: [count]\n"
    "  - id: recorder\n",
)


def test_local_and_remote_receivers_of_one_output(cluster: Cluster, tmp_path: Path) -> None:
    mirror = SINK.replace('record("sink"', 'record("mirror"').replace("sink got", "mirror got")
    write(tmp_path, MIXED_GRAPH, **SCRIPTS, mirror=mirror)
    cluster.up("robot", "gpu")
    cluster.cli("start", "graph.yml", "--name", "two", "--detach", check=True)
    wait_for(lambda: (tmp_path / "recorder.pkl").exists() and len(result(tmp_path, "recorder"))
             >= 12, 30, "12 messages at the recorder")  # fmt: skip
    cluster.cli("stop", "two", check=True)
    for name in ("sink", "mirror"):
        got = result(tmp_path, name)
        inputs = [e for e in got["events"] if e[0] == "INPUT"]
        assert len(inputs) >= 12, name
        assert all(ok for _, _, ok in inputs), name  # 8 B and 64 KiB arrays arrived intact
        assert got["meta"] == {"n": inputs[0][1], "tag": "from-robot", "has_timestamp": True}
    sink = [n for _, n, _ in (e for e in result(tmp_path, "sink")["events"] if e[0] == "INPUT")]
    assert_seen_or_counted(sink, _final(cluster), tmp_path)
