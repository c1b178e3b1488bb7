"""`dora-ros node list|info|restart|stop` on a background `dora-ros run` (the console script
against a real run; the `start` case is in tests/cluster/test_commands.py)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from live_run import LiveRun, live_run
from toolrun import dora_ros


def _cli(run: LiveRun, *args: str) -> Any:
    return dora_ros(*args, cwd=run.folder, env=run.env, timeout=60)


def _info(run: LiveRun, node: str) -> dict[str, Any]:
    result = _cli(run, "node", "info", node, "-d", "live", "--format", "json")
    assert result.returncode == 0, result.stderr
    info: dict[str, Any] = json.loads(result.stdout)
    return info


def _wait(what: str, predicate: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_node_list_and_info(tmp_path: Path) -> None:
    with live_run(tmp_path) as run:
        _wait("both nodes running", lambda: _info(run, "talker")["status"] == "running"
              and _info(run, "listener")["status"] == "running")  # fmt: skip
        listed = _cli(run, "node", "list")
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert lines[0].split() == [
            "NODE", "STATUS", "PID", "CPU", "MEMORY", "RESTARTS", "MACHINE", "DATAFLOW",
        ]  # fmt: skip
        assert [line.split()[:2] for line in lines[1:]] == [
            ["talker", "running"], ["listener", "running"]
        ]  # fmt: skip
        rows = [json.loads(x) for x in _cli(run, "node", "list", "-d", "live", "-f", "json")
                .stdout.splitlines()]  # fmt: skip
        assert [r["node"] for r in rows] == ["talker", "listener"]
        assert all("dataflow" not in r and r["pid"].isdigit() for r in rows)
        assert _cli(run, "node", "list", "-q").stdout.split() == ["talker", "listener"]

        # Counts come from the nodes' periodic `stats`, CPU and memory from /proc.
        info = _wait("rates", lambda: (i := _info(run, "listener"))["in_per_s"] and i)
        assert info["node_id"] == "listener" and info["uuid"] == run.id
        assert info["status"] == "running" and info["restarts"] == 0
        (inp,) = info["inputs"]
        assert (inp["id"], inp["source"], inp["queue_size"]) == ("count", "talker/count", 4)
        # queue_size 4 behind a 20 ms timer: a listener descheduled for 80 ms on a loaded CI
        # machine drops a message or two (seen once in CI), so drops are only counted here;
        # test_top.py checks that a drop shows.
        assert inp["received"] > 0 and isinstance(inp["dropped"], int) and inp["dropped"] >= 0
        assert 10 < info["in_per_s"] < 80  # a 20 ms timer drives the talker
        assert info["memory"] > 1 << 20 and info["cpu"] is not None
        talker = _info(run, "talker")
        assert talker["outputs"] == [
            {"id": "count", "subscribers": ["listener/count"], "sent": talker["outputs"][0]["sent"]}
        ]
        assert talker["outputs"][0]["sent"] > 0
        text = _cli(run, "node", "info", "talker").stdout
        assert "count -> listener/count" in text and "Messages out/s:" in text
        assert "tick  <- dora/timer/millis/20" in text


def test_node_restart_and_stop(tmp_path: Path) -> None:
    with live_run(tmp_path) as run:
        before = _wait("the listener", lambda: (i := _info(run, "listener"))["status"] == "running"
                       and i)  # fmt: skip
        restarted = _cli(run, "node", "restart", "listener", "--grace", "2s")
        assert restarted.returncode == 0, restarted.stderr
        assert restarted.stdout.strip() == "Node `listener` restart initiated"
        after = _wait("the restart", lambda: (i := _info(run, "listener"))["restarts"] == 1
                      and i["status"] == "running" and i)  # fmt: skip
        assert after["pid"] != before["pid"]
        assert "node 'listener' exited with exit status 0; restarting it (restart 1)" in (
            run.output()
        )
        stopped = _cli(run, "node", "stop", "talker")
        assert stopped.returncode == 0 and stopped.stdout.strip() == "Node `talker` stopped"
        # Never restarted; its receiver's only input closes, so the whole dataflow ends well.
        assert run.proc.wait(timeout=20) == 0, run.output()


FLAKY_GRAPH = """
nodes:
  - id: flaky
    path: flaky.py
    restart_policy: on-failure
    restart_delay: 60
    inputs: {tick: dora/timer/millis/100}
