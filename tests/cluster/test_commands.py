"""Control-plane commands and their errors, with real processes on loopback."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from cluster_env import DORA_ROS, Cluster, free_port, wait_for, write
from graphs import RECEIVER, SENDER

UNKNOWN_MACHINE_GRAPH = """
nodes:
  - id: sender
    path: sender.py
    deploy: {machine: robot}
    inputs:
      tick: dora/timer/millis/20
    outputs: [data]
  - id: receiver
    path: receiver.py
    deploy: {machine: nowhere}
    inputs:
      data: sender/data
"""


def test_no_coordinator_is_one_line_within_seconds(tmp_path: Path) -> None:
    port = free_port()
    write(tmp_path, _ENDLESS, ticker=_TICKER)
    every = (["list"], ["status"], ["stop", "x"], ["logs", "x"], ["down"],
             ["start", "graph.yml", "--detach"], ["restart", "x"])  # fmt: skip
    for args in every:
        start = time.monotonic()
        run = subprocess.run(
            [*DORA_ROS, *args, "--coordinator-port", str(port)], capture_output=True, text=True,
            timeout=30, cwd=tmp_path,
        )  # fmt: skip
        elapsed = time.monotonic() - start
        assert run.returncode == 1, args
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1, run.stderr
        assert lines[0].startswith(f"error: no coordinator answers at tcp/127.0.0.1:{port}")
        assert elapsed < 4, (args, elapsed)


def test_status_lists_daemons(cluster: Cluster) -> None:
    cluster.up("robot", "gpu")
    out = cluster.cli("status", check=True).stdout
    assert f"coordinator: tcp/127.0.0.1:{cluster.port} (dora-ros " in out
    assert "daemon gpu: connected" in out and "daemon robot: connected" in out


def test_duplicate_machine_id_is_refused(cluster: Cluster) -> None:
    cluster.up("robot")
    run = subprocess.run(
        [*DORA_ROS, "daemon", "--machine-id", "robot"], capture_output=True, text=True,
        timeout=30, env=cluster.env(), cwd=cluster.folder,
    )  # fmt: skip
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == (
        "error: daemon: machine id 'robot' is taken by another running daemon; give this one"
        " another --machine-id"
    )


def test_unknown_machine_is_refused_before_anything_starts(
    cluster: Cluster, tmp_path: Path
) -> None:
    write(tmp_path, UNKNOWN_MACHINE_GRAPH, sender=SENDER, receiver=RECEIVER)
    cluster.up("robot")
    run = cluster.cli("start", "graph.yml", "--detach")
    assert run.returncode == 1
    assert run.stderr.strip() == (
        f"error: {tmp_path / 'graph.yml'}:9: node 'receiver': deploy machine 'nowhere' has no"
        " daemon connected (connected: robot); start `dora-ros daemon --machine-id nowhere` there"
    )
    assert cluster.rows() == []


def test_daemon_refuses_a_part_for_another_machine(cluster: Cluster, tmp_path: Path) -> None:
    """A spawn request naming another machine id (a misrouted or forged request) is refused."""
    import json

    import zenoh

    cluster.up("robot")
    conf = zenoh.Config()
    conf.insert_json5("mode", '"client"')
    conf.insert_json5("connect/endpoints", json.dumps([f"tcp/127.0.0.1:{cluster.port}"]))
    conf.insert_json5("scouting/multicast/enabled", "false")
    with zenoh.open(conf) as session:
        request = {"id": "x", "machine": "gpu", "graph_text": "", "graph_path": "g.yml",
                   "placement": {}}  # fmt: skip
        replies = list(session.get("dora-ros/daemon/robot/api/spawn",
                                   payload=json.dumps(request), timeout=5))  # fmt: skip
    answer = json.loads(replies[0].ok.payload.to_bytes())
    assert answer == {"error": "daemon 'robot' was sent the part of dataflow x for machine"
                      " 'gpu', which it is not"}  # fmt: skip


def test_up_and_down(tmp_path: Path) -> None:
    env_cluster = Cluster(tmp_path)
    env = env_cluster.env()
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    port = ["--coordinator-port", str(env_cluster.port)]
    try:
        up = subprocess.run([*DORA_ROS, "up", "--machine-id", "local", *port],
                            capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)  # fmt: skip
        assert up.returncode == 0, up.stderr
        assert "daemon local started" in up.stdout
        state = tmp_path / "state" / "dora-ros"  # one log per coordinator port, not one shared
        logs = sorted(p.name for p in state.glob("*.log"))
        assert logs == [f"coordinator-{env_cluster.port}.log", f"daemon-{env_cluster.port}.log"]
        write(tmp_path, _ENDLESS, ticker=_TICKER)
        start = subprocess.run([*DORA_ROS, "start", "graph.yml", "--name", "bg", "--detach",
                                *port], capture_output=True, text=True, timeout=60, env=env,
                               cwd=tmp_path)  # fmt: skip
        assert start.returncode == 0, start.stderr
        refused = subprocess.run([*DORA_ROS, "down", *port], capture_output=True, text=True,
                                 timeout=30, env=env, cwd=tmp_path)  # fmt: skip
        assert refused.returncode == 1
        assert "down: dataflows are running: " in refused.stderr and "(bg)" in refused.stderr
        assert "dora-ros down --force" in refused.stderr
        down = subprocess.run([*DORA_ROS, "down", "--force", *port], capture_output=True,
                              text=True, timeout=60, env=env, cwd=tmp_path)  # fmt: skip
        assert down.returncode == 0, down.stderr
        assert "coordinator and daemons stopped" in down.stdout
        from cluster_env import leftovers

        assert leftovers(tmp_path) == {}  # "stopped" only once they exited
        status = subprocess.run([*DORA_ROS, "status", *port], capture_output=True, text=True,
                                timeout=30, env=env, cwd=tmp_path)  # fmt: skip
        assert status.returncode == 1
    finally:
        from cluster_env import wait_no_leftovers

        left = wait_no_leftovers(tmp_path)
        assert not left, left


_ENDLESS = """
nodes:
  - id: ticker
    path: ticker.py
    inputs:
      tick: dora/timer/millis/100
