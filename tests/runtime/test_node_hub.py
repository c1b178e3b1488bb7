"""Nodes written for dora-rs, from PyPI, run unchanged under `dora-ros run`.

`pyarrow-sender`, `dora-echo` and `pyarrow-assert` (dora-rs node-hub 0.5.0, installed with
`--no-deps` by the Makefile) are console scripts doing `from dora import Node`, while the real
dora-rs 1.1 is installed in the same venv. Under dora-ros they must get dora-ros's `Node`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
COMPAT = HERE.parent.parent / "dora_ros" / "compat"
BIN = Path(sys.executable).parent
PACKAGES = ("pyarrow-sender", "dora-echo", "pyarrow-assert")

pytestmark = pytest.mark.skipif(
    any(shutil.which(p, path=str(BIN)) is None for p in PACKAGES),
    reason="node-hub packages not installed (make test installs them)",
)

GRAPH = """
nodes:
  - id: sender
    path: pyarrow-sender
    outputs: [data]
    env:
      DATA: "{sent}"
  - id: echo
    path: dora-echo
    inputs:
      data: sender/data
    outputs: [data]
  - id: assert
    path: pyarrow-assert
    inputs:
      data: echo/data
    env:
      DATA: "{expected}"
  - id: check
    path: {check}
    inputs:
      data: echo/data
"""


def _run(tool: list[str], tmp_path: Path, sent: str, expected: str) -> dict[str, Any]:
    graph = tmp_path / "graph.yml"
    graph.write_text(
        GRAPH.format(sent=sent, expected=expected, check=HERE / "node_hub" / "check.py")
    )
    out = tmp_path / "check.json"
    env = {
        **os.environ,
        "CHECK_OUT": str(out),
        # The console scripts live next to this Python; dora-rs looks them up on PATH.
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    result = subprocess.run(
        [*tool, "run", str(graph), "--stop-after", "20s"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    record = json.loads(out.read_text()) if out.exists() else None
    return {"result": result, "record": record}


def _dora_ros() -> list[str]:
    script = BIN / "dora-ros"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dora_ros.cli"]


def _explain(run: dict[str, Any]) -> str:
    result = run["result"]
    return f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def test_node_hub_packages_run_unchanged_on_dora_ros(tmp_path: Path) -> None:
    run = _run(_dora_ros(), tmp_path, sent="[1, 2, 3]", expected="[1, 2, 3]")
    assert run["result"].returncode == 0, _explain(run)
    record = run["record"]
    assert record is not None, _explain(run)
    assert record["seen"] == [{"id": "data", "value": [1, 2, 3]}]
    # `from dora import Node` gave dora-ros's Node although dora-rs is installed.
    assert Path(record["dora_file"]).resolve() == COMPAT / "dora" / "__init__.py"
    assert record["node_module"].startswith("dora_ros.")


def test_pyarrow_assert_fails_the_graph_on_wrong_data(tmp_path: Path) -> None:
    """The assert node really checks what arrives: wrong data makes `dora-ros run` fail."""
    run = _run(_dora_ros(), tmp_path, sent="[1, 2, 3]", expected="[7, 7]")
    assert run["result"].returncode != 0, _explain(run)
    output = run["result"].stdout + run["result"].stderr
    assert "assert" in output and "Expected" in output, output[-3000:]
    assert run["record"] is not None and run["record"]["seen"] == [
        {"id": "data", "value": [1, 2, 3]}
    ]


@pytest.mark.skipif(shutil.which("dora", path=str(BIN)) is None, reason="dora-rs-cli not installed")
def test_same_graph_runs_on_dora_rs(tmp_path: Path) -> None:
    """Reference: the graph is a valid dora-rs graph, and there `dora` is dora-rs itself."""
    run = _run([str(BIN / "dora")], tmp_path, sent="[1, 2, 3]", expected="[1, 2, 3]")
    assert run["result"].returncode == 0, _explain(run)
    record = run["record"]
    assert record["seen"] == [{"id": "data", "value": [1, 2, 3]}]
    assert "site-packages" in record["dora_file"]


@pytest.mark.parametrize(("expected", "ok"), [("[1, 2, 3]", True), ("[7, 7]", False)])
def test_dora_run_of_the_compat_module(tmp_path: Path, expected: str, ok: bool) -> None:
    """`dora.run(path)` (dora-rs's Python way to run a graph) runs it on dora-ros; failure raises."""
    graph = tmp_path / "graph.yml"
    graph.write_text(
        GRAPH.format(sent="[1, 2, 3]", expected=expected, check=HERE / "node_hub" / "check.py")
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(COMPAT),
        "CHECK_OUT": str(tmp_path / "check.json"),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    code = f"import dora; dora.run({str(graph)!r}, stop_after=20.0); print('RUN OK')"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    if ok:
        assert result.returncode == 0 and "RUN OK" in result.stdout, result.stdout + result.stderr
    else:
        assert result.returncode != 0
        # CompatError from a failed status, or the runtime's own DoraRosError: either names it.
        output = result.stdout + result.stderr
        assert "Error" in result.stderr and "Expected" in output, output[-3000:]
