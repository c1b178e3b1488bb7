"""``module:`` nodes and ``dora-ros expand``, checked against dora-rs 1.1's ``dora expand``.

``DORA_RS_EXPANDED`` is what ``dora expand graph.yml`` of dora-rs-cli 1.1.0 (in the project venv)
printed for ``GRAPH`` with ``INNER`` and ``OUTER`` in ``mods/``, loaded with ``yaml.safe_load``:
nested modules, params (``$PARAM_*`` in args, ``PARAM_*`` env), an unwired optional input, the
module node's env and build. Mistakes have their own cases.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from runflow import run_flow, write_flow

from dora_ros.errors import DescriptorError
from dora_ros.runtime.descriptor import load_dataflow

GRAPH = """
nodes:
  - id: src
    path: src.py
    outputs: [value]
  - id: pipe
    module: mods/outer.yml
    inputs:
      data: src/value
    params:
      speed: "2.0"
      mode: turbo
    env:
      PIPE_ENV: x
    build: echo pipe-build
  - id: sink
    path: sink.py
    inputs:
      r: pipe/result
"""

INNER = """
module:
  name: inner
  inputs: [raw]
  inputs_optional: [cfg]
  outputs: [processed]
nodes:
  - id: proc
    path: proc.py
    args: --speed $PARAM_SPEED --mode $PARAM_MODE
    env:
      OWN: "1"
    inputs:
      data: _mod/raw
      config: _mod/cfg
      tick: dora/timer/millis/100
    outputs:
      - processed
"""

OUTER = """
module:
  name: outer
  inputs: [data]
  outputs: [result]
build: echo outer-build
nodes:
  - id: inner
    module: inner.yml
    inputs:
      raw: _mod/data
    params:
      speed: "3"
  - id: post
    path: post.py
    inputs:
      data: inner/processed
    outputs:
      - result
"""

DORA_RS_EXPANDED = {
    "nodes": [
        {
            "id": "src",
            "name": None,
            "description": None,
            "path": "src.py",
            "env": None,
            "outputs": ["value"],
            "inputs": {},
            "restart_policy": "never",
            "max_restarts": 0,
            "deploy": None,
        },
        {
            "id": "pipe.inner.proc",
            "name": None,
            "description": None,
            "path": "mods/proc.py",
            "args": "--speed 3 --mode $PARAM_MODE",
            "env": {"OWN": 1, "PARAM_MODE": "turbo", "PARAM_SPEED": "3", "PIPE_ENV": "x"},
            "outputs": ["processed"],
            "inputs": {"data": "src/value", "tick": "dora/timer/millis/100"},
            "build": "echo pipe-build\necho outer-build",
            "restart_policy": "never",
            "max_restarts": 0,
            "deploy": None,
        },
        {
            "id": "pipe.post",
            "name": None,
            "description": None,
            "path": "mods/post.py",
            "env": {"PARAM_MODE": "turbo", "PARAM_SPEED": "2.0", "PIPE_ENV": "x"},
            "outputs": ["result"],
            "inputs": {"data": "pipe.inner.proc/processed"},
            "build": "echo pipe-build\necho outer-build",
            "restart_policy": "never",
            "max_restarts": 0,
            "deploy": None,
        },
        {
            "id": "sink",
            "name": None,
            "description": None,
            "path": "sink.py",
            "env": None,
            "outputs": [],
            "inputs": {"r": "pipe.post/result"},
            "restart_policy": "never",
            "max_restarts": 0,
            "deploy": None,
        },
    ],
    "deploy": None,
    "debug": {"enable_debug_inspection": False},
    "health_check_interval": None,
}


def _write_modules(folder: Path) -> Path:
    (folder / "mods").mkdir()
    (folder / "mods" / "inner.yml").write_text(INNER.lstrip())
    (folder / "mods" / "outer.yml").write_text(OUTER.lstrip())
    for name in ("src.py", "sink.py", "mods/proc.py", "mods/post.py"):
        (folder / name).write_text("")
    graph = folder / "graph.yml"
    graph.write_text(GRAPH.lstrip())
    return graph


def test_expand_prints_what_dora_expand_prints(tmp_path):
    graph = _write_modules(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "dora_ros.cli", "expand", str(graph)],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout) == DORA_RS_EXPANDED
    # The flat file is itself a graph dora-ros runs (debug/health_check_interval at defaults).
    flat = tmp_path / "flat.yml"
    flat.write_text(result.stdout)
    assert [n.id for n in load_dataflow(flat).nodes] == [n["id"] for n in DORA_RS_EXPANDED["nodes"]]


def test_module_dataflow_runs(tmp_path):
    """dora-rs's examples/module-dataflow, shortened: sender -> (doubler -> filter) -> receiver."""
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: sender
            path: sender.py
            outputs: [value]
          - id: pipeline
            module: modules/transform_module.yml
            inputs:
              raw_data: sender/value
          - id: receiver
            path: receiver.py
            inputs:
              filtered: pipeline/filtered
        """,
        sender="""
        import time
        import pyarrow as pa
        from dora import Node

        node = Node()
        for i in range(10):
            node.send_output("value", pa.array([i]))
            time.sleep(0.02)
        """,
        receiver="""
        from _rec import record
        from dora import Node

        got = [e["value"].to_pylist() for e in Node() if e["type"] == "INPUT"]
        record("received", got)
        """,
    )
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "transform_module.yml").write_text(
        textwrap.dedent("""
        module:
          name: transform_pipeline
          inputs: [raw_data]
          outputs: [filtered]
        nodes:
          - id: doubler
            path: doubler.py
            inputs:
              data: _mod/raw_data
            outputs: [doubled]
          - id: filter
            path: filter_even.py
            inputs:
              data: doubler/doubled
            outputs: [filtered]
        """)
    )
    (modules / "doubler.py").write_text(
        textwrap.dedent("""
        import pyarrow as pa
        from dora import Node
        node = Node()
        for event in node:
            if event["type"] == "INPUT":
                node.send_output("doubled", pa.array([v * 3 for v in event["value"].to_pylist()]))
        """)
    )
    (modules / "filter_even.py").write_text(
        textwrap.dedent("""
        import pyarrow as pa
        from dora import Node
        node = Node()
        for event in node:
            if event["type"] == "INPUT":
                values = [v for v in event["value"].to_pylist() if v % 2 == 0]
                node.send_output("filtered", pa.array(values, pa.int64()))
        """)
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    assert flow.result("received") == [[v] if v % 2 == 0 else [] for v in range(0, 30, 3)]
    assert sorted(flow.logs()) == ["pipeline.doubler", "pipeline.filter", "receiver", "sender"]


MODULE = """
module:
  name: m
  inputs: [a]
  inputs_optional: [b]
  outputs: [out]