"""

_TICKER = """
from dora import Node

for event in Node():
    pass
"""


def test_stop_all_with_grace(cluster: Cluster, tmp_path: Path) -> None:
    write(tmp_path, _ENDLESS, ticker=_TICKER)
    cluster.up("robot")
    for name in ("a", "b"):
        cluster.cli("start", "graph.yml", "--name", name, "--detach", check=True)
    wait_for(lambda: len(cluster.rows()) == 2, 10, "two dataflows")
    run = cluster.cli("stop", "--all", "--grace-duration", "4s", check=True)
    assert run.stdout.count("finished") == 2
    assert {r["status"] for r in cluster.rows()} == {"finished"}
    again = cluster.cli("stop", "a")
    assert again.returncode == 1
    assert again.stderr.strip() == "error: no running dataflow is called 'a' (see `dora-ros list`)"


def test_node_list_and_restart(cluster: Cluster, tmp_path: Path) -> None:
    import json

    from graphs import SCRIPTS, SPLIT_GRAPH

    write(tmp_path, SPLIT_GRAPH, **SCRIPTS)
    cluster.up("robot", "gpu")
    cluster.cli("start", "graph.yml", "--name", "two", "--detach", check=True)

    # One `node list` for `run` and `start` (tools/node_cmd.py), answered by each machine's run;
    # -d: other tests' local runs may be running too.
    def table() -> list[list[str]]:
        lines = cluster.cli("node", "list", "-d", "two", check=True).stdout.splitlines()
        assert lines[0].split() == ["NODE", "STATUS", "PID", "CPU", "MEMORY", "RESTARTS",
                                    "MACHINE"]  # fmt: skip
        return sorted([c[0], c[1], c[-1]] for c in (line.split() for line in lines[1:]))

    wait_for(lambda: all(row[1] == "running" for row in table()), 20, "nodes running")
    assert table() == [
        ["recorder", "running", "gpu"],
        ["relay", "running", "robot"],
        ["sink", "running", "gpu"],
        ["source", "running", "robot"],
    ]
    rows = cluster.cli("node", "list", "-d", "two", "--format", "json", check=True).stdout
    assert {json.loads(line)["node"] for line in rows.splitlines()} == set(SCRIPTS)
    assert "dataflow" not in json.loads(rows.splitlines()[0])
    first = cluster.row("two")
    assert first is not None

    # The graph file changes on disk: restart uses the descriptor the dataflow started with.
    (tmp_path / "graph.yml").write_text("nodes: [broken")
    restarted = cluster.cli("restart", "two", "--grace-duration", "3s", check=True)
    assert f"dataflow {first['uuid']} finished" in restarted.stdout
    assert "started (two) on gpu, robot" in restarted.stdout
    rows_after = [r for r in cluster.rows() if r["name"] == "two"]
    assert [r["status"] for r in rows_after] == ["finished", "running"]
    # Stopped right after its start: a sender may hold messages for up to MATCH_TIMEOUT (1 s)
    # before it exits; a loaded test machine needs more than the default 2 s grace.
    cluster.cli("stop", "two", "--grace-duration", "5s", check=True)


def test_node_list_names_a_missing_coordinator_only_when_asked(tmp_path: Path) -> None:
    """`node list` with no local run: a coordinator the user named (option or environment) that
    does not answer is one error line and status 1, as dora-rs 1.1 (whose `node list` always
    asks its coordinator); with none named, "no dataflow is running" and status 0 (before: status
    0 and "no node is running" either way)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DORA_COORDINATOR_")}
    env["XDG_RUNTIME_DIR"] = str(tmp_path / "rt")  # no `dora-ros run` registered there
    (tmp_path / "rt").mkdir(mode=0o700)

    def node_list(*args: str, **extra: str) -> tuple[subprocess.CompletedProcess[str], float]:
        start = time.monotonic()
        run = subprocess.run([*DORA_ROS, "node", "list", *args], capture_output=True, text=True,
                             timeout=30, cwd=tmp_path, env={**env, **extra})  # fmt: skip
        return run, time.monotonic() - start

    for args, extra in (
        (("--coordinator-port", str(port)), {}),
        (("--coordinator-addr", "127.0.0.1", "--coordinator-port", str(port)), {}),
        ((), {"DORA_COORDINATOR_PORT": str(port)}),
    ):
        run, elapsed = node_list(*args, **extra)
        assert run.returncode == 1, (args, extra, run.stdout)
        assert run.stdout == ""
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1, run.stderr
        assert lines[0].startswith(f"error: no coordinator answers at tcp/127.0.0.1:{port} ")
        assert elapsed < 4, (args, extra, elapsed)
    # None named: the default coordinator (127.0.0.1:6013) is only looked for.
    quiet, _ = node_list()
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "no dataflow is running\n", "")


