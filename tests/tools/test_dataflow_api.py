"""The dataflow API of `dora-ros run` (cluster/dataflow_api.py) and its resolution
(tools/dataflows.py), with a real background run; the `start` case is in
tests/cluster/test_dataflow_api_start.py."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest
from live_run import live_run

from dora_ros.cluster.zenoh_config import ClusterError
from dora_ros.tools.dataflows import DataflowClient, query, resolve


def free_port_hint() -> int:
    """A loopback port nothing listens on (so no coordinator answers there)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_run_serves_describe_by_name_and_uuid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with live_run(tmp_path, name="apitest") as run:
        monkeypatch.setenv("XDG_RUNTIME_DIR", run.env["XDG_RUNTIME_DIR"])
        port = free_port_hint()  # no coordinator there: the local registry alone answers
        by_name = query("apitest", "describe", {}, port=port)
        by_uuid = query(run.id, "describe", {}, port=port)
        only = query(None, "describe", {}, port=port)  # the only dataflow running
        assert by_name == by_uuid == only
        assert by_name["id"] == run.id and by_name["name"] == "apitest"
        assert by_name["pid"] == run.proc.pid == run.entry["pid"]
        assert by_name["nodes"] == ["talker", "listener"]
        assert by_name["graph"] == str(tmp_path / "graph.yml")
        assert {"ping", "describe"} <= set(by_name["verbs"])
        # the endpoint is a Unix socket in the private runtime dir (mode 0700), nothing else
        socket_path = Path(run.entry["endpoint"].removeprefix("unixsock-stream/"))
        assert socket_path.parent == run.runtime / "dora-ros"
        assert os.stat(socket_path.parent).st_mode & 0o777 == 0o700
        with DataflowClient.open("apitest", port=port) as client:
            assert client.query_all("ping", {}) == {
                run.entry["machine"]: {"pong": True, "id": run.id, "machine": run.entry["machine"]}
            }
            with pytest.raises(ClusterError, match="dataflow API has no verb 'nope'"):
                client.query("nope", {})
        with pytest.raises(
            ClusterError, match=r"no running dataflow is called 'other' \(running: apitest\)"
        ):
            resolve("other", port=port)


def test_dead_run_files_are_ignored_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = tmp_path / "rt"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    runs = runtime / "dora-ros" / "runs"
    runs.mkdir(parents=True)
    dead = runs / "0b5d4c6e-0000-4000-8000-000000000000.json"
    pid = os.getpid()
    while True:  # a pid that is not running
        pid += 1000
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        except PermissionError:
            continue
    sock = runtime / "dora-ros" / f"{dead.stem}.sock"
    dead.write_text(json.dumps({"id": dead.stem, "name": "ghost", "pid": pid, "machine": "m",
                                "endpoint": f"unixsock-stream/{sock}"}))  # fmt: skip
    sock.write_text("")
    with pytest.raises(ClusterError, match="no dataflow is running"):
        resolve(None, port=free_port_hint())
    assert not dead.exists()
    assert not (runtime / "dora-ros" / f"{dead.stem}.sock").exists()


QUICK = """
nodes:
  - id: a
    path: quick.py
  - id: b
    path: quick.py
"""


def test_short_runs_exit_cleanly(tmp_path: Path) -> None:
    """A run that ends while its API is starting or serving exits 0: a Python callback on
    Zenoh's threads aborted 5 of 24 such runs at interpreter exit ("FATAL: exception not
    rethrown", status -6) before the API read queries from a channel."""
    import concurrent.futures
    import subprocess

    from toolrun import DORA_ROS

    (tmp_path / "graph.yml").write_text(QUICK)
    (tmp_path / "quick.py").write_text("from dora import Node\n\nNode()\n")
    # Short: the socket path must fit in 108 bytes (pytest's tmp_path may not).
    runtime = Path(tempfile.mkdtemp(prefix="drt-", dir="/tmp"))
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime))

    def run(_: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run([DORA_ROS, "run", "graph.yml"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(run, range(24)))
        left = list((runtime / "dora-ros").glob("*.sock*"))
    finally:
        shutil.rmtree(runtime)
    bad = [(r.returncode, r.stderr[-200:]) for r in results if r.returncode != 0]
    assert not bad, bad
    assert not any("not available" in r.stderr for r in results)  # the API did start
    assert not left


def test_a_long_runtime_dir_keeps_the_socket_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over 107 bytes a Unix socket cannot bind: the socket goes to /tmp/dora-ros-<uid>."""
    import signal
    import subprocess
    import time

    from live_run import write_graph
    from toolrun import DORA_ROS

    runtime = tmp_path / ("r" * 80)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    graph = write_graph(tmp_path)
    proc = subprocess.Popen([DORA_ROS, "run", str(graph), "--name", "longdir"], cwd=tmp_path,
                            env=dict(os.environ), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip
    try:
        runs = runtime / "dora-ros" / "runs"
        deadline = time.monotonic() + 30
        while not (runs.is_dir() and list(runs.glob("*.json"))):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        answer = query("longdir", "describe", {}, port=free_port_hint())
        endpoint = json.loads(next(runs.glob("*.json")).read_text())["endpoint"]
        assert endpoint == f"unixsock-stream//tmp/dora-ros-{os.getuid()}/{answer['id']}.sock"
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=20)[0]
    assert proc.returncode == 0, output
    assert "not available" not in output
    assert not Path(endpoint.removeprefix("unixsock-stream/")).exists()
    assert not list(runs.glob("*.json"))
