"""Faults of a two-machine dataflow (daemons on loopback): a machine lost, the coordinator lost."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from cluster_env import DORA_ROS, Cluster, result, wait_for, write
from graphs import SCRIPTS, SPLIT_GRAPH, assert_seen_or_counted


def _count(folder: Path) -> int:
    return len(result(folder, "recorder")) if (folder / "recorder.pkl").exists() else 0


def test_daemon_killed_is_a_lost_machine(cluster: Cluster, tmp_path: Path) -> None:
    write(tmp_path, SPLIT_GRAPH, **SCRIPTS)
    cluster.up("robot", "gpu")
    # Attached, as a user watching it: the command ends non-zero, naming the machine.
    attached = subprocess.Popen(
        [*DORA_ROS, "start", "graph.yml", "--name", "two", "--attach"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=cluster.env(),
    )  # fmt: skip
    try:
        wait_for(lambda: _count(tmp_path) >= 5, 30, "5 messages at the recorder")
        cluster.kill("robot")  # SIGKILL: its machine run and nodes die with it
        killed = time.monotonic()
        _, err = attached.communicate(timeout=30)
    finally:
        if attached.poll() is None:
            attached.kill()
            attached.wait()
    assert attached.returncode == 1, err
    assert "failed: machine 'robot' lost" in err, err

    def ended() -> dict[str, object] | None:
        row = cluster.row("two")
        return row if row is not None and row["status"] != "running" else None

    row = wait_for(ended, 15, "the dataflow to end")
    assert time.monotonic() - killed < 5
    assert row["status"] == "failed"
    assert "machine 'robot' lost" in str(row["message"])
    coordinator_log = (tmp_path / "coordinator.log").read_text()
    assert "machine 'robot' lost: its daemon stopped answering" in coordinator_log

    sink = wait_for(lambda: (tmp_path / "sink.pkl").exists() and any(
        e[0] == "STOP" for e in result(tmp_path, "sink")["events"]) and result(tmp_path, "sink"),
        10, "the sink to stop")  # fmt: skip
    kinds = [e[0] for e in sink["events"] if e[0] != "INPUT"]
    assert kinds[:2] == ["INPUT_CLOSED", "NODE_FAILED"]
    failed = next(e for e in sink["events"] if e[0] == "NODE_FAILED")
    assert failed[1] == "relay"
    assert failed[2]["error"] == "machine 'robot' was lost (its daemon stopped answering)"
    assert failed[2]["affected_input_ids"] == ["big"]

    # The same machine id comes back, and takes its part of a new dataflow.
    cluster.start_daemon("robot")
    cluster.wait_daemons("robot", "gpu")
    (tmp_path / "recorder.pkl").unlink()
    cluster.cli("start", "graph.yml", "--name", "again", "--detach", check=True)
    wait_for(lambda: _count(tmp_path) >= 5, 30, "5 messages through the rejoined machine")
    row = cluster.row("again")
    assert row is not None and row["status"] == "running" and row["machines"] == ["gpu", "robot"]
    assert "finished" in cluster.cli("stop", "again", check=True).stdout


def test_coordinator_killed_and_restarted(cluster: Cluster, tmp_path: Path) -> None:
    write(tmp_path, SPLIT_GRAPH, **SCRIPTS)
    cluster.up("robot", "gpu")
    cluster.cli("start", "graph.yml", "--name", "two", "--detach", check=True)
    wait_for(lambda: _count(tmp_path) >= 5, 30, "5 messages at the recorder")

    cluster.kill("coordinator")
    before = _count(tmp_path)
    wait_for(lambda: _count(tmp_path) >= before + 20, 15, "data to flow without coordinator")
    gone = cluster.cli("list")
    assert gone.returncode == 1 and "no coordinator answers" in gone.stderr

    cluster.start_coordinator()
    row = wait_for(lambda: cluster.cli("list").returncode == 0 and cluster.row("two"), 30,
                   "the restarted coordinator to learn the dataflow back")  # fmt: skip
    assert row["status"] == "running" and row["machines"] == ["gpu", "robot"]
    cluster.wait_daemons("robot", "gpu")
    stopped = cluster.cli("stop", "two", check=True)
    assert "finished" in stopped.stdout
    numbers = [e[1] for e in result(tmp_path, "sink")["events"] if e[0] == "INPUT"]
    assert_seen_or_counted(numbers, _final(cluster), tmp_path)


def _final(cluster: Cluster) -> dict[str, object]:
    row = cluster.row("two")
    assert row is not None and row["status"] != "running"
    return row