def test_node_list_with_a_coordinator_and_no_dataflow(cluster: Cluster,
                                                     tmp_path: Path) -> None:  # fmt: skip
    cluster.up("robot")
    env = cluster.env()
    env["XDG_RUNTIME_DIR"] = str(tmp_path / "rt")
    (tmp_path / "rt").mkdir(mode=0o700)
    run = subprocess.run([*DORA_ROS, "node", "list"], capture_output=True, text=True,
                         timeout=30, cwd=cluster.folder, env=env)  # fmt: skip
    assert (run.returncode, run.stdout, run.stderr) == (0, "no dataflow is running\n", "")


def test_coordinator_reads_port_and_interface_from_env(cluster: Cluster) -> None:
    # As dora-rs 1.1's `coordinator`: DORA_COORDINATOR_PORT / _INTERFACE stand for --port /
    # --interface (before, the coordinator listened on 6013 and the daemon waited forever).
    cluster.spawn("coordinator", ["coordinator"],
                  extra_env={"DORA_COORDINATOR_INTERFACE": "127.0.0.1"})  # fmt: skip
    cluster.start_daemon("gpu")
    cluster.wait_daemons("gpu", timeout=20)
    out = cluster.cli("status", check=True).stdout
    assert f"coordinator: tcp/127.0.0.1:{cluster.port} (dora-ros " in out
    help_text = cluster.cli("coordinator", "--help", check=True).stdout
    assert "DORA_COORDINATOR_PORT" in help_text and "DORA_COORDINATOR_INTERFACE" in help_text


def test_status_shows_daemon_versions_and_empty_list_ends_with_newline(cluster: Cluster) -> None:
    cluster.up("robot")

    def with_version() -> str | None:
        out = cluster.cli("status", check=True).stdout
        return out if "daemon robot: connected (dora-ros " in out else None

    out = wait_for(with_version, 10, "the daemon's version in status")
    assert ", host " in out.split("daemon robot: connected", 1)[1].splitlines()[0], out
    for args in (["list", "--status", "running"], ["list"]):
        run = cluster.cli(*args, check=True)
        assert run.stdout.startswith("UUID") and run.stdout.endswith("\n"), repr(run.stdout)


def test_every_cluster_command_help_has_an_example() -> None:
    for command in ("coordinator", "daemon", "up", "down", "start", "stop", "restart", "list",
                    "logs", "status"):  # fmt: skip
        run = subprocess.run([*DORA_ROS, command, "--help"], capture_output=True, text=True,
                             timeout=30)  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert "Example" in run.stdout and f"    dora-ros {command} " in run.stdout, run.stdout
