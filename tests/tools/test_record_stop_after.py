"""`dora-ros record graph.yml --stop-after`: the duration counts from when every node is up, so
a node slow to start (a model loading, a loaded machine) is still recorded for that long; its
progress and summary lines say how large the file is."""

from __future__ import annotations

import textwrap
from pathlib import Path

from mcap.reader import make_reader
from toolrun import dora_ros

SLOW_TALKER = """
import os
import time

import numpy as np
import pyarrow as pa
from dora import Node

time.sleep(3)  # a slow start-up, before it registers
node = Node()
count = 0
for event in node:
    if event["type"] == "INPUT":
        count += 1
        # incompressible: the file grows as the data does
        node.send_output("count", pa.array(np.frombuffer(os.urandom(65536), np.uint8)))
"""

GRAPH = """
nodes:
  - id: talker
    path: talker.py
    inputs:
      tick: dora/timer/millis/50
    outputs: [count]
"""


def test_stop_after_counts_from_when_every_node_is_up(tmp_path: Path) -> None:
    (tmp_path / "talker.py").write_text(textwrap.dedent(SLOW_TALKER))
    (tmp_path / "graph.yml").write_text(textwrap.dedent(GRAPH))
    out = tmp_path / "run.mcap"
    result = dora_ros("record", "graph.yml", "-o", str(out), "--stop-after", "2s",
                      cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    with open(out, "rb") as stream:
        count = sum(1 for _ in make_reader(stream).iter_messages(topics=["talker/count"]))
    # 2 s at 20 Hz once up; before: the 2 s ended during the talker's start-up, 0 recorded
    assert count >= 10, (count, result.stdout, result.stderr)
    # the summary says the file's size, named as such (before: message bytes, unnamed)
    size = out.stat().st_size / (1 << 20)
    assert size > 1  # 64 KiB of random bytes a message
    summary = [line for line in result.stdout.splitlines() if "recorded" in line][-1]
    assert f", {size:.1f} MiB file;" in summary and "of message data" in summary, summary
    progress = [line for line in result.stdout.splitlines() if "recording" in line]
    assert progress and all(" in the file" in line for line in progress), result.stdout
