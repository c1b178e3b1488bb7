"""Tests of the dataflow descriptor: every key dora-rs knows, every mistake and its message.

Error cases mark the line they expect in the message with ``# <-``, so the expected line numbers
are never counted by hand. Each test writes its graph into its own folder and loads it from there,
so messages start with ``graph.yml:<line>:`` exactly as a user sees them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from dora_ros.errors import DescriptorError
from dora_ros.runtime import descriptor_keys as keys
from dora_ros.runtime import extensions
from dora_ros.runtime.descriptor import (
    Dataflow,
    NodeSpec,
    SourceLocation,
    load_dataflow,
    parse_dataflow,
    resolve_executable,
)
from dora_ros.runtime.extensions import (
    find_node_kind,
    register_node_kind,
    unregister_node_kind,
)

GRAPHS = Path(__file__).parent / "graphs"
MIRROR = Path("/work/.mirror/dora-rs+dora/repo")


@pytest.fixture
def graph_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with two node scripts, made the current directory."""
    (tmp_path / "node.py").write_text("print('hi')\n")
    (tmp_path / "sink.py").write_text("print('hi')\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load(text: str) -> Dataflow:
    """Write ``text`` to graph.yml in the current directory and load it."""
    Path("graph.yml").write_text(textwrap.dedent(text))
    return load_dataflow("graph.yml")


def error_of(text: str) -> str:
    """The message of the DescriptorError that loading ``text`` raises."""
    with pytest.raises(DescriptorError) as info:
        load(text)
    return str(info.value)


def marked_line(text: str) -> int:
    """The 1-based line of ``text`` (dedented) that carries the ``# <-`` marker."""
    lines = textwrap.dedent(text).splitlines()
    found = [number for number, line in enumerate(lines, 1) if line.rstrip().endswith("# <-")]
    assert len(found) == 1, "a case marks exactly one line"
    return found[0]


# -- a full graph: every supported key populates its field ----------------------------------------


def test_full_graph_populates_every_field() -> None:
    flow = load_dataflow(GRAPHS / "full.yml")
    assert flow.path == (GRAPHS / "full.yml").resolve()
    assert flow.working_dir == GRAPHS.resolve()
    assert [node.id for node in flow.nodes] == ["camera", "viewer", "shell", "external"]
    assert flow.env == {"LEVEL": "info", "VERBOSE": "true", "RATE": "30", "GAIN": "1"}
    assert flow.deploy == {"machine": "robot-1"}
    assert flow.raw["deploy"] == {"machine": "robot-1"}
    assert type(flow.raw) is dict and type(flow.raw["nodes"]) is list

    camera = flow.node("camera")
    assert camera.kind == "python"
    assert camera.path == "sender.py"
    assert camera.resolved_path == (GRAPHS / "sender.py").resolve()
    assert camera.name == "Camera" and camera.description == "Publishes frames"
    assert camera.args == ("--width", "640", "--title", "front camera")
    # Global env merged in, node wins; values stringified the way dora-rs does.
    assert camera.env == {
        "LEVEL": "debug",
        "VERBOSE": "true",
        "RATE": "30",
        "GAIN": "1",
        "RATIO": "0.25",
    }
    assert camera.build == "pip --version"
    intervals = {spec.id: spec.timer.interval for spec in camera.inputs if spec.timer}
    assert intervals == pytest.approx(
        {"tick": 0.1, "slow": 2.0, "fast": 0.02, "tiny": 250e-6, "nano": 500e-9}
    )
    tick = camera.input("tick")
    assert (tick.source, tick.source_node, tick.source_output) == (
        "dora/timer/millis/100",
        None,
        None,
    )
    assert tick.timer is not None and tick.timer.source == "dora/timer/millis/100"
    assert tick.queue_size == 10 and tick.input_timeout is None
    assert str(tick.location) == f"{GRAPHS / 'full.yml'}:20"
    assert camera.outputs == ("image", "stdout")
    assert camera.send_stdout_as == "stdout"
    assert camera.restart_policy.mode == "on-failure"
    assert camera.restart_policy.max_restarts == 3
    assert camera.restart_policy.restart_delay == 0.5
    assert camera.deploy == {"machine": "robot-2", "labels": {"gpu": "true"}}
    assert camera.extension is None
    assert camera.location == SourceLocation(GRAPHS / "full.yml", 10)
    assert camera.raw["output_types"] == {"image": "std/media/v1/Image"}

    viewer = flow.node("viewer")
    assert viewer.args == ("--scale", "2", "two words")
    image = viewer.input("image")
    assert (image.source_node, image.source_output, image.timer) == ("camera", "image", None)
    assert (image.queue_size, image.input_timeout) == (2, 1.5)
    assert image.location.line == 43  # the `source:` line
    assert viewer.restart_policy.mode == "always"
    assert viewer.restart_policy.max_restarts is None  # unlimited
    assert viewer.env == flow.env

    shell = flow.node("shell")
    assert shell.kind == "executable" and shell.args == ("-c", "exit 0")
    assert shell.resolved_path is not None and shell.resolved_path.name == "sh"
    assert flow.node("external").kind == "dynamic"
    assert flow.node("external").resolved_path is None

    assert flow.subscribers("camera", "image") == (
        ("viewer", "image"),
        ("shell", "image"),
        ("external", "frames"),
    )
    assert flow.subscribers("camera", "stdout") == (("viewer", "log"),)
    assert flow.subscribers("viewer", "nothing") == ()
    with pytest.raises(KeyError):
        flow.node("nobody")


def test_parse_dataflow_from_a_string(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("")
    text = "nodes:\n  - id: a\n    path: a.py\n    outputs: [x, x]\n"
    flow = parse_dataflow(text, tmp_path / "virtual.yml")
    assert flow.node("a").resolved_path == (tmp_path / "a.py").resolve()
    assert flow.node("a").outputs == ("x",)  # dora-rs keeps a set: a repeat is harmless


def test_yaml_reads_like_yaml_1_2(graph_dir: Path) -> None:
    flow = load(
        """
        env:
          ANSWER: yes
          SWITCH: on
          OCTAL: 010
          CLOCK: 1:20
          REAL: 1e3
        nodes:
          - id: a
            path: node.py
        """
    )
    # serde_yaml (dora-rs) reads YAML 1.2: these are strings and decimal numbers, not bools/octal.
    assert flow.env == {
        "ANSWER": "yes",
        "SWITCH": "on",
        "OCTAL": "10",
        "CLOCK": "1:20",
        "REAL": "1000",
    }


def test_env_values_expand_environment_variables(
    graph_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DORA_ROS_TEST_HOME", "/home/robot")
    monkeypatch.delenv("DORA_ROS_TEST_UNSET", raising=False)
    node = load(
        """
        nodes:
          - id: a
            path: node.py
            env:
              DATA: $DORA_ROS_TEST_HOME/data
              BRACED: ${DORA_ROS_TEST_HOME}x
              DEFAULT: ${DORA_ROS_TEST_UNSET:-fallback}
              PLAIN: a $ sign
        """
    ).node("a")
    assert node.env == {
        "DATA": "/home/robot/data",
        "BRACED": "/home/robotx",
        "DEFAULT": "fallback",
        "PLAIN": "a $ sign",
    }


def test_yaml_anchors_and_merge_keys(graph_dir: Path) -> None:
    flow = load(
        """
        nodes:
          - &base
            id: a
            path: node.py
            outputs: [out]
          - <<: *base
            id: b
            inputs:
              x: a/out
        """
    )
    assert flow.node("b").outputs == ("out",)
    assert flow.subscribers("a", "out") == (("b", "x"),)


def test_executables_resolve_relative_then_on_path(graph_dir: Path) -> None:
    tool = graph_dir / "bin" / "tool"
    flow = load(
        """
        nodes:
          - id: later
            path: bin/tool
            build: make tool
          - id: on-path
            path: sh
        """
    )
    later = flow.node("later")
    # Not built yet: resolution waits until run time, where a missing executable is a clear error.
    assert later.kind == "executable" and later.resolved_path is None
    with pytest.raises(DescriptorError) as info:
        resolve_executable(later, flow)
    assert str(info.value) == (
        f"graph.yml:3: node 'later': executable 'bin/tool' not found "
        f"(not in {graph_dir.resolve()}, not on PATH, not next to {sys.executable})"
    )
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n")
    with pytest.raises(DescriptorError) as info:
        resolve_executable(later, flow)
    assert str(info.value) == (
        f"graph.yml:3: node 'later': '{graph_dir.resolve()}/bin/tool' is not executable (chmod +x?)"
    )
    tool.chmod(0o755)
    assert resolve_executable(later, flow) == graph_dir.resolve() / "bin" / "tool"
    assert flow.node("on-path").resolved_path == resolve_executable(flow.node("on-path"), flow)


# -- every key dora-rs knows parses ---------------------------------------------------------------

# A value of the right shape for each node key, as dora-rs's docs show it.
NODE_KEY_VALUES: dict[str, str] = {
    "name": "Camera",
    "description": "a node",
    "path_sha256": "abc123",
    "operators": "[{id: op, python: op.py}]",
    "operator": "{python: op.py}",
    "custom": "{source: node.py}",
    "output_types": "{out: std/primitives/v1/UInt8}",
    "output_framing": "{out: arrow-ipc}",
    "input_types": "{}",
    "output_metadata": "{out: [request_id]}",
    "pattern": "service-server",
    "send_logs_as": "out",
    "min_log_level": "info",
    "max_log_size": "50MB",
    "max_rotated_files": "3",
    "build": "echo hi",
    "git": "https://github.com/dora-rs/dora.git",
    "hub": "dora-yolo@^0.5",
    "branch": "main",
    "tag": "v1.1.0",
    "rev": "64ab0d7c",
    "restart_policy": "on-failure",
    "shared_memory_pool_size": "128MB",
    "max_restarts": "5",
    "restart_delay": "1.0",
    "max_restart_delay": "30.0",
    "restart_window": "300",
    "health_check_timeout": "10.0",
    "finish_grace_secs": "60",
    "module": "modules/nav.yml",
    "params": "{speed: '2.0'}",
    "cpu_affinity": "[0, 1]",
    "startup_timeout": "30",
    "deploy": "{machine: m1}",
    "_unstable_deploy": "{machine: m1}",
    "env": "{A: b}",
    "args": "--x",
    "send_stdout_as": "out",
    "inputs": "{t: dora/timer/secs/1}",
    "outputs": "[out]",
    "ros2": "{topic: /x}",
}


def test_key_table_matches_dora_rs_1_1() -> None:
    # `dora validate` of dora-rs-cli 1.1 lists these 41 node keys for an unknown one.
    dora_1_1 = (
        "id name description path path_sha256 args env operators operator ros2 outputs "
        "output_types output_framing inputs input_types output_metadata pattern send_stdout_as "
        "send_logs_as min_log_level max_log_size max_rotated_files build git hub branch tag rev "
        "restart_policy shared_memory_pool_size max_restarts restart_delay max_restart_delay "
        "restart_window health_check_timeout finish_grace_secs module params cpu_affinity "
        "deploy startup_timeout"
    ).split()
    assert len(dora_1_1) == 41
    assert set(dora_1_1) <= set(keys.NODE_KEYS)
    # The rest are pre-1.0 keys (known to some dora-rs version, so never "unknown").
    assert set(keys.NODE_KEYS) - set(dora_1_1) == {"custom", "_unstable_deploy"}
    assert set(NODE_KEY_VALUES) == set(keys.NODE_KEYS) - {"id", "path"}


@pytest.fixture
def no_installed_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide the node kinds installed as entry points (the bridge registers `ros2`)."""
    monkeypatch.setattr(extensions, "_entry_points", dict)
    monkeypatch.setattr(extensions, "_loaded", {})


@pytest.mark.parametrize("key", sorted(NODE_KEY_VALUES))
def test_every_dora_rs_node_key_parses(graph_dir: Path, no_installed_kinds: None, key: str) -> None:
    lines = ["nodes:", "  - id: a"]
    if key != "ros2":
        lines.append("    path: node.py")
    if key != "outputs":
        lines.append("    outputs: [out]")
    lines.append(f"    {key}: {NODE_KEY_VALUES[key]}  # <-")
    text = "\n".join(lines) + "\n"
    line = marked_line(text)
    if key == "module":  # expanded before nodes are read: see test_modules.py
        assert "key 'path' cannot be used with `module:`" in error_of(text)
        return
    if key in keys.SUPPORTED_NODE_KEYS and key != "ros2":
        node = load(text).node("a")
        assert node.raw[key] is not None
        return
    message = error_of(text)
    if key == "ros2":
        assert message == (
            f"graph.yml:{line}: node 'a': key 'ros2' needs the dora-ros extension that handles "
            "it, and none is installed (nothing registers 'ros2' in the 'dora_ros.node_kinds' "
            "entry points)"
        )
    else:
        assert message == (
            f"graph.yml:{line}: node 'a': key '{key}' ({keys.NODE_KEYS[key]}) "
            "is not supported by dora-ros"
        )


def test_supported_keys_populate_fields(graph_dir: Path) -> None:
    supported = sorted(keys.SUPPORTED_NODE_KEYS - {"id", "path", "ros2", "module"})
    lines = ["nodes:", "  - id: a", "    path: node.py"]
    lines += [f"    {key}: {NODE_KEY_VALUES[key]}" for key in supported]
    node = load("\n".join(lines) + "\n").node("a")
    assert node.name == "Camera" and node.description == "a node"
    assert node.build == "echo hi" and node.args == ("--x",) and node.env == {"A": "b"}
    assert node.outputs == ("out",) and node.send_stdout_as == "out"
    assert node.input("t").timer is not None and node.input("t").timer.interval == 1.0
    assert node.restart_policy.mode == "on-failure"
    assert node.restart_policy.max_restarts == 5 and node.restart_policy.restart_delay == 1.0
    assert node.deploy == {"machine": "m1"}
    assert node.raw["output_types"] == {"out": "std/primitives/v1/UInt8"}


TOP_KEY_VALUES = {
    "env": "{A: b}",
    "deploy": "{machine: m1}",
    "debug": "{enable_debug_inspection: true}",
    "health_check_interval": "5.0",
    "strict_types": "true",
    "exit_when_nodes_finish": "true",
    "type_rules": "[{from: a/V1, to: a/V2}]",
    "communication": "{local: tcp}",
    "_unstable_deploy": "{machine: m1}",
    "_unstable_debug": "{}",
}


@pytest.mark.parametrize("key", sorted(TOP_KEY_VALUES))
def test_every_dora_rs_top_level_key_parses(graph_dir: Path, key: str) -> None:
    assert set(TOP_KEY_VALUES) == set(keys.TOP_KEYS) - {"nodes"}
    text = f"""
        {key}: {TOP_KEY_VALUES[key]}  # <-
        nodes:
          - id: a
            path: node.py
        """
    if key in DEFAULT_ONLY_TOP_KEYS:  # accepted at its default only: these values are refused
        assert error_of(text).startswith(f"graph.yml:{marked_line(text)}: key '{key}': ")
        return
    if key in keys.SUPPORTED_TOP_KEYS:
        assert load(text).raw[key] is not None
        return
    assert error_of(text) == (
        f"graph.yml:{marked_line(text)}: key '{key}' ({keys.TOP_KEYS[key]}) "
        "is not supported by dora-ros"
    )


DEFAULT_ONLY_TOP_KEYS = {
    "debug": (
        "debug inspection is not supported by dora-ros; only `enable_debug_inspection: false`"
        " (the default `dora expand` writes) is accepted"
    ),
    "health_check_interval": (
        "health checks are not supported by dora-ros; only `null` (the default `dora expand`"
        " writes) is accepted"
    ),
}


@pytest.mark.parametrize(
    "value", ["{enable_debug_inspection: false}", "{}", "null"], ids=["default", "empty", "null"]
)
def test_debug_at_its_default_is_accepted(graph_dir: Path, value: str) -> None:
    """`dora expand` writes `debug: {enable_debug_inspection: false}`: it must load."""
    load(f"debug: {value}\nhealth_check_interval: null\nnodes:\n  - id: a\n    path: node.py\n")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("debug", "{enable_debug_inspection: true}"),
        ("debug", "{other: 1}"),
        ("health_check_interval", "5.0"),
        ("health_check_interval", "1"),
    ],
)
def test_debug_and_health_check_interval_other_values_are_refused(
    graph_dir: Path, key: str, value: str
) -> None:
    text = f"""
        nodes:
          - id: a
            path: node.py
        {key}: {value}  # <-
        """
    assert error_of(text) == (
        f"graph.yml:{marked_line(text)}: key '{key}': {DEFAULT_ONLY_TOP_KEYS[key]}"
    )


# -- mistakes: each names the file, line and node, and suggests the fix ---------------------------

ERROR_CASES: dict[str, tuple[str, str]] = {
    "duplicate id": (
        """
        nodes:
          - id: a
            path: node.py
          - id: a  # <-
            path: sink.py
        """,
        "duplicate node id 'a' (first defined at line 3)",
    ),
    "unknown source node": (
        """
        nodes:
          - id: camera
            path: node.py
            outputs: [image]
          - id: plot
            path: sink.py
            inputs:
              image: camra/image  # <-
        """,
        "node 'plot': input 'image' names unknown node 'camra' (did you mean 'camera'?)",
    ),
    "undeclared output": (
        """
        nodes:
          - id: camera
            path: node.py
            outputs: [image, depth]
          - id: plot
            path: sink.py
            inputs:
              image: camera/imag  # <-
        """,
        "node 'plot': input 'image' names unknown output 'camera/imag' "
        "(node 'camera' declares 'image', 'depth') (did you mean 'image'?)",
    ),
    "output of a node without outputs": (
        """
        nodes:
          - id: camera
            path: node.py
          - id: plot
            path: sink.py
            inputs:
              tick: camera/timer/millis/x  # <-
        """,
        "node 'plot': input 'tick' names unknown output 'camera/timer/millis/x' "
        "(node 'camera' declares no outputs)",
    ),
    "timer not a number": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              tick: dora/timer/millis/abc  # <-
        """,
        "node 'a': input 'tick': timer 'dora/timer/millis/abc': millis must be a positive integer",
    ),
    "timer unknown unit": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              tick: dora/timer/weeks/3  # <-
        """,
        "node 'a': input 'tick': timer 'dora/timer/weeks/3': unknown unit 'weeks' "
        "(use secs, millis, micros, nanos or hz)",
    ),
    "timer unit typo": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              tick: dora/timer/milis/3  # <-
        """,
        "node 'a': input 'tick': timer 'dora/timer/milis/3': unknown unit 'milis' "
        "(use secs, millis, micros, nanos or hz) (did you mean 'millis'?)",
    ),
    "timer zero": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              tick: dora/timer/secs/0  # <-
        """,
        "node 'a': input 'tick': timer 'dora/timer/secs/0': secs must be a positive integer",
    ),
    "timer negative": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              tick: dora/timer/millis/-5  # <-
        """,
        "node 'a': input 'tick': timer 'dora/timer/millis/-5': millis must be a positive integer",
    ),
    "timer fractional secs": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              tick: dora/timer/secs/1.5  # <-
        """,
        "node 'a': input 'tick': timer 'dora/timer/secs/1.5': secs must be a positive integer",
    ),
    "timer unicode digit": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              tick: dora/timer/millis/²  # <-
        """,
        "node 'a': input 'tick': timer 'dora/timer/millis/²': millis must be a positive integer",
    ),
    "timer hz infinite": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              tick: dora/timer/hz/1e400  # <-
        """,
        "node 'a': input 'tick': timer 'dora/timer/hz/1e400': hz must be a positive number",
    ),
    "timer hz zero": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              tick: dora/timer/hz/0  # <-
        """,
        "node 'a': input 'tick': timer 'dora/timer/hz/0': hz must be a positive number",
    ),
    "timer hz negative": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              tick: {source: dora/timer/hz/-2}  # <-
        """,
        "node 'a': input 'tick': timer 'dora/timer/hz/-2': hz must be a positive number",
    ),
    "timer without value": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              tick: dora/timer/millis  # <-
        """,
        "node 'a': input 'tick': timer 'dora/timer/millis' must give a unit and a value "
        "(e.g. dora/timer/millis/100, dora/timer/secs/5, dora/timer/hz/30)",
    ),
    "unknown dora input": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              tick: dora/clock/1  # <-
        """,
        "node 'a': input 'tick': unknown dora input 'dora/clock/1' (dora inputs are"
        " dora/timer/secs|millis|micros|nanos|hz/<value> and dora/logs[/<level>[/<node>]])",
    ),
    "dora logs input with an unknown level": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              logs: dora/logs/infos  # <-
        """,
        "node 'a': input 'logs': log input 'dora/logs/infos': unknown level 'infos' (use stdout,"
        " trace, debug, info, warn, error) (did you mean 'info'?)",
    ),
    "source without slash": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              x: camera  # <-
        """,
        "node 'a': input 'x': source 'camera' must read '<node>/<output>' "
        "or 'dora/timer/<unit>/<value>'",
    ),
    "source not a string": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              x: 42  # <-
        """,
        "node 'a': input 'x': source must be a string like 'node/output'",
    ),
    "queue_size zero": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              x:
                source: dora/timer/secs/1
                queue_size: 0  # <-
        """,
        "node 'a': input 'x': queue_size must be an integer >= 1 (got 0)",
    ),
    "queue_size text": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              x: {source: dora/timer/secs/1, queue_size: ten}  # <-
        """,
        "node 'a': input 'x': queue_size must be an integer >= 1 (got 'ten')",
    ),
    "queue_size float": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              x:
                source: dora/timer/secs/1
                queue_size: 2.5  # <-
        """,
        "node 'a': input 'x': queue_size must be an integer >= 1 (got 2.5)",
    ),
    "input_timeout negative": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              x:
                source: dora/timer/secs/1
                input_timeout: -1  # <-
        """,
        "node 'a': input 'x': input_timeout must be a number of seconds > 0 (got -1)",
    ),
    "input_timeout text": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              x:
                source: dora/timer/secs/1
                input_timeout: soon  # <-
        """,
        "node 'a': input 'x': input_timeout must be a number of seconds > 0 (got 'soon')",
    ),
    "queue_policy backpressure": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              x:
                source: dora/timer/secs/1
                queue_policy: backpressure  # <-
        """,
        "node 'a': input 'x': queue_policy 'backpressure' is not supported by dora-ros "
        "(only 'drop_oldest')",
    ),
    "input key typo": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              x:
                source: dora/timer/secs/1
                queue_sise: 3  # <-
        """,
        "node 'a': unknown input key 'queue_sise' (did you mean 'queue_size'?)",
    ),
    "input without source": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              x:  # <-
                queue_size: 3
        """,
        "node 'a': input 'x' has no `source`",
    ),
    "bad input id": (
        """
        nodes:
          - id: a
            path: node.py
            inputs:
              "my input": dora/timer/secs/1  # <-
        """,
        "node 'a': input id 'my input' may only contain letters, digits, '_', '-', '.' and '/'",
    ),
    "restart_policy unknown": (
        """
        nodes:
          - id: a
            path: node.py
            restart_policy: on_failure  # <-
        """,
        "node 'a': restart_policy must be one of never, on-failure, always (got 'on_failure') "
        "(did you mean 'on-failure'?)",
    ),
    "max_restarts negative": (
        """
        nodes:
          - id: a
            path: node.py
            max_restarts: -1  # <-
        """,
        "node 'a': max_restarts must be an integer >= 0, 0 meaning unlimited (got -1)",
    ),
    "max_restarts text": (
        """
        nodes:
          - id: a
            path: node.py
            max_restarts: many  # <-
        """,
        "node 'a': max_restarts must be an integer >= 0, 0 meaning unlimited (got 'many')",
    ),
    "restart_delay negative": (
        """
        nodes:
          - id: a
            path: node.py
            restart_delay: -0.5  # <-
        """,
        "node 'a': restart_delay must be a number of seconds >= 0 (got -0.5)",
    ),
    "missing path": (
        """
        nodes:
          - id: a  # <-
            outputs: [x]
        """,
        "node 'a': `path` is missing (a .py file, an executable, or `dynamic`)",
    ),
    "python path missing": (
        """
        nodes:
          - id: a
            path: nodes/missing.py  # <-
        """,
        "node 'a': path 'nodes/missing.py' does not exist (looked in {dir}/nodes)",
    ),
    "empty path": (
        """
        nodes:
          - id: a
            path: ""  # <-
        """,
        "node 'a': `path` must be a non-empty string (got '')",
    ),
    "url path": (
        """
        nodes:
          - id: a
            path: https://example.com/node  # <-
        """,
        "node 'a': a URL as `path` is not supported by dora-ros: download it",
    ),
    "node key typo": (
        """
        nodes:
          - id: a
            path: node.py
            input:  # <-
              x: dora/timer/secs/1
        """,
        "node 'a': unknown key 'input' (did you mean 'inputs'?)",
    ),
    "node key typo 2": (
        """
        nodes:
          - id: a
            path: node.py
            ouputs: [x]  # <-
        """,
        "node 'a': unknown key 'ouputs' (did you mean 'outputs'?)",
    ),
    "node key nonsense": (
        """
        nodes:
          - id: a
            path: node.py
            zzz: 1  # <-
        """,
        "node 'a': unknown key 'zzz'",
    ),
    "top key typo": (
        """
        node:  # <-
          - id: a
            path: node.py
        """,
        "unknown key 'node' (did you mean 'nodes'?)",
    ),
    "no nodes": (
        """
        env: {A: b}  # <-
        """,
        "`nodes` must be a list of nodes",
    ),
    "not a mapping": (
        """
        - id: a  # <-
        """,
        "a dataflow file must be a mapping with a `nodes` list",
    ),
    "node not a mapping": (
        """
        nodes:
          - a  # <-
        """,
        "each entry of `nodes` must be a mapping with an `id`",
    ),
    "missing id": (
        """
        nodes:
          - path: node.py  # <-
        """,
        "node without an `id`",
    ),
    "id with slash": (
        """
        nodes:
          - id: cam/front  # <-
            path: node.py
        """,
        "node id 'cam/front' may only contain letters, digits, '_', '-' and '.' "
        "and must not start with '.'",
    ),
    "id dora": (
        """
        nodes:
          - id: dora  # <-
            path: node.py
        """,
        "node id 'dora' is reserved for built-in inputs (dora/timer/...)",
    ),
    "send_stdout_as undeclared": (
        """
        nodes:
          - id: a
            path: node.py
            outputs: [log]
            send_stdout_as: logs  # <-
        """,
        "node 'a': send_stdout_as names 'logs', which is not in `outputs` (did you mean 'log'?)",
    ),
    "args mapping": (
        """
        nodes:
          - id: a
            path: node.py
            args: {x: 1}  # <-
        """,
        "node 'a': `args` must be a string or a list of strings",
    ),
    "args unbalanced quote": (
        """
        nodes:
          - id: a
            path: node.py
            args: --title "front  # <-
        """,
        "node 'a': `args` cannot be split: No closing quotation",
    ),
    "env null": (
        """
        nodes:
          - id: a
            path: node.py
            env:
              A:  # <-
        """,
        "node 'a': env 'A' must be a string, number or boolean",
    ),
    "global env list": (
        """
        env: [A, B]  # <-
        nodes:
          - id: a
            path: node.py
        """,
        "`env` must be a mapping of names to values",
    ),
    "env unset variable": (
        """
        nodes:
          - id: a
            path: node.py
            env:
              A: ${DORA_ROS_TEST_SURELY_UNSET}/x  # <-
        """,
        "node 'a': env 'A': environment variable 'DORA_ROS_TEST_SURELY_UNSET' is not set",
    ),
    "deploy key typo": (
        """
        nodes:
          - id: a
            path: node.py
            deploy:
              machin: m1  # <-
        """,
        "node 'a': unknown deploy key 'machin' (did you mean 'machine'?)",
    ),
    "duplicate yaml key": (
        """
        nodes:
          - id: a
            path: node.py
            path: sink.py  # <-
        """,
        "invalid YAML: duplicate key 'path'",
    ),
    "invalid yaml": (
        """
        nodes:
          - id: a
            inputs: {x: a/b  # <-
        """,
        "invalid YAML: did not find expected ',' or '}' (while parsing a flow mapping)",
    ),
    "unclosed quote": (
        """
        nodes:
          - id: a
            path: "node.py  # <-
        """,
        "invalid YAML: found unexpected end of stream (while scanning a quoted scalar)",
    ),
    "bad indentation": (
        """
        nodes:
          - id: a
            path: node.py
           outputs: [x]  # <-
        """,
        "invalid YAML: did not find expected '-' indicator (while parsing a block collection)",
    ),
    "ros2 together with path": (
        """
        nodes:
          - id: a
            path: node.py  # <-
            fake_kind: {topic: /x}
        """,
        "node 'a': a 'fake_kind' node has no `path`",
    ),
    "build for an extension node": (
        """
        nodes:
          - id: a
            fake_kind: {topic: /x}
            build: make  # <-
        """,
        "node 'a': a 'fake_kind' node has no `build`",
    ),
    "extension config not a mapping": (
        """
        nodes:
          - id: a
            fake_kind: /x  # <-
        """,
        "node 'a': `fake_kind` must be a mapping",
    ),
    "extension rejects its config": (
        """
        nodes:
          - id: a
            fake_kind:  # <-
              direction: sideways
        """,
        "node 'a': fake_kind key 'direction': 'sideways' is not subscribe or publish",
    ),
}