nodes:
  - id: n
    path: n.py
    inputs:
      x: _mod/a
      y: _mod/b
    outputs: [out]
"""


@pytest.mark.parametrize(
    ("node", "module", "message"),
    [
        (
            "module: m.yml\n    path: x.py\n    inputs: {a: s/o}",
            MODULE,
            "graph.yml:7: node 'mod': key 'path' cannot be used with `module:`",
        ),
        (
            "module: m.yml",
            MODULE,
            "graph.yml:6: node 'mod': module input 'a' is not wired",
        ),
        (
            "module: m.yml\n    inputs: {a: s/o, c: s/o}",
            MODULE,
            "node 'mod': module 'm.yml' has no input 'c' (its inputs: 'a', 'b')",
        ),
        (
            "module: ../m.yml\n    inputs: {a: s/o}",
            MODULE,
            "graph.yml:6: node 'mod': module '../m.yml' must be inside the graph's folder",
        ),
        (
            "module: m.yml\n    inputs: {a: s/o}",
            MODULE.replace("  name: m\n", "  name: m\n  colour: red\n"),
            "m.yml:3: unknown module header key 'colour'",
        ),
        (
            "module: m.yml\n    inputs: {a: s/o}",
            MODULE.replace("outputs: [out]\nnodes", "outputs: [out, other]\nnodes"),
            "m.yml:5: module output 'other' is produced by none of its nodes",
        ),
        (
            "module: m.yml\n    inputs: {a: s/o}",
            MODULE.replace("path: n.py", "module: m.yml"),
            "node 'n': module 'm.yml' includes itself",
        ),
    ],
    ids=["path", "unwired", "unknown-port", "outside", "header-key", "no-producer", "cycle"],
)
def test_module_mistakes_are_named(tmp_path, node, module, message):
    folder = tmp_path / "g"
    folder.mkdir()
    (folder / "m.yml").write_text(module.lstrip())
    (tmp_path / "m.yml").write_text(module.lstrip())
    for name in ("n.py", "s.py", "x.py"):
        (folder / name).write_text("")
    graph = folder / "graph.yml"
    graph.write_text(
        "nodes:\n  - id: s\n    path: s.py\n    outputs: [o]\n  - id: mod\n    " + node + "\n"
    )
    with pytest.raises(DescriptorError) as err:
        load_dataflow(graph)
    assert message in str(err.value)


def test_unwired_optional_input_is_dropped(tmp_path):
    (tmp_path / "m.yml").write_text(MODULE.lstrip())
    for name in ("n.py", "s.py"):
        (tmp_path / name).write_text("")
    graph = tmp_path / "graph.yml"
    graph.write_text(
        "nodes:\n  - id: s\n    path: s.py\n    outputs: [o]\n"
        "  - id: mod\n    module: m.yml\n    inputs: {a: s/o}\n"
        "  - id: t\n    path: s.py\n    inputs: {r: mod/out}\n"
    )
    dataflow = load_dataflow(graph)
    assert [i.id for i in dataflow.node("mod.n").inputs] == ["x"]
    assert dataflow.node("t").input("r").source == "mod.n/out"


def test_undeclared_port_is_named(tmp_path):
    (tmp_path / "m.yml").write_text(MODULE.replace("_mod/b", "_mod/bee").lstrip())
    for name in ("n.py", "s.py"):
        (tmp_path / name).write_text("")
    graph = tmp_path / "graph.yml"
    graph.write_text(
        "nodes:\n  - id: s\n    path: s.py\n    outputs: [o]\n"
        "  - id: mod\n    module: m.yml\n    inputs: {a: s/o}\n"
    )
    with pytest.raises(DescriptorError) as err:
        load_dataflow(graph)
    assert "m.yml:11: node 'n': input 'y' reads '_mod/bee', but the module declares no input" in (
        str(err.value)
    )


@pytest.mark.parametrize("good", [True, False])
def test_expand_module_checks_a_module_file_on_its_own(tmp_path, good):
    """`dora expand --module m.yml` (dora-rs 1.1 prints `Module file is valid: m.yml`)."""
    text = MODULE if good else MODULE.replace("path: n.py", "path: n.py\n    colour: red")
    (tmp_path / "m.yml").write_text(text.lstrip())
    (tmp_path / "n.py").write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "dora_ros.cli", "expand", "--module", "m.yml"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    if good:
        assert (result.returncode, result.stdout) == (0, "Module file is valid: m.yml\n")
    else:
        assert result.returncode == 1
        # the node's line in the module file too (m.yml:7)
        assert "module.n' (from m.yml:7): unknown key 'colour'" in result.stderr, result.stderr
