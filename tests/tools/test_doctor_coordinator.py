"""`dora-ros doctor`'s coordinator check: a real coordinator and daemon answer over Zenoh, nothing
listening and a port that is not Zenoh fail in one line; the local runs are listed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from live_run import live_run
from toolrun import DORA_ROS, dora_ros


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path / "rt"))
    for name in ("DORA_COORDINATOR_ADDR", "DORA_COORDINATOR_PORT", "ZENOH_CONFIG"):
        env.pop(name, None)
    return env


@contextmanager
def _background(tmp_path: Path, name: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    log = open(tmp_path / f"{name}.log", "w")
    proc = subprocess.Popen([DORA_ROS, *args], cwd=tmp_path, env=_env(tmp_path), stdout=log,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip
    log.close()
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def _lines(result: subprocess.CompletedProcess[str], subject: str) -> list[str]:
    return [line for line in result.stdout.splitlines() if f"  {subject}" in line]


def test_coordinator_and_daemon_answer(tmp_path: Path) -> None:
    port = _free_port()
    with (
        _background(tmp_path, "coordinator", "coordinator", "--port", str(port)),
        _background(
            tmp_path, "daemon", "daemon", "--machine-id", "robot", "--coordinator-port", str(port)
        ),  # fmt: skip
    ):
        deadline = time.monotonic() + 30
        while True:
            result = dora_ros("doctor", "--coordinator-port", str(port), cwd=tmp_path,
                              env=_env(tmp_path))  # fmt: skip
            if _lines(result, "daemon robot"):
                break
            assert time.monotonic() < deadline, (
                result.stdout + (tmp_path / "daemon.log").read_text()
            )
            time.sleep(0.5)
        assert result.returncode == 0, result.stdout
        (line,) = _lines(result, "coordinator")
        assert line.startswith(f"ok    coordinator: tcp/127.0.0.1:{port} answers over Zenoh in ")
        assert "(dora-ros " in line and "0 running dataflows)" in line
        assert _lines(result, "daemon robot") == ["ok    daemon robot: connected"]


def test_no_coordinator_is_ok_by_default_and_a_failure_when_asked_for(tmp_path: Path) -> None:
    port = _free_port()
    asked = dora_ros("doctor", "--problems-only", "--coordinator-port", str(port), cwd=tmp_path,
                     env=_env(tmp_path))  # fmt: skip
    assert asked.returncode == 1
    assert asked.stdout.splitlines() == [
        f"FAIL  coordinator: nothing listens at tcp/127.0.0.1:{port} (start one there with"
        " `dora-ros coordinator`, or `dora-ros up` on this machine)",
        "1 problem, 0 warnings",
    ]
    # Something listens that is not Zenoh: found within the CLI's connect timeout.
    with socket.socket() as impostor:
        impostor.bind(("127.0.0.1", 0))
        impostor.listen(4)
        other = impostor.getsockname()[1]
        started = time.monotonic()
        wrong = dora_ros("doctor", "--problems-only", cwd=tmp_path,
                         env={**_env(tmp_path), "DORA_COORDINATOR_PORT": str(other)})  # fmt: skip
        assert time.monotonic() - started < 15
    assert wrong.returncode == 1
    (line,) = _lines(wrong, "coordinator")
    assert line.startswith(f"FAIL  coordinator: tcp/127.0.0.1:{other} accepts connections but does"
                           " not answer over Zenoh: ")  # fmt: skip


def test_local_runs_are_listed(tmp_path: Path) -> None:
    with live_run(tmp_path, name="seen") as run:
        result = dora_ros("doctor", "--coordinator-port", str(_free_port()), cwd=tmp_path,
                          env=run.env)  # fmt: skip
    assert _lines(result, "local runs") == ["ok    local runs: 1 running (seen)"]