class FakeKind:
    """A NodeKind like the bridge's: subscribed topics become outputs."""

    def validate(self, config: Mapping[str, Any], node_id: str, location: SourceLocation) -> None:
        direction = config.get("direction", "subscribe")
        if direction not in ("subscribe", "publish"):
            raise DescriptorError(
                f"{location}: node '{node_id}': fake_kind key 'direction': "
                f"'{direction}' is not subscribe or publish"
            )

    def implied_outputs(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(config.get("subscribe", ()))

    def implied_inputs(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(config.get("publish", ()))

    def command(self, node: NodeSpec, dataflow: Dataflow) -> list[str]:
        return [sys.executable, "-c", f"print({node.id!r})"]


@pytest.fixture
def fake_kind() -> Iterator[FakeKind]:
    kind = FakeKind()
    register_node_kind("fake_kind", kind)
    yield kind
    unregister_node_kind("fake_kind")


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_mistakes_name_file_line_node(graph_dir: Path, fake_kind: FakeKind, case: str) -> None:
    text, expected = ERROR_CASES[case]
    expected = expected.replace("{dir}", str(graph_dir.resolve()))
    assert error_of(text) == f"graph.yml:{marked_line(text)}: {expected}"


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(DescriptorError) as info:
        load_dataflow(tmp_path / "nope.yml")
    assert str(info.value) == f"{tmp_path / 'nope.yml'}: cannot read: No such file or directory"


# -- extension node kinds -------------------------------------------------------------------------


def test_extension_node_gets_implied_outputs(graph_dir: Path, fake_kind: FakeKind) -> None:
    flow = load(
        """
        nodes:
          - id: bridge
            fake_kind:
              subscribe: [pose, scan]
              publish: [cmd_vel]
            outputs: [status]
            inputs:
              cmd_vel: planner/cmd
          - id: planner
            path: node.py
            outputs: [cmd]
            inputs:
              pose: bridge/pose
              scan: bridge/scan
        """
    )
    bridge = flow.node("bridge")
    assert bridge.kind == "extension" and bridge.path is None and bridge.resolved_path is None
    assert bridge.extension == (
        "fake_kind",
        {"subscribe": ["pose", "scan"], "publish": ["cmd_vel"]},
    )
    assert bridge.outputs == ("status", "pose", "scan")
    assert flow.subscribers("bridge", "scan") == (("planner", "scan"),)
    assert find_node_kind("fake_kind") is fake_kind
    assert fake_kind.command(bridge, flow)[-1] == "print('bridge')"


def test_node_kind_from_a_real_entry_point(tmp_path: Path) -> None:
    """A kind installed as a distribution with an entry point is found, in a fresh interpreter."""
    site = tmp_path / "site"
    dist = site / "dora_ros_fake_ext-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: dora-ros-fake-ext\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[dora_ros.node_kinds]\nfake_ep = dora_ros_fake_ext:KIND\nbroken_ep = no_such_module:X\n"
    )
    (site / "dora_ros_fake_ext.py").write_text(
        textwrap.dedent(
            """
            class _Kind:
                def validate(self, config, node_id, location):
                    pass
                def implied_outputs(self, config):
                    return tuple(config["topics"])
                def implied_inputs(self, config):
                    return ()
                def command(self, node, dataflow):
                    return ["true"]
            KIND = _Kind()
            """
        )
    )
    (tmp_path / "graph.yml").write_text(
        "nodes:\n  - id: a\n    fake_ep: {topics: [odom]}\n  - id: b\n    broken_ep: {}\n"
    )
    script = textwrap.dedent(
        """
        import sys
        from dora_ros.errors import DescriptorError
        from dora_ros.runtime.descriptor import load_dataflow
        try:
            load_dataflow(sys.argv[1])
        except DescriptorError as err:
            print(err)
        sys.argv[1] = sys.argv[1].replace("graph", "good")
        print(load_dataflow(sys.argv[1]).node("a").outputs)
        """
    )
    (tmp_path / "good.yml").write_text("nodes:\n  - id: a\n    fake_ep: {topics: [odom]}\n")
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "graph.yml")],
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines == [
        f"{tmp_path / 'graph.yml'}:5: node 'b': key 'broken_ep' needs the dora-ros extension "
        "that handles it, and none is installed (nothing registers 'broken_ep' in the "
        "'dora_ros.node_kinds' entry points)",
        "('odom',)",
    ]
    assert "cannot load dora-ros node kind 'broken_ep'" in result.stderr


