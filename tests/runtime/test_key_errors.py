"""Bad values of the logging keys and of `module:` are one line naming the file, node and key,
from `dora-ros expand` and from `dora-ros run` alike (issue 12: keys dora-rs 1.1 added)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DORA_ROS = [sys.executable, "-m", "dora_ros.cli"]

MODULE = """
module:
  name: m
  inputs: [raw]
nodes:
  - id: f
    path: n.py
    inputs: {d: _mod/raw}
"""


def _node(extra: str) -> str:
    return "nodes:\n  - id: a\n    path: n.py\n    outputs: [x]\n" + textwrap.indent(extra, "    ")


CASES = [
    # (graph, module file or None, the line expected after "error: ")
    (_node("min_log_level: loud\n"), None, "graph.yml:5: node 'a': min_log_level 'loud' is not a"),
    (_node("max_log_size: huge\n"), None, "graph.yml:5: node 'a': max_log_size: 'huge' is not a"),
    (_node("max_log_size: 0\n"), None, "graph.yml:5: node 'a': max_log_size: 0 is not a size"),
    (
        _node("max_rotated_files: -1\n"),
        None,
        "graph.yml:5: node 'a': max_rotated_files must be an integer from 1 to 100 (got -1)",
    ),
    (_node("send_logs_as: [x]\n"), None, "graph.yml:5: node 'a': `send_logs_as` must be a string"),
    (
        _node("send_logs_as: y\n"),
        None,
        "graph.yml:5: node 'a': send_logs_as names 'y', which is not in `outputs`",
    ),
    (
        _node("inputs: {l: dora/logs/loud}\n"),
        None,
        "graph.yml:5: node 'a': input 'l': log input 'dora/logs/loud': unknown level 'loud'",
    ),
    (
        "min_log_level: info\nnodes:\n  - id: a\n    path: n.py\n",
        None,
        "graph.yml:1: 'min_log_level' is a node key: write it under each node it is for",
    ),
    (
        "nodes:\n  - id: p\n    module: missing.yml\n",
        None,
        "graph.yml:3: node 'p': cannot read module 'missing.yml': No such file or directory",
    ),
    ("nodes:\n  - id: p\n    module: 5\n", None, "graph.yml:3: node 'p': `module` must be"),
    (
        "nodes:\n  - id: p\n    module: m.yml\n    inputs: {rawx: q/y}\n",
        MODULE,
        "graph.yml:4: node 'p': module 'm.yml' has no input 'rawx' (its inputs: 'raw')",
    ),
    (
        "nodes:\n  - id: p\n    module: m.yml\n",
        "nodes: [\n",
        "m.yml:2: invalid YAML: did not find expected node content (while parsing a flow node)"
        " (the module of node 'p', graph.yml:3)",
    ),
    (
        "nodes:\n  - id: q\n    path: n.py\n    outputs: [y]\n"
        "  - id: p\n    module: m.yml\n    inputs: {raw: q/y}\n",
        MODULE + "    min_log_level: loud\n",
        "graph.yml:6: node 'p.f' (from m.yml:5): min_log_level 'loud' is not a log level",
    ),
]


@pytest.mark.parametrize("command", ["expand", "run"])
@pytest.mark.parametrize(("graph", "module", "expected"), CASES)
def test_bad_key_is_one_line_naming_file_node_and_key(
    tmp_path: Path, command: str, graph: str, module: str | None, expected: str
) -> None:
    (tmp_path / "n.py").write_text("")
    (tmp_path / "graph.yml").write_text(graph)
    if module is not None:
        (tmp_path / "m.yml").write_text(module.lstrip())
    result = subprocess.run(
        [*DORA_ROS, command, "graph.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {expected}"), lines[0]
    assert not (tmp_path / "out").exists()  # nothing started
