"""A node's output lines (`send_stdout_as`) and its log records (`dora/logs`) reach a receiver on
another machine, as they reach one on the same machine.

The lines are sent by the sending node's supervisor (its machine run), not by the node: before,
a receiver on another machine got none of them, without a word (the run connected to a local
socket that does not exist there and counted them as dropped).
"""

from __future__ import annotations

import json
from pathlib import Path

from cluster_env import Cluster, result, wait_for, write

GRAPH = """
nodes:
  - id: talker
    path: talker.py
    deploy: {machine: robot}
    send_stdout_as: lines
    inputs:
      tick: dora/timer/millis/50
    outputs: [lines]
  - id: near
    path: logger.py
    args: near
    deploy: {machine: robot}
    inputs:
      lines: {source: talker/lines, queue_size: 1000}
      logs: {source: dora/logs, queue_size: 1000}
  - id: far
    path: logger.py
    args: far
    deploy: {machine: gpu}
    inputs:
      lines: {source: talker/lines, queue_size: 1000}
      logs: {source: dora/logs, queue_size: 1000}
  # No data edge from the talker: its log records alone cross to it.
  - id: watcher
    path: logger.py
    args: watcher
    deploy: {machine: gpu}
    inputs:
      logs: {source: dora/logs/info, queue_size: 1000}
"""

TALKER = """
from dora import Node

node = Node()
n = 0
for event in node:
    if event["type"] == "INPUT":
        n += 1
        print(f"line {n}", flush=True)
        node.log_info(f"info {n}")
        if n == 20:
            break
"""

LOGGER = """
import sys
from dora import Node
from _rec import record

name = sys.argv[1]
node = Node()
got = {"lines": [], "logs": [], "dataflow_id": node.dataflow_id()}
for event in node:
    if event["type"] == "INPUT":
        if event["id"] == "lines":
            got["lines"].extend(event["value"].to_pylist())
        else:
            got["logs"].extend(event["value"].to_pylist())
        record(name, got)
"""


def _talker(logs: list[str]) -> list[tuple[str, str]]:
    records = [json.loads(x) for x in logs]
    return [(r["level"], r["message"]) for r in records if r["node_id"] == "talker"]


def test_lines_and_logs_reach_a_receiver_on_another_machine(
    cluster: Cluster, tmp_path: Path
) -> None:
    write(tmp_path, GRAPH, talker=TALKER, logger=LOGGER)
    cluster.up("robot", "gpu")
    cluster.cli("start", "graph.yml", "--name", "lines", "--detach", check=True)

    def heard(name: str, lines: int) -> bool:
        got = (tmp_path / f"{name}.pkl").exists() and result(tmp_path, name)
        return bool(got) and len(got["lines"]) >= lines and len(_talker(got["logs"])) >= 20

    try:
        wait_for(lambda: heard("near", 20), 30, "20 lines and 20 log records at near")
        wait_for(lambda: heard("far", 20) and heard("watcher", 0), 10, "the same on gpu")
        row = cluster.row("lines")
    finally:
        stop = cluster.cli("stop", "lines")
    assert row is not None and stop.returncode == 0, stop.stdout + stop.stderr
    near, far, watcher = (result(tmp_path, n) for n in ("near", "far", "watcher"))
    # What the talker printed (its log records are printed too, on stderr: another stream,
    # so their order against the lines is not kept)
    printed = [f"line {n}" for n in range(1, 21)]
    assert [x for x in near["lines"] if x.startswith("line ")] == printed, near
    assert [x for x in far["lines"] if x.startswith("line ")] == printed, far
    assert sorted(far["lines"]) == sorted(near["lines"])
    # The talker's log records (dora/logs: its INFO records, and a STDOUT record per line it
    # printed), the same on both machines; only its INFO ones at the watcher
    infos = [("INFO", f"info {n}") for n in range(1, 21)]
    assert [x for x in _talker(near["logs"]) if x[0] == "INFO"] == infos
    assert ("STDOUT", "line 1") in _talker(near["logs"])
    assert sorted(_talker(far["logs"])) == sorted(_talker(near["logs"]))
    assert _talker(watcher["logs"]) == infos
    # ...with the dataflow's id as `list` shows it (before: "<uuid>.robot", the socket scope
    # of the talker's machine)
    records = [json.loads(x) for x in far["logs"] + watcher["logs"]]
    assert {r["dataflow_id"] for r in records} == {row["uuid"]}
    assert near["dataflow_id"] == far["dataflow_id"] == row["uuid"]
    # Nothing counted as lost (two kinds of lines of one sender, numbered apart)
    final = cluster.row("lines")
    assert final is not None
    lost = {k: v for k, v in final["dropped"].items() if k.split("/")[0] != "talker" and v}
    assert lost == {}, final["dropped"]