# -- graphs written for dora-rs -------------------------------------------------------------------


def _mirror_examples() -> list[str]:
    if not MIRROR.is_dir():
        return []
    names = subprocess.run(
        ["git", "-C", str(MIRROR), "ls-tree", "-r", "--name-only", "HEAD", "examples"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    return [n for n in names if n.endswith((".yml", ".yaml")) and "/modules/" not in n]


@pytest.mark.skipif(not MIRROR.is_dir(), reason="needs the dora-rs source snapshot")
def test_dora_rs_examples_load_or_say_what_is_unsupported(
    tmp_path: Path, fake_kind: FakeKind
) -> None:
    """Every example graph of dora-rs loads, or fails only with "not supported by dora-ros".

    The examples are extracted (not copied into this repository) so their node files exist.
    """
    register_node_kind("ros2", fake_kind)  # what the bridge registers; its own tests check it
    try:
        archive = subprocess.run(
            ["git", "-C", str(MIRROR), "archive", "HEAD", "examples"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive, check=True)
        loaded, unsupported = 0, 0
        for name in _mirror_examples():
            if "nodes:" not in (tmp_path / name).read_text():
                continue  # not a dataflow (CI configs, node manifests)
            try:
                load_dataflow(tmp_path / name)
                loaded += 1
            except DescriptorError as err:
                message = str(err)
                # Three examples are broken for dora-rs too (`dora validate` rejects them alike).
                broken = {
                    "hub-dataflow/dataflow.yml": "path 'camera.py' does not exist",
                    "yaml-bridge/dataflow-zenoh.yml": "names unknown node 'planner'",
                    "/yaml-bridge/dataflow.yml": "names unknown node 'requester'",
                }
                expected = next((v for k, v in broken.items() if name.endswith(k)), None)
                assert "is not supported by dora-ros" in message or (
                    expected is not None and expected in message
                ), message
                unsupported += 1
        assert loaded >= 50 and unsupported >= 10
    finally:
        unregister_node_kind("ros2")


def test_console_scripts_of_the_running_venv_are_found_without_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Node-hub packages install console scripts next to the venv's python; `dora-ros run` from
    # that venv finds them even when the venv is not activated (its bin/ not on PATH).
    monkeypatch.setenv("PATH", str(tmp_path))
    flow = parse_dataflow("nodes:\n  - id: tool\n    path: dora-ros\n", tmp_path / "graph.yml")
    found = resolve_executable(flow.node("tool"), flow)
    assert found == Path(sys.executable).parent / "dora-ros"
