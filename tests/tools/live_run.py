"""A `dora-ros run` in the background for the tests of verbs on running dataflows.

``live_run`` starts the console script on a graph in its own session, with a private runtime dir
(``XDG_RUNTIME_DIR``: the run registry of other tests' runs is not seen, and theirs not ours),
waits until the run has registered its API, and stops it at the end (SIGINT, then SIGKILL of its
group), checking that its registry file and socket are gone.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolrun import DORA_ROS

TALKER = """
import pyarrow as pa
from dora import Node

node = Node()
count = 0
for event in node:
    if event["type"] == "INPUT":
        count += 1
        node.send_output("count", pa.array([count]))
"""

LISTENER = """
from dora import Node

node = Node()
for event in node:
    if event["type"] == "STOP":  # as dora-rs's examples: a node stopped alone ends at once
        break
"""

GRAPH = """
nodes:
  - id: talker
    path: talker.py
    inputs:
      tick: dora/timer/millis/20
    outputs: [count]
  - id: listener
    path: listener.py
    inputs:
      count:
        source: talker/count
        queue_size: 4
"""


@dataclass
class LiveRun:
    proc: subprocess.Popen[str]
    entry: dict[str, Any]  # its registry file
    env: dict[str, str]  # the environment that sees it (XDG_RUNTIME_DIR)
    folder: Path
    runtime: Path

    @property
    def id(self) -> str:
        return str(self.entry["id"])

    def output(self) -> str:
        return (self.folder / "run.log").read_text(errors="replace")


def write_graph(folder: Path, graph: str = GRAPH, **scripts: str) -> Path:
    scripts = {"talker": TALKER, "listener": LISTENER, **scripts}
    for name, text in scripts.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(text))
    path = folder / "graph.yml"
    path.write_text(textwrap.dedent(graph))
    return path


@contextmanager
def live_run(folder: Path, *args: str, name: str | None = "live",
             graph: str = GRAPH, **scripts: str) -> Iterator[LiveRun]:  # fmt: skip
    path = write_graph(folder, graph, **scripts)
    # Short: the socket path (<dir>/dora-ros/<uuid>.sock) must fit in 108 bytes.
    runtime = Path(tempfile.mkdtemp(prefix="drt-", dir="/tmp"))
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), DORA_ROS_STOP_GRACE="2")
    command = [DORA_ROS, "run", str(path), *(["--name", name] if name else []), *args]
    log = open(folder / "run.log", "w")
    proc = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)  # fmt: skip
    log.close()
    runs = runtime / "dora-ros" / "runs"
    try:
        deadline = time.monotonic() + 30
        entry = None
        while entry is None:
            assert proc.poll() is None, (folder / "run.log").read_text()
            assert time.monotonic() < deadline, "the run never registered its API"
            for file in runs.glob("*.json") if runs.is_dir() else ():
                entry = json.loads(file.read_text())
            time.sleep(0.05)
        yield LiveRun(proc, entry, env, folder, runtime)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        files = (runtime / "dora-ros").rglob("*")
        left = sorted(p.name for p in files if p.is_file() or p.is_socket())
        shutil.rmtree(runtime, ignore_errors=True)  # also when the test failed
    assert not left, f"left in the runtime dir: {left}"
