"""`dora-ros new`: a runnable project to start from, with a test that passes as created.

``--kind dataflow`` makes a graph of two Python nodes (a talker counting timer ticks, a listener
printing them) and a test that runs it with ``dora-ros run``; ``--kind node`` makes a node package
(one input in, its double out) with a test graph that feeds it and checks what comes out. The
files are written from the templates below and nothing else; an existing target is never touched.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from . import ToolError

__all__ = ["new", "scaffold"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")

_DATAFLOW_FILES = {
    "dataflow.yml": """\
# {name}: a talker counts timer ticks, a listener prints them.
# Run: dora-ros run dataflow.yml        Picture: dora-ros graph dataflow.yml --open
nodes:
  - id: talker
    path: nodes/talker.py
    inputs:
      tick: dora/timer/millis/100
    outputs:
      - count
    env:
      COUNT: 5

  - id: listener
    path: nodes/listener.py
    inputs:
      count: talker/count
""",
    "nodes/talker.py": '''\
"""Sends 1, 2, ... COUNT on output `count`, one per timer tick, then ends."""

import os

import pyarrow as pa

from dora_ros import Node


def main() -> None:
    node = Node()
    last = int(os.environ.get("COUNT", "5"))
    sent = 0
    for event in node:
        if event["type"] == "INPUT" and event["id"] == "tick":
            sent += 1
            node.send_output("count", pa.array([sent]), {{"note": "from talker"}})
            if sent == last:
                break


if __name__ == "__main__":
    main()
''',
    "nodes/listener.py": '''\
"""Prints every count it receives; ends when the talker has ended."""

from dora_ros import Node


def main() -> None:
    node = Node()
    for event in node:
        if event["type"] == "INPUT":
            print(f"got {{event['value'][0].as_py()}} ({{event['metadata']['note']}})", flush=True)


if __name__ == "__main__":
    main()
''',
    "tests/test_dataflow.py": '''\
"""Runs the dataflow as a user would, and checks what the listener printed."""

import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def test_listener_gets_every_count(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dora_ros.cli", "run", str(PROJECT / "dataflow.yml"),
         "--stop-after", "30s", "--out-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    got = [line for line in result.stdout.splitlines() if line.startswith("listener: got")]
    assert got == [f"listener: got {{n}} (from talker)" for n in range(1, 6)]
''',
    "README.md": """\
# {name}

A dora-ros dataflow: `nodes/talker.py` sends a count on each tick of a 100 ms timer,
`nodes/listener.py` prints it.

    dora-ros run dataflow.yml              # run it (ends after 5 counts)
    dora-ros graph dataflow.yml --open     # see it
    python -m pytest tests                 # test it
""",
}

_NODE_FILES = {
    "pyproject.toml": """\
[project]
name = "{name}"
version = "0.1.0"
description = "A dora-ros node: doubles the numbers it receives"
requires-python = ">=3.10"
dependencies = ["dora-ros", "pyarrow"]

[project.scripts]
{name} = "{package}.main:main"

[tool.setuptools.packages.find]
include = ["{package}*"]
""",
    "{package}/__init__.py": '''\
"""{name}: a dora-ros node."""
''',
    "{package}/main.py": '''\
"""Input `in` (numbers) -> output `out` (each doubled, same metadata)."""

import pyarrow.compute as pc

from dora_ros import Node


def main() -> None:
    node = Node()
    for event in node:
        if event["type"] == "INPUT" and event["id"] == "in":
            node.send_output("out", pc.multiply(event["value"], 2), event["metadata"])


if __name__ == "__main__":
    main()
''',
    "tests/graph.yml": """\
# The node between a source of known values and a checker that prints what came out.
nodes:
  - id: source
    path: source.py
    inputs:
      tick: dora/timer/millis/50
    outputs:
      - numbers

  - id: {name}
    path: ../{package}/main.py
    inputs:
      in: source/numbers
    outputs:
      - out

  - id: check
    path: check.py
    inputs:
      out: {name}/out
""",
    "tests/source.py": '''\
"""Sends [1, 2, 3] then [10] on output `numbers`, then ends."""

import pyarrow as pa

from dora_ros import Node

VALUES = [[1, 2, 3], [10]]


def main() -> None:
    node = Node()
    sent = 0
    for event in node:
        if event["type"] == "INPUT":
            node.send_output("numbers", pa.array(VALUES[sent]), {{"index": sent}})
            sent += 1
            if sent == len(VALUES):
                break


if __name__ == "__main__":
    main()
''',
    "tests/check.py": '''\
"""Prints each value that comes out of the node under test."""

from dora_ros import Node


def main() -> None:
    for event in Node():
        if event["type"] == "INPUT":
            print(f"out {{event['metadata']['index']}}: {{event['value'].to_pylist()}}", flush=True)


if __name__ == "__main__":
    main()
''',
    "tests/test_node.py": '''\
"""Runs the node in tests/graph.yml and checks what it sent."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_doubles_its_input(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dora_ros.cli", "run", str(HERE / "graph.yml"),
         "--stop-after", "30s", "--out-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = [line for line in result.stdout.splitlines() if line.startswith("check: out")]
    assert out == ["check: out 0: [2, 4, 6]", "check: out 1: [20]"]
''',
    "README.md": """\
# {name}

A dora-ros node: input `in` (numbers), output `out` (each doubled, with the input's metadata).
Use it in a dataflow:

    - id: {name}
      path: {package}/main.py      # or, after `pip install -e .`: path: {name}
      inputs:
        in: some_node/numbers
      outputs:
        - out

Test it: `python -m pytest tests` (runs tests/graph.yml with `dora-ros run`).
""",
}


def scaffold(name: str, kind: str, parent: Path) -> tuple[Path, list[Path]]:
    """Write project ``name`` of ``kind`` under ``parent``; the folder and the files written."""
    if not _NAME.match(name):
        raise ToolError(
            f"'{name}' is not a project name: a letter, then letters, digits, '_' or '-' "
            "(64 at most)"
        )
    target = parent / name
    if target.exists():
        raise ToolError(f"{target}: already exists (choose another name or remove it)")
    if not parent.is_dir():
        raise ToolError(f"{parent}: no such folder")
    package = name.replace("-", "_").lower()
    templates = _DATAFLOW_FILES if kind == "dataflow" else _NODE_FILES
    written = []
    for relative, text in templates.items():
        path = target / relative.format(name=name, package=package)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(name=name, package=package), encoding="utf-8")
        written.append(path)
    return target, written


@click.command(
    epilog="""\b
Examples:
  dora-ros new my_robot                     # a dataflow: my_robot/dataflow.yml, nodes, a test
  dora-ros new my_filter --kind node        # a node package with a test graph
  cd my_robot && dora-ros run dataflow.yml && python -m pytest tests
"""
)
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(["dataflow", "node"]),
    default="dataflow",
    show_default=True,
    help="A whole dataflow, or one node to use in dataflows.",
)
@click.option(
    "--lang",
    type=click.Choice(["python"]),
    default="python",
    show_default=True,
    help="Language of the nodes (dora-ros runs Python nodes).",
)
@click.option(
    "--path",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="Folder to create the project in (default: the current one).",
)
def new(name: str, kind: str, lang: str, parent: Path) -> int:
    """Create a runnable dataflow or node project NAME with a test."""
    target, written = scaffold(name, kind, parent)
    click.echo(f"created {kind} project {target}/ ({len(written)} files):")
    for path in written:
        click.echo(f"  {path.relative_to(target)}")
    click.echo(f"next: cd {target} && python -m pytest tests")
    return 0
