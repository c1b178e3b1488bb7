"""`dora-ros build`: run the ``build`` lines of every node, the way dora-rs does.

Like ``dora build``, each non-blank line of a node's ``build`` is split on unquoted whitespace
(quotes removed, no shell: no pipes, globs or ``&&``) and started in the graph's folder with the
node's ``env`` added to the environment. Unlike dora-rs, ``pip``/``pip3`` lines run as
``<python> -m pip`` and ``python``/``python3`` lines as ``<python>``, where ``<python>`` is the
interpreter running dora-ros: the one that runs ``.py`` nodes, so what a build installs is what
the nodes import. With ``--uv``, pip lines run as ``uv pip ... --python <python>`` instead.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import DoraRosError
from .console import prefix
from .descriptor import Dataflow, NodeSpec

__all__ = ["BuildError", "build_argv", "build_dataflow", "find_uv"]


class BuildError(DoraRosError):
    """A node's ``build`` line could not be started or exited with a non-zero status."""


def find_uv() -> str | None:
    """The uv executable: on ``PATH``, else next to the running Python (an inactive venv)."""
    return shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))


def build_argv(line: str, *, uv: bool = False, python: str = sys.executable) -> list[str]:
    """The argv that runs one ``build`` line (see the module docstring)."""
    words = shlex.split(line)
    program, rest = words[0], words[1:]
    if program in ("pip", "pip3"):
        if uv:  # uv of an inactive venv too (a missing uv is a one-line error when started)
            return [find_uv() or "uv", "pip", *rest, "--python", python]
        return [python, "-m", "pip", *rest]
    if program in ("python", "python3"):
        return [python, *rest]
    return words


def build_dataflow(
    dataflow: Dataflow,
    *,
    uv: bool = False,
    echo: Callable[[str], None] = print,
    colour: bool = False,
) -> int:
    """Run every node's build lines in order; returns how many lines ran.

    Output of each command is echoed line by line, prefixed with the node id as `dora-ros run`
    prefixes node output (``console.prefix``; coloured when ``colour``). Stops at the first
    failure with a :class:`BuildError` naming the node and the command.
    """
    count = 0
    for node in dataflow.nodes:
        for line in (node.build or "").splitlines():
            if line.strip():
                _run_line(node, dataflow, line.strip(), uv, echo, colour)
                count += 1
    return count


def _run_line(
    node: NodeSpec, dataflow: Dataflow, line: str, uv: bool, echo: Callable[[str], None],
    colour: bool,
) -> None:  # fmt: skip
    where = f"{node.location}: node '{node.id}'"
    try:
        argv = build_argv(line, uv=uv)
    except ValueError as err:
        raise BuildError(f"{where}: cannot split build command ({err}): {line}") from err
    label = prefix(node.id, colour)
    echo(f"{label}$ {line}")
    env = {**os.environ, **node.env}
    try:
        process = subprocess.Popen(
            argv,
            cwd=dataflow.working_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as err:
        raise BuildError(
            f"{where}: build command cannot start: {err.strerror or err} ({argv[0]}): {line}"
        ) from err
    with process:
        assert process.stdout is not None
        for output in process.stdout:
            echo(f"{label}{output.rstrip()}")
    if process.returncode != 0:
        raise BuildError(
            f"{where}: build command failed with exit status {process.returncode}: {line}"
        )
