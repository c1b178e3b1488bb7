"""`dora-ros top` / `inspect top` on a background `dora-ros run`: one table into a pipe, one JSON
snapshot with --once; rates from the nodes' stats records, drops of a slow receiver."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from live_run import live_run
from toolrun import dora_ros

SLOW = """
import time
from dora import Node

node = Node()
for event in node:
    if event["type"] == "STOP":
        break
    time.sleep(0.2)  # far slower than the 20 ms talker: its queue of 1 drops
"""

GRAPH = """
nodes:
  - id: talker
    path: talker.py
    inputs:
      tick: dora/timer/millis/20
    outputs: [count]
  - id: listener
    path: listener.py
    inputs:
      count: talker/count
  - id: slow
    path: slow.py
    inputs:
      count:
        source: talker/count
        queue_size: 1
"""


def _snapshot(env: dict[str, str], folder: Path, *command: str) -> list[dict[str, Any]]:
    result = dora_ros(*command, "--once", cwd=folder, env=env)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_top_shows_rates_memory_and_drops(tmp_path: Path) -> None:
    with live_run(tmp_path, graph=GRAPH, slow=SLOW) as run:
        deadline = time.monotonic() + 30
        while True:
            rows = {r["node"]: r for r in _snapshot(run.env, tmp_path, "top")}
            rates = (rows["talker"]["out_per_s"], rows["listener"]["in_per_s"],
                     rows["slow"]["in_per_s"])  # fmt: skip
            if all(r is not None and r > 0 for r in rates) and rows["slow"]["dropped"] > 0:
                break
            assert time.monotonic() < deadline, rows
            time.sleep(0.5)
        assert set(rows) == {"talker", "listener", "slow"}
        assert 25 <= rows["talker"]["out_per_s"] <= 75  # 50 Hz
        assert 25 <= rows["listener"]["in_per_s"] <= 75
        assert 2 <= rows["slow"]["in_per_s"] <= 75  # counted on arrival, dropped or not
        assert all(r["memory"] > 1 << 20 and r["cpu"] is not None for r in rows.values())
        assert {r["dataflow"] for r in rows.values()} == {"live"}

        # Into a pipe: one table, then exit (no screen control codes).
        piped = dora_ros("top", "-d", "live", cwd=tmp_path, env=run.env)
        assert piped.returncode == 0, piped.stderr
        assert "\x1b" not in piped.stdout
        lines = piped.stdout.splitlines()
        header = re.split(r"\s{2,}", lines[0].strip())
        assert header == ["NODE", "STATUS", "DATAFLOW", "MACHINE", "PID", "CPU", "MEMORY",
                          "IN/S", "OUT/S", "DROPPED", "RESTARTS"]  # fmt: skip
        table = {cells[0]: dict(zip(header, cells, strict=True))
                 for cells in (re.split(r"\s{2,}", line.strip()) for line in lines[1:])}  # fmt: skip
        assert set(table) == {"talker", "listener", "slow"}
        assert int(table["slow"]["DROPPED"]) > 0
        assert table["talker"]["MEMORY"].endswith("MiB") and table["talker"]["CPU"].endswith("%")

        same = _snapshot(run.env, tmp_path, "inspect", "top")
        assert {r["node"] for r in same} == {"talker", "listener", "slow"}


def test_top_without_dataflows_and_bad_input(tmp_path: Path) -> None:
    with live_run(tmp_path) as run:
        env = run.env
    quiet = dora_ros("top", cwd=tmp_path, env=env)  # the run ended: nothing runs
    assert quiet.returncode == 0 and quiet.stdout.strip() == "no node is running"
    unknown = dora_ros("top", "-d", "ghost", cwd=tmp_path, env=env)
    assert unknown.returncode == 1
    assert (
        unknown.stderr.strip() == "error: no running dataflow is called 'ghost' (none is running)"
    )
    bad = dora_ros("top", "--refresh-interval", "0", cwd=tmp_path, env=env)
    assert bad.returncode == 2 and "--refresh-interval" in bad.stderr


SENDER = """
import time
import pyarrow as pa
from dora import Node

node = Node()
count = 0
while True:  # sends only: never asks for an event
    count += 1
    node.send_output("count", pa.array([count]))
    time.sleep(0.02)
"""

SEND_ONLY = """
nodes:
  - id: talker
    path: sender.py
    outputs: [count]
  - id: listener
    path: listener.py
    inputs:
      count: talker/count
"""


def test_a_node_that_only_sends_has_a_rate(tmp_path: Path) -> None:
    with live_run(tmp_path, graph=SEND_ONLY, sender=SENDER) as run:
        deadline = time.monotonic() + 30
        while True:
            rows = {r["node"]: r for r in _snapshot(run.env, tmp_path, "top")}
            if rows["talker"]["out_per_s"]:
                break
            assert time.monotonic() < deadline, rows["talker"]
            time.sleep(0.5)
        assert 10 <= rows["talker"]["out_per_s"] <= 75  # ~50 Hz
