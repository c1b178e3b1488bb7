"""A dataflow API closed while its thread is still opening the Zenoh session (a `dora-ros run`
that ends at once) lets the process exit cleanly and leaves no socket.

Before, close() did not wait for that thread: a daemon thread still inside zenoh.open when the
interpreter exited aborted the process ("FATAL: exception not rethrown", status 134; about one
run in five here), and the socket it went on to create stayed in the runtime dir.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = """
import sys
from pathlib import Path
from types import SimpleNamespace

from dora_ros.cluster.dataflow_api import DataflowApi

# Only what DataflowApi reads of its supervisor.
sup = SimpleNamespace(
    _api_id=lambda: sys.argv[1], _api_machine=lambda: "local", name=None,
    dataflow=SimpleNamespace(path=Path("graph.yml")), _say=print,
)
DataflowApi(sup).close()
"""
RUNS = 15


def test_closing_at_once_exits_cleanly_and_leaves_nothing(tmp_path: Path) -> None:
    script = tmp_path / "close_at_once.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path))
    codes = [
        subprocess.run(
            [sys.executable, str(script), f"exit-{i}"], env=env, capture_output=True, timeout=60,
            check=False,
        ).returncode
        for i in range(RUNS)
    ]  # fmt: skip
    assert codes == [0] * RUNS
    assert sorted(p.name for p in (tmp_path / "dora-ros").iterdir()) == ["runs"]