"""


def test_node_stop_during_a_restart_delay_ends_the_node_at_once(tmp_path: Path) -> None:
    """`node stop` of a node waiting out its restart_delay: it ends there, never restarted, and
    the dataflow ends with it (before: "node 'flaky' is not running (restarting)")."""
    flaky = "import sys\nfrom dora import Node\nNode()\nsys.exit(3)\n"
    with live_run(tmp_path, graph=FLAKY_GRAPH, flaky=flaky) as run:
        _wait("the restart delay", lambda: _info(run, "flaky")["status"] == "restarting", 30)
        stopped = _cli(run, "node", "stop", "flaky")
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout.strip() == "Node `flaky` stopped"
        assert run.proc.wait(timeout=20) == 0, run.output()
    assert run.output().count("restarting it") == 1, run.output()


def test_node_errors_are_one_line(tmp_path: Path) -> None:
    with live_run(tmp_path) as run:
        for args, message in (
            (["node", "info", "ghost"],
             f"error: dataflow {run.id} has no node 'ghost' (nodes: listener, talker)"),
            (["node", "stop", "talkr"],
             f"error: dataflow {run.id} has no node 'talkr' (did you mean 'talker'?)"
             " (nodes: listener, talker)"),
            (["node", "restart", "talker", "-d", "nope"],
             "error: no running dataflow is called 'nope' (running: live)"),
            (["node", "stop", "talker", "--grace", "soon"],
             "error: --grace: invalid duration 'soon' (use e.g. 10s, 500ms, 2m or 1.5)"),
        ):  # fmt: skip
            result = _cli(run, *args)
            assert result.returncode == 1, (args, result.stdout)
            assert result.stderr.strip() == message, args
        # -d takes a unique prefix of the UUID (before: "no running dataflow is called ...")
        found = _cli(run, "node", "info", "talker", "-d", run.id[:8], "--format", "json")
        assert found.returncode == 0, found.stderr
        assert json.loads(found.stdout)["uuid"] == run.id
    gone = dora_ros("node", "list", "-d", "live", cwd=tmp_path, env=run.env)
    assert gone.returncode == 1
    assert gone.stderr.strip() == "error: no running dataflow is called 'live' (none is running)"


def test_help_has_an_example(tmp_path: Path) -> None:
    for command in (
        ("node", "list"), ("node", "info"), ("node", "restart"), ("node", "stop"), ("top",),
        ("inspect", "top"), ("param", "list"), ("param", "get"), ("param", "set"),
        ("param", "delete"),
    ):  # fmt: skip
        result = dora_ros(*command, "--help", cwd=tmp_path)
        assert result.returncode == 0, (command, result.stderr)
        assert "Example" in result.stdout, command
        assert "dora-ros " + " ".join(command) in result.stdout, command
        assert "--dataflow" in result.stdout and "--coordinator-port" in result.stdout, command
    top = dora_ros("--help", cwd=tmp_path).stdout
    for name in ("node", "top", "inspect", "param"):
        assert f"\n  {name} " in top


def test_a_dataflow_that_does_not_answer_is_left_out_of_the_whole_list(tmp_path: Path) -> None:
    """Without -d, `node list` and `top` show the dataflows that answer (one may end between
    the listing and the query); with -d naming the silent one, its error is the answer."""
    with live_run(tmp_path) as run:
        runs = run.runtime / "dora-ros" / "runs"
        ghost = runs / "0b5d4c6e-0000-4000-8000-000000000001.json"
        # A live pid (this test's) whose endpoint nobody serves: as a run that just ended.
        ghost.write_text(json.dumps({
            "id": ghost.stem, "name": "ghost", "pid": os.getpid(), "machine": "m",
            "endpoint": f"unixsock-stream/{run.runtime}/dora-ros/{ghost.stem}.sock",
        }))  # fmt: skip
        try:
            listed = _cli(run, "node", "list", "-q")
            assert listed.returncode == 0, listed.stderr
            assert listed.stdout.split() == ["talker", "listener"]
            top = _cli(run, "top", "--once")
            assert {r["node"] for r in json.loads(top.stdout)} == {"talker", "listener"}
            asked = _cli(run, "node", "list", "-d", "ghost")
            assert asked.returncode == 1
            assert asked.stderr.startswith("error: dataflow ghost (0b5d4c6e-0000-4000-8000-"
                                           "000000000001): cannot reach its supervisor: ")  # fmt: skip
            assert len(asked.stderr.strip().splitlines()) == 1
        finally:
            ghost.unlink()


DYNAMIC_GRAPH = """
nodes:
  - id: talker
    path: talker.py
    inputs:
      tick: dora/timer/millis/20
    outputs: [count]
  - id: dyn
    path: dynamic
    inputs:
      count: talker/count
"""

DYNAMIC = """
from dora_ros import Node  # started by hand: `dora` would be dora-rs here

node = Node("dyn")
print("joined", flush=True)
for event in node:
    if event["type"] == "STOP":
        print("stopped", flush=True)
        break
"""


def test_a_dynamic_node_can_be_stopped_not_restarted(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "dyn.py").write_text(DYNAMIC)
    with live_run(tmp_path, graph=DYNAMIC_GRAPH) as run:
        _wait("dyn waiting", lambda: _info(run, "dyn")["status"] == "waiting")
        proc = subprocess.Popen([sys.executable, "dyn.py"], cwd=tmp_path, env=run.env,
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
        try:
            _wait("dyn running", lambda: _info(run, "dyn")["status"] == "running")
            again = _cli(run, "node", "restart", "dyn")
            assert again.returncode == 1
            assert again.stderr.strip() == (
                "error: node 'dyn' is a dynamic node (started by hand): `node stop` only"
            )
            stopped = _cli(run, "node", "stop", "dyn")
            assert stopped.returncode == 0, stopped.stderr
            assert proc.wait(timeout=20) == 0
            assert proc.stdout is not None and proc.stdout.read().split() == ["joined", "stopped"]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
