"""`dora-ros topic` and `record --proxy` on a dataflow started with `dora-ros start` over two
machines (loopback): each verb reaches the supervisor of the machine that runs the node."""

from __future__ import annotations

import json
from pathlib import Path

from cluster_env import Cluster, wait_for, write
from graphs import SCRIPTS, SPLIT_GRAPH
from mcap.reader import make_reader


def test_topic_verbs_and_record_proxy_on_a_started_dataflow(
    cluster: Cluster, tmp_path: Path
) -> None:
    write(tmp_path, SPLIT_GRAPH, **SCRIPTS)
    cluster.up("robot", "gpu")
    cluster.cli("start", "graph.yml", "--name", "split", "--detach", check=True)

    listed = cluster.cli("topic", "list", "-d", "split", "--format", "json", check=True)
    rows = {r["name"]: r for r in map(json.loads, listed.stdout.splitlines())}
    assert sorted(rows) == ["relay/big", "sink/count", "source/value"]
    assert rows["relay/big"]["subscribers"] == [{"node": "sink", "input": "big", "queue_size": 10}]

    # relay runs on robot; its output alternates 8 B and 64 KiB (shared memory) messages
    echoed = cluster.cli("topic", "echo", "-d", "split", "relay/big", "--count", "4", "--format",
                         "json", "--metadata", check=True)  # fmt: skip
    lines = [json.loads(line) for line in echoed.stdout.splitlines()]
    ns = [line["metadata"]["n"] for line in lines]
    assert ns == list(range(ns[0], ns[0] + 4))
    assert {line["metadata"]["tag"] for line in lines} == {"from-robot"}

    # sink runs on gpu
    rate = cluster.cli("topic", "hz", "-d", "split", "sink/count", "--duration", "2", "--format",
                       "json", check=True)  # fmt: skip
    last = json.loads(rate.stdout.splitlines()[-1])
    assert last["topic"] == "sink/count" and last["messages"] >= 5

    recorded = cluster.cli("record", "--proxy", "--name", "split", "-o", "split.mcap",
                           "--topics", "source/value,sink/count", "--stop-after", "2s",
                           check=True)  # fmt: skip
    assert "message(s) dropped" not in recorded.stderr, recorded.stderr
    with open(tmp_path / "split.mcap", "rb") as stream:
        topics = [c.topic for _, c, _ in make_reader(stream).iter_messages()]
    assert topics.count("source/value") >= 10 and topics.count("sink/count") >= 10

    # pub on robot's output: robot's supervisor sends it to relay (gpu's has no receiver of it);
    # relay passes it on across machines to sink like any value of source
    published = cluster.cli("topic", "pub", "-d", "split", "source/value", "[100000]",
                            check=True)  # fmt: skip
    assert published.stdout.splitlines() == ["publishing #1: source/value (int64) to relay"]
    wait_for(lambda: "sink got 100000" in cluster.cli("logs", "split", "-n", "sink").stdout, 20,
             "the published value at the sink")  # fmt: skip

    bad = cluster.cli("topic", "echo", "-d", "split", "ghost/out")
    assert bad.returncode == 1 and "has no node 'ghost'" in bad.stderr
    cluster.cli("stop", "split", "--grace-duration", "5s", check=True)
