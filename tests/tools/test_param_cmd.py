"""`dora-ros param list|get|set|delete` on a background `dora-ros run`: the node receives
dora-rs 1.1's PARAM_UPDATE / PARAM_DELETED event dicts, and a restarted node the current set."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from live_run import LiveRun, live_run
from toolrun import dora_ros

# Writes every parameter event it gets (one JSON line each) next to the graph.
WATCHER = """
import json
from dora import Node

node = Node()
for event in node:
    if event["type"] in ("PARAM_UPDATE", "PARAM_DELETED"):
        with open("params.jsonl", "a") as out:
            out.write(json.dumps(event) + "\\n")
    elif event["type"] == "STOP":
        break
"""


def _cli(run: LiveRun, *args: str) -> Any:
    return dora_ros("param", *args, cwd=run.folder, env=run.env, timeout=60)


def _events(run: LiveRun, count: int) -> list[dict[str, Any]]:
    path = run.folder / "params.jsonl"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return [json.loads(line) for line in lines]
        time.sleep(0.1)
    raise AssertionError(f"the node got fewer than {count} parameter events: {lines}")


def _running(run: LiveRun, restarts: int = 0) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        out = dora_ros("node", "info", "listener", "--format", "json", cwd=run.folder, env=run.env)
        info = json.loads(out.stdout) if out.returncode == 0 else {}
        if info.get("status") == "running" and info.get("restarts") == restarts:
            return
        time.sleep(0.2)
    raise AssertionError("the listener is not running")


def test_param_set_get_list_delete_reach_the_node(tmp_path: Path) -> None:
    with live_run(tmp_path, listener=WATCHER) as run:
        _running(run)
        assert _cli(run, "list", "listener").stdout.strip() == (
            "No parameters set for node `listener`"
        )
        done = _cli(run, "set", "listener", "fps", "30")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "Set `fps` = 30 on node `listener`"
        roi = '{"x": 1, "size": [640, 480], "name": "cam"}'
        assert _cli(run, "set", "listener", "roi", roi, "-d", "live").returncode == 0
        assert _cli(run, "get", "listener", "fps").stdout.strip() == "30"
        assert json.loads(_cli(run, "get", "listener", "roi").stdout) == json.loads(roi)
        assert _cli(run, "list", "listener").stdout.splitlines() == [
            "Parameters for node `listener`:",
            "  fps = 30",
            '  roi = {"x":1,"size":[640,480],"name":"cam"}',
        ]
        listed = json.loads(_cli(run, "list", "listener", "--format", "json").stdout)
        assert listed == {"fps": 30, "roi": json.loads(roi)}
        deleted = _cli(run, "delete", "listener", "fps")
        assert deleted.stdout.strip() == "Deleted `fps` from node `listener`"
        assert _events(run, 3) == [
            {"type": "PARAM_UPDATE", "id": "fps", "kind": "dora", "value": 30},
            {"type": "PARAM_UPDATE", "id": "roi", "kind": "dora", "value": json.loads(roi)},
            {"type": "PARAM_DELETED", "id": "fps", "kind": "dora"},
        ]
        # A restarted node gets the parameters set so far, once.
        assert dora_ros("node", "restart", "listener", cwd=tmp_path, env=run.env).returncode == 0
        _running(run, restarts=1)
        events = _events(run, 4)
        assert events[3:] == [
            {"type": "PARAM_UPDATE", "id": "roi", "kind": "dora", "value": json.loads(roi)}
        ]
        time.sleep(1.5)
        assert len(_events(run, 4)) == 4


def test_param_errors_are_one_line(tmp_path: Path) -> None:
    with live_run(tmp_path, listener=WATCHER) as run:
        _running(run)
        for args, message in (
            (["set", "listener", "mode", "night"],
             "error: value 'night': invalid JSON value (Expecting value: line 1 column 1"
             " (char 0)); a string needs quotes: '\"text\"'"),
            (["get", "listener", "fps"], "error: node 'listener' has no parameter 'fps'"),
            (["delete", "listener", "fps"], "error: node 'listener' has no parameter 'fps'"),
            (["list", "ghost"],
             f"error: dataflow {run.id} has no node 'ghost' (nodes: listener, talker)"),
            (["set", "listner", "fps", "1"],
             f"error: dataflow {run.id} has no node 'listner' (did you mean 'listener'?)"
             " (nodes: listener, talker)"),
            (["set", "listener", "fps", "1", "-d", "nope"],
             "error: no running dataflow is called 'nope' (running: live)"),
        ):  # fmt: skip
            result = _cli(run, *args)
            assert result.returncode == 1, args
            assert result.stderr.strip() == message, args
        assert not (tmp_path / "params.jsonl").exists()
