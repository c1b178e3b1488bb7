"""``Node.dataflow_descriptor()`` returns the descriptor dora-rs 1.1 gives its nodes.

The expected values below are what a node printed with dora-rs 1.1 (``dora run`` of dora-rs-cli
1.1.0 in the project venv, node code ``json.dump(Node().dataflow_descriptor(), ...)``) for the same
two graphs; ``json`` turned its ``None`` into ``null`` and back, nothing else was changed.
"""

from __future__ import annotations

import copy
import textwrap

from runflow import run_flow, write_flow

from dora_ros.runtime.descriptor_yaml import load_yaml, plain
from dora_ros.runtime.node_descriptor import normalise_descriptor

# Every node key dora-rs writes back, logging keys too (dora-rs refuses `deploy:` under `dora run`).
GRAPH_KEYS = """
env:
  TOP: "1"
nodes:
  - id: full
    name: Full node
    description: has every key
    path: d.py
    args: --flag value
    build: echo hi
    env:
      A: "x"
      N: 3
    inputs:
      tick: dora/timer/millis/100
      long:
        source: plain/out
        queue_size: 5
        input_timeout: 2.5
      hz: dora/timer/hz/2
    outputs: [z, a, m]
    send_stdout_as: m
    restart_policy: on-failure
    max_restarts: 3
    restart_delay: 0.5
    min_log_level: debug
    max_log_size: 10MB
    max_rotated_files: 3
    send_logs_as: a
  - id: plain
    path: p.py
    outputs: [out]
    inputs:
      t: dora/timer/secs/1
"""

DORA_RS_KEYS = {
    "nodes": [
        {
            "id": "full",
            "name": "Full node",
            "description": "has every key",
            "path": "d.py",
            "args": "--flag value",
            "env": {"A": "x", "N": 3},
            "outputs": ["a", "m", "z"],
            "inputs": {
                "hz": "dora/timer/millis/500",
                "long": {"source": "plain/out", "queue_size": 5, "input_timeout": 2.5},
                "tick": "dora/timer/millis/100",
            },
            "send_stdout_as": "m",
            "send_logs_as": "a",
            "min_log_level": "debug",
            "max_log_size": "10MB",
            "max_rotated_files": 3,
            "build": "echo hi",
            "restart_policy": "on-failure",
            "max_restarts": 3,
            "restart_delay": 0.5,
            "deploy": None,
        },
        {
            "id": "plain",
            "name": None,
            "description": None,
            "path": "p.py",
            "env": None,
            "outputs": ["out"],
            "inputs": {"t": "dora/timer/secs/1"},
            "restart_policy": "never",
            "max_restarts": 0,
            "deploy": None,
        },
    ],
    "deploy": None,
    "debug": {"enable_debug_inspection": False},
    "health_check_interval": None,
    "env": {"TOP": 1},
}

# Timer units, long-form inputs with and without a queue, top-level debug/health_check_interval.
GRAPH_TIMERS = """
nodes:
  - id: a
    path: d.py
    args: --x 1
    env:
      B: true
      F: 1.5
    inputs:
      only_source:
        source: b/out
      only_timeout:
        source: b/out
        input_timeout: 3
      policy:
        source: b/out
        queue_size: 4
        queue_policy: backpressure
      t1: dora/timer/millis/1000
      t2: dora/timer/hz/3
      t3: dora/timer/secs/2
      t4:
        source: dora/timer/hz/10
        queue_size: 1
      t5: dora/timer/micros/250
    outputs:
      - z
    restart_policy: always
  - id: b
    path: p.py
    outputs: [out]
    inputs:
      t: dora/timer/secs/1
    restart_policy: on-failure
health_check_interval: 5
debug:
  enable_debug_inspection: false
"""

DORA_RS_TIMERS = {
    "nodes": [
        {
            "id": "a",
            "name": None,
            "description": None,
            "path": "d.py",
            "args": "--x 1",
            "env": {"B": True, "F": 1.5},
            "outputs": ["z"],
            "inputs": {
                "only_source": "b/out",
                "only_timeout": {"source": "b/out", "input_timeout": 3.0},
                "policy": {"source": "b/out", "queue_size": 4, "queue_policy": "backpressure"},
                "t1": "dora/timer/secs/1",
                "t2": "dora/timer/nanos/333333333",
                "t3": "dora/timer/secs/2",
                "t4": {"source": "dora/timer/millis/100", "queue_size": 1},
                "t5": "dora/timer/micros/250",
            },
            "restart_policy": "always",
            "max_restarts": 0,
            "deploy": None,
        },
        {
            "id": "b",
            "name": None,
            "description": None,
            "path": "p.py",
            "env": None,
            "outputs": ["out"],
            "inputs": {"t": "dora/timer/secs/1"},
            "restart_policy": "on-failure",
            "max_restarts": 0,
            "deploy": None,
        },
    ],
    "deploy": None,
    "debug": {"enable_debug_inspection": False},
    "health_check_interval": 5.0,
}


def _normalised(graph: str) -> object:
    return normalise_descriptor(plain(load_yaml(textwrap.dedent(graph))))


def test_normalised_descriptor_matches_dora_rs_for_every_key():
    assert _normalised(GRAPH_KEYS) == DORA_RS_KEYS


def test_normalised_descriptor_matches_dora_rs_for_timers_and_inputs():
    assert _normalised(GRAPH_TIMERS) == DORA_RS_TIMERS


def test_node_gets_the_normalised_descriptor(tmp_path):
    """End to end: what a node's dataflow_descriptor() returns in a dora-ros run."""
    # The default interval (dora-ros refuses others), and no queue_policy (not implemented).
    graph = GRAPH_TIMERS.replace("health_check_interval: 5", "health_check_interval: null")
    graph = graph.replace("        queue_policy: backpressure\n", "")
    graph = graph.replace("restart_policy: always", "restart_policy: on-failure")  # d.py exits
    expected = copy.deepcopy(DORA_RS_TIMERS)
    expected["health_check_interval"] = None
    del expected["nodes"][0]["inputs"]["policy"]["queue_policy"]
    expected["nodes"][0]["restart_policy"] = "on-failure"
    flow = write_flow(
        tmp_path,
        graph,
        d="""
        from _rec import record
        from dora_ros import Node

        record("descriptor", Node().dataflow_descriptor())
        """,
        p="""
        from dora_ros import Node

        node = Node()
        for event in node:
            break
        """,
    )
    result = run_flow(flow, "--stop-after", "3s")
    assert result.returncode == 0, result.stderr
    assert flow.result("descriptor") == expected
