"""The dataflow API (cluster/dataflow_api.py) of a dataflow started with `dora-ros start`: each
machine's run answers on its own key, found through the coordinator (tools/dataflows.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cluster_env import Cluster, write
from graphs import SCRIPTS, SPLIT_GRAPH

from dora_ros.cluster.zenoh_config import ClusterError
from dora_ros.tools.dataflows import DataflowClient, resolve


def test_started_dataflow_answers_describe_per_machine(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No local `dora-ros run` of another test may be seen: a private runtime dir.
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "rt"))
    write(tmp_path, SPLIT_GRAPH, **SCRIPTS)
    cluster.up("robot", "gpu")
    cluster.cli("start", "graph.yml", "--name", "split", "--detach", check=True)
    uuid = cluster.row("split")["uuid"]  # type: ignore[index]
    ref = resolve("split", cluster.addr, cluster.port)
    assert (ref.id, ref.source, ref.machines) == (uuid, "coordinator", ("gpu", "robot"))
    assert resolve(None, cluster.addr, cluster.port).id == uuid  # the only one running
    with DataflowClient.open(uuid, cluster.addr, cluster.port) as client:
        answers = client.query_all("describe", {})
        assert sorted(answers) == ["gpu", "robot"]
        assert answers["robot"]["nodes"] == ["source", "relay"]
        assert answers["gpu"]["nodes"] == ["sink", "recorder"]
        assert {a["id"] for a in answers.values()} == {uuid}
        assert client.query("ping", {}, node="sink")["machine"] == "gpu"
        with pytest.raises(ClusterError, match="has no node 'ghost'"):
            client.query("ping", {}, node="ghost")
    with pytest.raises(ClusterError, match="no running dataflow is called 'nope'"):
        resolve("nope", cluster.addr, cluster.port)
    cluster.cli("stop", "split", "--grace-duration", "5s", check=True)


def test_node_and_param_commands_on_a_started_dataflow(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`node info/restart`, `param set/get` and `top` reach the machine that runs the node."""
    import json

    from cluster_env import wait_for

    env_runtime = str(tmp_path / "rt")
    monkeypatch.setenv("XDG_RUNTIME_DIR", env_runtime)
    write(tmp_path, SPLIT_GRAPH, **SCRIPTS)
    cluster.up("robot", "gpu")
    cluster.cli("start", "graph.yml", "--name", "split", "--detach", check=True)

    def info(node: str) -> dict[str, object]:
        run = cluster.cli("node", "info", node, "-d", "split", "--format", "json", check=True)
        answer: dict[str, object] = json.loads(run.stdout)
        return answer

    wait_for(lambda: info("sink")["status"] == "running", 20, "sink running")
    sink = info("sink")
    assert sink["machine"] == "gpu" and sink["inputs"][0]["source"] == "relay/big"  # type: ignore[index]
    assert info("relay")["machine"] == "robot"
    done = cluster.cli("param", "set", "sink", "gain", "2.5", "-d", "split", check=True)
    assert done.stdout.strip() == "Set `gain` = 2.5 on node `sink`"
    assert cluster.cli("param", "get", "sink", "gain", "-d", "split").stdout.strip() == "2.5"
    missing = cluster.cli("param", "get", "relay", "gain", "-d", "split")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: node 'relay' has no parameter 'gain'"
    restarted = cluster.cli("node", "restart", "recorder", "-d", "split", "--grace", "1s")
    assert restarted.returncode == 0, restarted.stderr
    wait_for(lambda: info("recorder")["restarts"] == 1 and info("recorder")["status"] == "running",
             20, "the recorder's restart")  # fmt: skip
    rows = json.loads(cluster.cli("top", "-d", "split", "--once", check=True).stdout)
    assert sorted((r["node"], r["machine"]) for r in rows) == [
        ("recorder", "gpu"), ("relay", "robot"), ("sink", "gpu"), ("source", "robot")
    ]  # fmt: skip
    cluster.cli("stop", "split", "--grace-duration", "5s", check=True)
