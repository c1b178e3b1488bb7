"""Operating a running dataflow from another terminal (daemon on loopback): `logs -f` follows a
node's new lines and ends with the dataflow; `stop <uuid> --force` ends a node that ignores STOP
and SIGTERM at once, where a plain stop would wait out the grace duration."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from cluster_env import DORA_ROS, Cluster, wait_for, write

STUBBORN = """
nodes:
  - id: talker
    path: talker.py
    inputs:
      tick: dora/timer/millis/100
"""

# Prints a line per tick; on STOP it does not end (sleeps on), and it ignores SIGTERM.
TALKER = """
import signal, time
from dora import Node

signal.signal(signal.SIGTERM, signal.SIG_IGN)
n = 0
for event in Node():
    if event["type"] == "INPUT":
        n += 1
        print(f"tick {n}", flush=True)
    elif event["type"] == "STOP":
        time.sleep(3600)
"""


def test_logs_follow_and_forced_stop_by_uuid(cluster: Cluster, tmp_path: Path) -> None:
    write(tmp_path, STUBBORN, talker=TALKER)
    cluster.up("robot")
    cluster.cli("start", "graph.yml", "--name", "chatty", "--detach", check=True)
    row = cluster.row("chatty")
    assert row is not None
    uuid = row["uuid"]
    wait_for(lambda: "tick 3" in cluster.cli("logs", "chatty", "-n", "talker").stdout, 20,
             "three lines in the log")  # fmt: skip

    follow = subprocess.Popen(
        [*DORA_ROS, "logs", "chatty", "-n", "talker", "-f"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=cluster.env(),
    )  # fmt: skip
    try:
        assert follow.stdout is not None
        lines = [follow.stdout.readline().strip() for _ in range(30)]
        ticks = [int(line.split()[1]) for line in lines if line.startswith("tick ")]
        assert len(ticks) == 30, lines
        # The tail first, then new lines as they come: one run of consecutive numbers.
        assert ticks == list(range(ticks[0], ticks[0] + 30)), ticks

        began = time.monotonic()
        stopped = cluster.cli("stop", uuid, "--force", "--grace-duration", "30s", timeout=60)
        elapsed = time.monotonic() - began
        assert stopped.returncode in (0, 1), stopped.stdout + stopped.stderr
        assert elapsed < 10, (elapsed, stopped.stdout, stopped.stderr)
        row = cluster.row("chatty")
        assert row is not None and row["status"] != "running", row
        # `logs -f` ends by itself with the dataflow.
        assert follow.wait(timeout=10) == 0, follow.stderr.read() if follow.stderr else ""
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
