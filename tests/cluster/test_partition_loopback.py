"""The partition fault on loopback (always runs; test_netns.py pulls a veth link where namespaces
exist): every process of machine robot (daemon, machine run, nodes) is frozen with SIGSTOP for
10 s, as a machine that stops answering, then thawed with SIGCONT."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from cluster_env import Cluster, result, wait_for, write
from graphs import SCRIPTS, SPLIT_GRAPH, assert_seen_or_counted


def _count(folder: Path) -> int:
    return len(result(folder, "recorder")) if (folder / "recorder.pkl").exists() else 0


def _tree(root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def test_frozen_machine_is_reported_and_survived(cluster: Cluster, tmp_path: Path) -> None:
    write(tmp_path, SPLIT_GRAPH, **SCRIPTS)
    cluster.up("robot", "gpu")
    cluster.cli("start", "graph.yml", "--name", "two", "--detach", check=True)
    wait_for(lambda: _count(tmp_path) >= 5, 30, "5 messages at the recorder")
    coordinator_log = tmp_path / "coordinator.log"

    robot = _tree(cluster.procs["robot"].pid)
    assert len(robot) >= 4, robot  # daemon, machine run, source, relay
    _signal_all(robot, signal.SIGSTOP)
    frozen = time.monotonic()
    try:
        wait_for(lambda: "machine 'robot' unreachable" in coordinator_log.read_text(), 5,
                 "the frozen machine to be reported")  # fmt: skip
        status = cluster.cli("status", check=True).stdout
        assert "daemon robot: unreachable" in status and "daemon gpu: connected" in status
        time.sleep(max(0.0, 10 - (time.monotonic() - frozen)))
    finally:
        _signal_all(robot, signal.SIGCONT)
    wait_for(lambda: "machine 'robot' reachable again" in coordinator_log.read_text(), 20,
             "the end of the freeze to be reported")  # fmt: skip
    resumed = _count(tmp_path)
    wait_for(lambda: _count(tmp_path) >= resumed + 10, 20, "the edge to resume")
    row = cluster.row("two")
    assert row is not None and row["status"] == "running", row

    stopped = cluster.cli("stop", "two", check=True)
    assert "finished" in stopped.stdout
    numbers = [e[1] for e in result(tmp_path, "sink")["events"] if e[0] == "INPUT"]
    final = cluster.row("two")
    assert final is not None and final["status"] == "finished", final
    assert_seen_or_counted(numbers, final, tmp_path)
