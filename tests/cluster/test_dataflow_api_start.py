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
