"""A coordinator and daemons as real processes for the cluster tests, and their node scripts.

``Cluster`` starts ``dora-ros coordinator`` and one ``dora-ros daemon`` per machine id, each in
its own session (process group), optionally inside a network namespace (``ip netns exec``), and
runs CLI commands against it. ``close()`` ends every process it started and checks that nothing
started for the test (machine runs, nodes) is left: whatever is left is killed and reported.
(A plain module, not conftest.py: tests import it by name.)
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DORA_ROS = [sys.executable, "-m", "dora_ros.cli"]

REC = """
import os, pickle, tempfile

def record(name, value):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(__file__)))
    with os.fdopen(fd, "wb") as f:
        pickle.dump(value, f)
    os.replace(tmp, os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".pkl"))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def write(folder: Path, graph: str, **scripts: str) -> Path:
    (folder / "_rec.py").write_text(REC)
    for name, text in scripts.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(text))
    path = folder / "graph.yml"
    path.write_text(textwrap.dedent(graph))
    return path


def result(folder: Path, name: str) -> Any:
    path = folder / f"{name}.pkl"
    assert path.exists(), f"node did not record {name!r}"
    with open(path, "rb") as f:
        return pickle.load(f)


@dataclass
class Cluster:
    """Processes of one test's cluster (module docstring)."""

    folder: Path
    addr: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    netns: dict[str, str] = field(default_factory=dict)  # role -> namespace ("coordinator", id)
    procs: dict[str, subprocess.Popen[str]] = field(default_factory=dict)

    def _prefix(self, role: str) -> list[str]:
        ns = self.netns.get(role)
        return ["ip", "netns", "exec", ns] if ns else []

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DORA_COORDINATOR_ADDR"] = self.addr
        env["DORA_COORDINATOR_PORT"] = str(self.port)
        env["DORA_ROS_STOP_GRACE"] = "2"
        env.pop("ZENOH_CONFIG", None)
        return env

    def spawn(self, role: str, args: list[str], extra_env: dict[str, str] | None = None,
              unset: tuple[str, ...] = ()) -> None:  # fmt: skip
        log = open(self.folder / f"{role}.log", "a")
        env = self.env()
        env.update(extra_env or {})
        for name in unset:
            env.pop(name, None)
        self.procs[role] = subprocess.Popen(
            [*self._prefix(role), *DORA_ROS, *args], stdout=log, stderr=subprocess.STDOUT,
            text=True, start_new_session=True, cwd=self.folder, env=env,
        )  # fmt: skip
        log.close()

    def start_coordinator(self, *extra: str) -> None:
        interface = "0.0.0.0" if self.netns else self.addr
        self.spawn("coordinator", ["coordinator", "--interface", interface, "--port",
                                   str(self.port), *extra])  # fmt: skip

    def start_daemon(self, machine: str, *extra: str, unset: tuple[str, ...] = ()) -> None:
        self.spawn(machine, ["daemon", "--machine-id", machine, *extra], unset=unset)

    @classmethod
    def on(cls, folder: Path, network: Any) -> Cluster:
        """A cluster whose machines are `network`'s namespaces (netns.Network), or on loopback
        when `network` is None; `up(..., network=network)` starts it."""
        if network is None:
            return cls(folder)
        return cls(folder, addr=network.addresses["coordinator"], netns=network.namespaces)

    def up(self, *machines: str, network: Any = None) -> None:
        """The coordinator and a daemon per machine, ready. With `network` (netns.Network), each
        daemon and its nodes listen on their machine's own address only: no loopback address is
        advertised to another machine."""
        self.start_coordinator()
        for machine in machines:
            extra = [] if network is None else [
                "-c", network.addresses["coordinator"],
                "--zenoh-listen", f"tcp/{network.addresses[machine]}:0",
            ]  # fmt: skip
            self.start_daemon(machine, *extra)
        self.wait_daemons(*machines)

    def wait_daemons(self, *machines: str, timeout: float = 30) -> None:
        def ready() -> bool:
            run = self.cli("status", timeout=10, role="coordinator")
            return run.returncode == 0 and all(
                f"daemon {m}: connected" in run.stdout for m in machines
            )

        wait_for(ready, timeout, f"daemons {machines}")

    def cli(self, *args: str, timeout: float = 60, role: str = "coordinator",
            check: bool = False) -> subprocess.CompletedProcess[str]:  # fmt: skip
        run = subprocess.run(
            [*self._prefix(role), *DORA_ROS, *args], capture_output=True, text=True,
            timeout=timeout, cwd=self.folder, env=self.env(),
        )  # fmt: skip
        if check:
            assert run.returncode == 0, f"{args}: {run.stdout}\n{run.stderr}"
        return run

    def rows(self) -> list[dict[str, Any]]:
        import json

        run = self.cli("list", "--format", "json", check=True)
        return [json.loads(line) for line in run.stdout.splitlines() if line.strip()]

    def row(self, name: str) -> dict[str, Any] | None:
        return next((r for r in self.rows() if r["name"] == name), None)

    def kill(self, role: str, sig: signal.Signals = signal.SIGKILL) -> None:
        proc = self.procs[role]
        os.kill(proc.pid, sig) if not self._prefix(role) else _kill_ns_child(proc, sig)
        proc.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}"
                         for p in sorted(self.folder.glob("*.log")))  # fmt: skip

    def close(self) -> list[str]:
        """End everything; returns the command lines of processes that were left over."""
        for proc in self.procs.values():
            if proc.poll() is None:
                with _suppress():
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with _suppress():
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        return wait_no_leftovers(self.folder)


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> bool:
        return exc[0] is not None and issubclass(exc[0], ProcessLookupError | PermissionError)


def _kill_ns_child(proc: subprocess.Popen[str], sig: signal.Signals) -> None:
    # `ip netns exec` execs the command: the pid is the daemon's own.
    os.kill(proc.pid, sig)


def leftovers(folder: Path) -> dict[int, str]:
    """Processes whose command line or working folder is the test's folder (nodes, runs)."""
    found = {}
    mine = str(folder)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if mine in cmdline or cwd == mine or cwd.startswith(mine + "/"):
            found[int(entry.name)] = cmdline
    return found


def wait_no_leftovers(folder: Path, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        found = leftovers(folder)
        if not found or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for pid in found:
        with _suppress():
            os.kill(pid, signal.SIGKILL)
    return sorted(found.values())
