"""Test helpers: rclpy peers in their own processes, DDS isolation, polling with timeouts.

Isolation: every test module uses its own ROS_DOMAIN_ID (the bridge tests own 1-99), discovery is
limited to localhost (but for test_fastdds_transports.py, whose topics also carry the pid), and
every topic/service/action name is prefixed with the pytest-xdist worker id, so the same module
running on two workers at once never sees the other's traffic.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PEERS = Path(__file__).parent / "peers"
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw")
REPO = Path(__file__).resolve().parents[2]

# Discovery over localhost only, for this process (in-process Ros2Context) and for peers.
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"


def name(base: str) -> str:
    """A ROS name private to this xdist worker: `/chatter` -> `/gw0/chatter`."""
    return f"/{WORKER}{base}"


def ros_env(domain: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ROS_DOMAIN_ID=str(domain),
        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
        PYTHONUNBUFFERED="1",
    )
    env.pop("DORA_ROS_BRIDGE_BACKEND", None)
    return env


class Peer:
    """A peer script under `peers/` running as a subprocess; its JSON lines are collected."""

    def __init__(
        self,
        script: str,
        config: dict[str, Any],
        domain: int,
        environ: dict[str, str] | None = None,
        python: Path | str = sys.executable,
        folder: Path = PEERS,
    ) -> None:
        """`script` in `folder` run by `python`; `environ` replaces `ros_env(domain)`."""
        self.script = script
        self.config = config
        self.domain = domain
        self.lines: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self._cond = threading.Condition()
        env = ros_env(domain) if environ is None else dict(environ)
        if str(python) != sys.executable:
            # The ROS wheels re-exec Python at start-up with their own library path and a marker;
            # another venv's Python must bootstrap its own.
            for var in ("LD_LIBRARY_PATH", "_ROS_WHEELS_BOOTSTRAP_COMPLETE", "AMENT_PREFIX_PATH"):
                env.pop(var, None)
        self.proc = subprocess.Popen(
            [str(python), str(folder / script), json.dumps(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=PEERS,  # the peers import their `_peer` helpers from there
            start_new_session=True,
        )
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "text", "text": line.rstrip()}
            with self._cond:
                self.lines.append(event)
                self._cond.notify_all()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip())

    def wait(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float = 15.0, start: int = 0
    ) -> dict[str, Any]:
        """The first line (from index `start`) matching `pred`, waiting up to `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.lines[start:]:
                    if pred(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (
                    self.proc.poll() is not None and not self._pending(pred, start)
                ):
                    raise AssertionError(
                        f"{self.script}: no matching line within {timeout} s; got {self.lines[-10:]}; "
                        f"stderr: {self.stderr[-10:]}"
                    )
                self._cond.wait(min(remaining, 0.2))

    def _pending(self, pred: Callable[[dict[str, Any]], bool], start: int) -> bool:
        return any(pred(e) for e in self.lines[start:])

    def ready(self, timeout: float = 20.0) -> Peer:
        self.wait(lambda e: e.get("event") == "ready", timeout)
        return self

    def events(self, pred: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        with self._cond:
            return [e for e in self.lines if pred(e)]

    def mark(self) -> int:
        with self._cond:
            return len(self.lines)

    def stop(self) -> None:
        """SIGINT (rclpy shuts down cleanly, so DDS peers see it leave), then SIGTERM, SIGKILL."""
        for sig, wait in ((signal.SIGINT, 5), (signal.SIGTERM, 3), (signal.SIGKILL, 3)):
            if self.proc.poll() is not None:
                return
            self.proc.send_signal(sig)
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                continue


@contextmanager
def peer(script: str, config: dict[str, Any], domain: int) -> Iterator[Peer]:
    running = Peer(script, config, domain)
    try:
        yield running.ready()
    finally:
        running.stop()


def send_until_back(
    pub: Any, out: Any, value: Any, timeout: float = 40.0, interval: float = 3.0
) -> Any:
    """Publish `value` every `interval` s until an echo comes back on `out` (returned).

    Our side matching the peer says nothing about the peer's side matching us yet (discovery runs
    per direction), so a peer that echoes at once may echo a first sample into the void.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pub.publish(value)
        back = out.next(min(interval, max(0.1, deadline - time.monotonic())))
        if back is not None:
            return back
    raise AssertionError(f"nothing came back within {timeout} s")


def interrupt(proc: subprocess.Popen[Any], grace: float) -> None:
    """SIGINT (a clean exit: DDS peers see it leave, Fast DDS removes its segment), SIGKILL after
    `grace` s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def poll(fn: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Call `fn` until it returns something truthy (returned) or `timeout` s pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def backends() -> list[Any]:
    """`rclpy`, and `cyclonedds` once its backend exists (skipped with the reason until then)."""
    import pytest

    cyclone = REPO / "dora_ros" / "bridge" / "cyclone_backend.py"
    return [
        "rclpy",
        pytest.param(
            "cyclonedds",
            marks=pytest.mark.skipif(
                not cyclone.exists(), reason="dora_ros/bridge/cyclone_backend.py is not written yet"
            ),
        ),
    ]


def run_graph(
    folder: Path,
    graph: str,
    nodes: dict[str, str],
    domain: int,
    until: Callable[[str], Any],
    timeout: float = 45.0,
) -> str:
    """Run `graph` with `dora-ros run` until `until(logs)` holds (or `timeout` s), then stop it
    with SIGINT; the text of every node's log, each line as `node: text`.

    Waiting for a condition rather than a fixed time keeps the tests fast on an idle machine and
    correct on a loaded one (node start-up and DDS discovery can take seconds under `-n 4`).
    """
    (folder / "graph.yml").write_text(textwrap.dedent(graph))
    for file, source in nodes.items():
        (folder / file).write_text(textwrap.dedent(source))
    output = folder / "run.out"
    with output.open("w") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dora_ros.cli",
                "run",
                "graph.yml",
                "--stop-after",
                f"{timeout + 10}s",
            ],
            cwd=folder,
            env=ros_env(domain),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                if until(_logs(folder)):
                    break
                time.sleep(0.2)
        finally:
            interrupt(proc, 20)
    logs = _logs(folder)
    assert proc.returncode == 0, f"{output.read_text()}\n{logs}"
    return logs


def _logs(folder: Path) -> str:
    return "\n".join(
        f"{p.stem.removeprefix('log_')}: {line}"
        for p in sorted(folder.glob("out/*/log_*.txt"))
        if not p.parent.is_symlink()  # out/latest and out/<name> link to the run's folder
        for line in p.read_text(errors="replace").splitlines()
    )
