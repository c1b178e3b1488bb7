"""`dora-ros run --uv` starts `path:` nodes through `uv run`, as `dora run --uv` of dora-rs 1.1 does.

dora-rs's daemon starts a `.py` node as `uv run python -u <path> <args>` and any other `path:` as
`uv run <path> <args>` when the run has `--uv`. These tests run the real uv (the test extra installs
it into the venv) with `UV_OFFLINE=1`, so nothing here reaches the network: uv uses the venv that
runs dora-ros and no package is downloaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from runflow import DORA_ROS, run_flow, write_flow

VENV_BIN = str(Path(sys.executable).parent)


def _offline_env(tmp_path: Path) -> dict[str, str]:
    """No network for uv, no user config, and the venv neither active nor on PATH (as when
    `.venv/bin/dora-ros` is run without `source .venv/bin/activate`)."""
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != VENV_BIN)
    return {
        "PATH": path,
        "VIRTUAL_ENV": "",
        "UV_OFFLINE": "1",
        "UV_NO_CONFIG": "1",
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
    }


_PARENT = """
import os
from pathlib import Path

def parent_command():
    return Path(f"/proc/{os.getppid()}/cmdline").read_bytes().split(b"\\0")[:4]
"""


def test_run_uv_starts_nodes_through_uv_run(tmp_path):
    """A .py node runs as `uv run python -u node.py`, an executable as `uv run ./node`; both in
    the venv that runs dora-ros (found by uv through VIRTUAL_ENV), with their args."""
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: script
            path: script.py
            args: --flag value
            outputs: [data]
          - id: binary
            path: ./binary
            inputs:
              data: script/data
        """,
        _parent=_PARENT,
        script="""
        import sys
        import pyarrow as pa
        from _parent import parent_command
        from _rec import record
        from dora_ros import Node

        node = Node()
        record("script", (parent_command(), sys.argv[1:], sys.prefix))
        node.send_output("data", pa.array([7]))
        """,
    )
    # An executable whose `#!/usr/bin/env python3` finds dora-ros only on the PATH `uv run` gives
    # it (the venv's bin folder first), since PATH here has no venv.
    binary = tmp_path / "binary"
    binary.write_text(
        "#!/usr/bin/env python3\n"
        "from _parent import parent_command\n"
        "from _rec import record\n"
        "from dora_ros import Node\n"
        "for event in Node():\n"
        "    if event['type'] == 'INPUT':\n"
        "        record('binary', (parent_command(), event['value'].to_pylist()))\n"
    )
    binary.chmod(0o755)
    env = _offline_env(tmp_path)
    env["PYTHONPATH"] = str(tmp_path)  # _rec/_parent for the executable (.py nodes have it)
    result = run_flow(flow, "--uv", env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--uv" not in result.stderr, result.stderr  # no note: uv was found
    parent, args, prefix = flow.result("script")
    assert Path(parent[0].decode()).name == "uv", parent
    assert parent[1:4] == [b"run", b"python", b"-u"], parent
    assert args == ["--flag", "value"]
    assert Path(prefix) == Path(sys.prefix)  # the venv running dora-ros, found through uv
    parent, values = flow.result("binary")
    assert Path(parent[0].decode()).name == "uv" and parent[1] == b"run", parent
    assert Path(parent[2].decode()).resolve() == binary.resolve(), parent
    assert values == [7]


def test_run_uv_without_uv_says_so_in_one_line_and_runs(tmp_path):
    """Where uv is not installed, `--uv` is one line on stderr and nodes run with dora-ros's
    Python (dora-rs's example READMEs all say `dora run dataflow.yml --uv`)."""
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: hello
            path: hello.py
        """,
        _parent=_PARENT,
        hello="""
        from _parent import parent_command
        from _rec import record
        from dora_ros import Node

        Node()
        record("parent", parent_command())
        """,
    )
    # uv absent: this dora-ros process finds no executable named uv anywhere.
    hide_uv = (
        "import shutil, sys; which = shutil.which;"
        " shutil.which = lambda n, *a, **k: None if n == 'uv' else which(n, *a, **k);"
        " from dora_ros.cli import main; sys.argv[0] = 'dora-ros'; main()"
    )
    assert DORA_ROS[:2] == [sys.executable, "-m"]
    result = subprocess.run(
        [sys.executable, "-c", hide_uv, "run", str(flow.graph), "--uv"],
        cwd=tmp_path,
        env={**os.environ, **_offline_env(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if "--uv" in line]
    assert len(notes) == 1, result.stderr
    assert "uv is not installed" in notes[0] and sys.executable in notes[0], notes
    assert Path(flow.result("parent")[0].decode()).name != "uv"


def test_dora_run_with_uv_true_starts_nodes_through_uv(tmp_path):
    """dora-rs's `dora.run(path, uv=True)` (the Python API of `dora run --uv`) does the same."""
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: hello
            path: hello.py
        """,
        _parent=_PARENT,
        hello="""
        from _parent import parent_command
        from _rec import record
        from dora import Node

        Node()
        record("parent", parent_command())
        """,
    )
    from dora_ros.compat import compat_path

    script = f"import dora; dora.run({str(flow.graph)!r}, uv=True)"
    env = {**os.environ, **_offline_env(tmp_path), "PYTHONPATH": str(compat_path())}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    parent = flow.result("parent")
    assert Path(parent[0].decode()).name == "uv" and parent[1:3] == [b"run", b"python"], parent


def test_build_uv_finds_uv_of_an_inactive_venv(tmp_path):
    """`dora-ros build --uv` runs pip lines as `uv pip ... --python <python>` with the venv's uv
    though the venv is not active (it failed: 'cannot start ... (uv)'); offline here."""
    (tmp_path / "n.py").write_text("")
    (tmp_path / "graph.yml").write_text(
        "nodes:\n  - id: a\n    path: n.py\n    build: pip show pyarrow\n"
    )
    result = subprocess.run(
        [*DORA_ROS, "build", "graph.yml", "--uv"],
        cwd=tmp_path,
        env={**os.environ, **_offline_env(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "a: Name: pyarrow" in result.stdout.splitlines(), result.stdout
