"""Timer ticks a busy node missed queue up as in dora-rs 1.1: up to the input's queue_size, the
oldest dropped, each tick stamped with when it was due.

Measured with dora-rs 1.1 (`dora run`, the node below): a node on `dora/timer/millis/10` that
sleeps 1.5 s and then calls `drain()` gets 10 ticks (the default queue_size). dora-ros gave 1.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from runflow import run_flow, write_flow

BIN = Path(sys.executable).parent

GRAPH = """
nodes:
  - id: sleeper
    path: sleeper.py
    inputs:
      tick: dora/timer/millis/10
"""

# The same file runs under both runtimes (`from dora import Node` is dora-ros inside dora-ros).
SLEEPER = """
import json, time
from dora import Node

node = Node()
first = node.next()
time.sleep(1.5)
now = time.time()
events = node.drain()
after = time.time()
stamps = [e["metadata"]["timestamp"].timestamp() for e in events if e["type"] == "INPUT"]
with open("drained.json", "w") as f:
    json.dump({"first": first["type"], "types": [e["type"] for e in events],
               "ids": [e.get("id") for e in events], "stamps": stamps, "now": now, "after": after}, f)
"""


def _drained(folder: Path) -> dict:
    return json.loads((folder / "drained.json").read_text())


def test_ticks_missed_while_busy_queue_up_to_queue_size(tmp_path: Path) -> None:
    flow = write_flow(tmp_path, GRAPH, sleeper=SLEEPER)
    result = run_flow(flow, "--stop-after", "4s")
    assert result.returncode == 0, result.stderr
    got = _drained(tmp_path)
    assert got["first"] == "INPUT"
    # Before: 1 (missed ticks were skipped). dora-rs 1.1: 10, the default queue_size.
    assert got["types"] == ["INPUT"] * 10 and set(got["ids"]) == {"tick"}, got
    stamps = got["stamps"]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    # The newest ten, 10 ms apart as they fell due, the last one due before drain() returned
    # (drain queues the ticks due when it runs: on a loaded machine that can be some ms after
    # `now`, which CI once saw: the last tick 16 ms after `now`).
    assert all(abs(gap - 0.010) < 0.002 for gap in gaps), gaps
    assert got["now"] - 0.5 < stamps[-1] <= got["after"], (got["now"], stamps[-1], got["after"])


@pytest.mark.skipif(shutil.which("dora", path=str(BIN)) is None, reason="dora-rs-cli not installed")
def test_dora_rs_queues_the_same_number_of_missed_ticks(tmp_path: Path) -> None:
    """The reference: the same node under a real dora-rs 1.1 `dora run` drains 10 ticks."""
    (tmp_path / "graph.yml").write_text(GRAPH)
    (tmp_path / "sleeper.py").write_text(SLEEPER)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)  # the real dora-rs module, not dora-ros's compat one
    subprocess.run(
        [str(BIN / "dora"), "run", "graph.yml", "--stop-after", "4s"],
        env=env, capture_output=True, timeout=90, cwd=tmp_path, check=True,
    )  # fmt: skip
    got = _drained(tmp_path)
    # dora-rs queues at two places: its daemon (queue_size, oldest dropped), and in the node's
    # process, where an event-stream thread moves what it fetched from the daemon into a queue
    # of its own, so one tick more can be on its way between the two when drain() runs. Quiet:
    # 10; CI, loaded, once saw 11 (never more). Ours, above, is exactly 10 (one queue).
    assert got["types"] in (["INPUT"] * 10, ["INPUT"] * 11) and set(got["ids"]) == {"tick"}, got
