"""Helpers for the runtime's end-to-end tests: write a graph and its node scripts, run `dora-ros run`.

(A plain module, not conftest.py: tests import it by name, `from runflow import ...`.)

Every test writes a small graph into its own `tmp_path` and runs the real command line as a
subprocess (its own session, so a test can signal it and kill whatever is left), with a timeout.
Node scripts record what they saw as pickles in the graph's folder (`record(name, value)` in the
`_rec.py` module written next to them), which the test then loads and checks.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

DORA_ROS = [sys.executable, "-m", "dora_ros.cli"]

# Imported by node scripts: `from _rec import record`.
_REC_MODULE = '''
import os, pickle, tempfile

def record(name, value):
    """Write `value` to `<name>.pkl` atomically (a test reads it after the run)."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(__file__)))
    with os.fdopen(fd, "wb") as f:
        pickle.dump(value, f)
    os.replace(tmp, os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".pkl"))
'''


@dataclass
class Flow:
    """A graph written into a test's folder."""

    dir: Path
    graph: Path

    def result(self, name: str) -> Any:
        path = self.dir / f"{name}.pkl"
        assert path.exists(), f"node did not record {name!r} (no {path.name})"
        with open(path, "rb") as f:
            return pickle.load(f)

    def has_result(self, name: str) -> bool:
        return (self.dir / f"{name}.pkl").exists()

    def logs(self) -> dict[str, str]:
        """`out/<dataflow-id>/log_<node>.txt` of the (single) run, by node id."""
        return {
            p.name[len("log_") : -len(".txt")]: p.read_text()
            for p in run_dir(self.dir / "out").glob("log_*.txt")
        }


def run_dirs(out: Path) -> list[Path]:
    """The run folders `out/<dataflow-id>` (not the `out/latest` and `out/<name>` links)."""
    return sorted(p for p in out.iterdir() if p.is_dir() and not p.is_symlink())


def run_dir(out: Path) -> Path:
    """The folder of the single run in `out`."""
    runs = run_dirs(out)
    assert len(runs) == 1, runs
    return runs[0]


def write_flow(tmp_path: Path, graph: str, **scripts: str) -> Flow:
    """Write `graph.yml` and `<name>.py` for each script (dedented) into `tmp_path`."""
    (tmp_path / "_rec.py").write_text(_REC_MODULE)
    for name, code in scripts.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(code).lstrip())
    path = tmp_path / "graph.yml"
    path.write_text(textwrap.dedent(graph).lstrip())
    return Flow(tmp_path, path)


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DORA_ROS_")}
    env.update(extra or {})
    return env


def run_flow(
    flow: Flow, *args: str, timeout: float = 30, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`dora-ros run graph.yml *args` in the graph's folder; fails the test on timeout."""
    proc = start_flow(flow, *args, env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_session(proc)
        out, err = proc.communicate()
        pytest.fail(f"dora-ros run did not end within {timeout} s\nstdout:\n{out}\nstderr:\n{err}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# Every `dora-ros run` started here; conftest.py kills what is left after each test.
STARTED: list[subprocess.Popen[Any]] = []


def start_flow(flow: Flow, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`dora-ros run` in its own session, so a test can signal it and kill all that is left."""
    proc = subprocess.Popen(
        [*DORA_ROS, "run", str(flow.graph), *args],
        cwd=flow.dir,
        env=_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    STARTED.append(proc)
    return proc


def kill_session(proc: subprocess.Popen[Any]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"
