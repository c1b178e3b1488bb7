"""Verbs on a node that ended for good (failed at start-up) while its dataflow runs on:
`topic echo` says so at once instead of waiting silently, and `node restart` explains why it
refuses (as dora-rs 1.1, which restarts only a node whose process still runs) and what to do.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from live_run import LiveRun, live_run
from toolrun import DORA_ROS

FAILING = """
raise SystemExit(3)
"""

# The listener has a timer too: it keeps the dataflow running after the talker failed.
GRAPH = """
nodes:
  - id: talker
    path: talker.py
    outputs: [count]
  - id: listener
    path: listener.py
    inputs:
      count: talker/count
      tick: dora/timer/millis/100
"""


def _dora_ros(run: LiveRun, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    return subprocess.run(
        [DORA_ROS, *args, "--coordinator-port", port],
        env=run.env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def _wait_failed(run: LiveRun) -> None:
    deadline = time.monotonic() + 30
    while "failed" not in _dora_ros(run, "node", "list").stdout:
        assert time.monotonic() < deadline, run.output()
        time.sleep(0.2)


def test_echo_on_a_failed_node_says_so_at_once(tmp_path: Path) -> None:
    with live_run(tmp_path, graph=GRAPH, talker=FAILING) as run:
        _wait_failed(run)
        started = time.monotonic()
        # before: no word, and it waited until --duration
        echoed = _dora_ros(run, "topic", "echo", "talker/count", "--duration", "30")
        assert time.monotonic() - started < 20
        assert echoed.returncode == 1, echoed
        assert echoed.stderr.strip().splitlines() == [
            "error: talker/count: node 'talker' is not running (failed) and will not restart"
        ], echoed.stderr


def test_restart_of_a_failed_node_says_how_to_bring_it_back(tmp_path: Path) -> None:
    with live_run(tmp_path, graph=GRAPH, talker=FAILING) as run:
        _wait_failed(run)
        restarted = _dora_ros(run, "node", "restart", "talker")
        assert restarted.returncode == 1
        lines = restarted.stderr.strip().splitlines()
        assert len(lines) == 1 and "node 'talker' is not running (failed)" in lines[0], lines
        assert "run the dataflow again" in lines[0] and "restart_policy" in lines[0], lines
