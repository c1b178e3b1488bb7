"""`deploy` and type annotations as `dora-ros run` honours them: `working_dir` is where a node
starts, a `machine` other than this one is refused until multi-machine support lands, and
`output_types`/`input_types` name real outputs/inputs and are said once to be unchecked.
"""

from __future__ import annotations

import socket

from runflow import run_flow, write_flow

WHERE = """
import os
print("cwd", os.getcwd())
"""


def test_working_dir_is_where_the_node_starts(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "top").mkdir()
    flow = write_flow(
        tmp_path,
        """
        deploy: {working_dir: top}  # the default of every node
        nodes:
          - id: inside
            path: where.py
            deploy: {working_dir: sub}
          - id: default
            path: where.py
        """,
        where=WHERE,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    assert f"inside: cwd {tmp_path / 'sub'}\n" in result.stdout
    assert f"default: cwd {tmp_path / 'top'}\n" in result.stdout


def test_a_missing_working_dir_is_a_one_line_error(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: inside
            path: where.py
            deploy: {working_dir: nowhere}
        """,
        where=WHERE,
    )
    result = run_flow(flow)
    assert result.returncode == 1
    assert result.stderr == (
        f"error: {flow.graph}:2: node 'inside': deploy working_dir '{tmp_path / 'nowhere'}' is"
        " not a folder\n"
    )


def test_another_machine_is_refused_and_this_one_runs(tmp_path):
    graph = """
        nodes:
          - id: far
            path: where.py
            deploy: {{machine: {machine}}}
        """
    flow = write_flow(tmp_path, graph.format(machine="robot-far-away"), where=WHERE)
    result = run_flow(flow)
    assert result.returncode == 1
    here = socket.gethostname()
    assert result.stderr == (
        f"error: {flow.graph}:2: node 'far': deploy machine 'robot-far-away' is not this machine"
        f" ('{here}'); dora-ros runs every node here until multi-machine support lands (remove"
        " `machine`, or run the graph on that machine)\n"
    )
    assert "cwd" not in result.stdout  # nothing started
    flow = write_flow(tmp_path, graph.format(machine=here), where=WHERE)
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    assert "far: cwd" in result.stdout


def test_type_annotations_are_checked_against_the_node_and_noted_once(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: a
            path: where.py
            outputs: [image]
            output_types: {imgae: std/primitives/v1/UInt8}
        """,
        where=WHERE,
    )
    result = run_flow(flow)
    assert result.returncode == 1
    assert result.stderr == (
        f"error: {flow.graph}:5: node 'a': `output_types` names output 'imgae', which the node"
        " does not have (did you mean 'image'?)\n"
    )
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: a
            path: where.py
            outputs: [image]
            output_types: {image: std/primitives/v1/UInt8}
          - id: b
            path: where.py
            inputs: {image: a/image}
            input_types: {image: std/primitives/v1/UInt8}
        """,
        where=WHERE,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    note = (
        "dora-ros: note: output_types/input_types of 'a', 'b' are annotations: dora-ros does not"
        " check the data against them (as dora-rs, which only warns)\n"
    )
    assert result.stderr.count(note) == 1, result.stderr
