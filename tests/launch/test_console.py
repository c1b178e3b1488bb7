"""What `dora-ros launch` prints for its processes: `<name>: <line>`, as `dora-ros run` and `build`.

Plain in a pipe (and in launch.log), coloured per name on a terminal; a dora graph started by the
launch (one `dora-ros run` process) shows each node line once, with the node's prefix only.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ament_workspace import PYTHON, Workspace

from dora_ros.runtime.console import prefix

LAUNCH = """<launch>
  <executable cmd="echo shown-on-screen" name="loud" output="screen"/>
  <dora graph="$(dirname)/graph.yml"/>
</launch>"""

GRAPH = """nodes:
  - id: talk
    path: talk.py
"""


def _setup(ws: Workspace) -> Path:
    (ws.launch_dir / "talk.py").write_text("print('hi from talk', flush=True)\n")
    (ws.launch_dir / "graph.yml").write_text(GRAPH)
    return ws.add_launch("console.launch.xml", LAUNCH)


def _on_a_terminal(ws: Workspace, path: Path, env: dict[str, str]) -> tuple[int, bytes, str]:
    """Run the launch with its stdout on a pseudo-terminal: (exit status, terminal bytes, stderr)."""
    import pty

    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [PYTHON, "-m", "dora_ros.cli", "launch", str(path)],
        env=env,
        stdout=secondary,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ws.root,
    )
    os.close(secondary)
    output = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # EIO: the terminal's other end is closed
            break
        if not chunk:
            break
        output += chunk
    os.close(primary)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, output, err


def test_pipe_output_is_plain_and_a_graph_is_prefixed_once(ws: Workspace) -> None:
    path = _setup(ws)
    result = ws.launch(str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "\x1b[" not in result.stdout + result.stderr  # a pipe: no colour codes
    lines = result.stdout.splitlines()
    assert "loud-1: shown-on-screen" in lines
    # The graph's node line is prefixed once, by the inner `dora-ros run`, not by the launch too.
    assert [line for line in lines if "hi from talk" in line] == ["talk: hi from talk"]
    (folder,) = [p for p in ws.log_dir.iterdir() if p.is_dir()]
    launch_log = (folder / "launch.log").read_text()
    assert "\x1b[" not in launch_log
    assert "loud-1: shown-on-screen" in launch_log
    talk = [line for line in launch_log.splitlines() if "hi from talk" in line]
    assert len(talk) == 1 and talk[0].endswith(" talk: hi from talk"), talk


def test_terminal_output_is_coloured_per_name(ws: Workspace) -> None:
    path = _setup(ws)
    env = {k: v for k, v in ws.env.items() if k not in ("NO_COLOR", "TERM")}
    status, output, err = _on_a_terminal(ws, path, env)
    assert status == 0, output.decode(errors="replace") + err
    text = output.decode(errors="replace")
    # The same colour for a name as `dora-ros run` and `build` give it.
    assert prefix("loud-1", True) + "shown-on-screen" in text, text
    assert prefix("talk", True) + "hi from talk" in text, text
    assert "dora-1" not in "".join(line for line in text.splitlines() if "hi from talk" in line)
    assert "\x1b[" not in err  # stderr was a pipe: plain


def test_no_color_keeps_a_terminal_plain(ws: Workspace) -> None:
    path = _setup(ws)
    env = {**ws.env, "NO_COLOR": "1"}
    status, output, err = _on_a_terminal(ws, path, env)
    assert status == 0, output.decode(errors="replace") + err
    assert b"\x1b[" not in output
    assert b"loud-1: shown-on-screen" in output and b"talk: hi from talk" in output
