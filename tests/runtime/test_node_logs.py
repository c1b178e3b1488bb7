"""Node log records as dora-rs 1.1 has them: levels and filters, fields, ``send_logs_as``,
``dora/logs`` inputs, ``min_log_level``, and log files rotated by ``max_log_size``.

What dora-rs 1.1 does was seen with a real ``dora run`` (dora-rs-cli 1.1.0 in the project venv):
``log_debug``/``log_trace`` are shown by default, ``min_log_level: info`` drops them at the source,
a ``dora/logs`` input gets one JSON ``LogMessage`` string per message (keys below) from every
other node, never from itself, and ``fields`` travel as a dict of strings.
"""

from __future__ import annotations

import pytest
from runflow import run_flow, write_flow

from dora_ros.errors import DescriptorError
from dora_ros.runtime.descriptor import parse_dataflow
from dora_ros.runtime.log_files import parse_size

LOGGER = """
import logging
from dora_ros import Node

node = Node()
node.log_debug("dbg message")
node.log_trace("trace message")
node.log_info("info message")
node.log("info", "with fields", None, {"k": "v", "n": 1})
node.log("warn", "with target", "my.target")
node.log_error("error message")
logging.getLogger("pylib").warning("py warning")
"""

# dora-rs 1.1's LogMessage keys, as a dora/logs subscriber gets them.
LOG_MESSAGE_KEYS = [
    "build_id", "daemon_id", "dataflow_id", "fields", "file", "level", "line", "message",
    "module_path", "node_id", "target", "timestamp",
]  # fmt: skip


def _graph(extra: str = "") -> str:
    return f"""
        nodes:
          - id: talker
            path: talker.py
            {extra}
        """


@pytest.mark.parametrize(
    ("how", "shown"),
    [
        ("default", ["DEBUG", "TRACE", "INFO", "WARN", "ERROR"]),
        ("--log-level", ["INFO", "WARN", "ERROR"]),
        ("DORA_LOG_LEVEL", ["WARN", "ERROR"]),
        ("min_log_level", ["ERROR"]),
    ],
)
def test_levels_shown_and_filtered(tmp_path, how, shown):
    flow = write_flow(
        tmp_path,
        _graph("min_log_level: error" if how == "min_log_level" else ""),
        talker=LOGGER,
    )
    args = ["--log-level", "info"] if how == "--log-level" else []
    env = {"DORA_LOG_LEVEL": "warn"} if how == "DORA_LOG_LEVEL" else None
    result = run_flow(flow, *args, env=env)
    assert result.returncode == 0, result.stderr
    log = flow.logs()["talker"]
    expected = {
        "DEBUG": "DEBUG talker: dbg message",
        "TRACE": "TRACE talker: trace message",
        "INFO": "INFO talker: with fields k=v n=1",
        "WARN": "WARNING my.target: with target",
        "ERROR": "ERROR talker: error message",
    }
    for level, line in expected.items():
        assert (line in log) == (level in shown), (level, log)
    assert ("WARNING pylib: py warning" in log) == ("WARN" in shown), log
    # What is shown on the terminal carries the node's prefix, as every node line does.
    if "ERROR" in shown:
        assert "talker: ERROR talker: error message" in result.stderr


def test_dora_logs_inputs_and_send_logs_as(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: talker
            path: talker.py
            outputs: [logs_out]
            send_logs_as: logs_out
            min_log_level: debug
          - id: other
            path: other.py
          - id: watcher
            path: watcher.py
            inputs:
              all: {source: dora/logs, queue_size: 100}
              errors: {source: dora/logs/error, queue_size: 100}
              talker_info: {source: dora/logs/info/talker, queue_size: 100}
              routed: {source: talker/logs_out, queue_size: 100}
        """,
        talker="""
        import time
        from dora_ros import Node

        node = Node()
        time.sleep(0.5)  # the watcher is listening once every node has started
        node.log_trace("dropped at the source (min_log_level: debug)")
        node.log_debug("dbg")
        node.log("info", "with fields", None, {"k": "v"})
        node.log_error("bad")
        """,
        other="""
        import logging, time
        from dora_ros import Node

        node = Node()
        time.sleep(0.5)
        logging.getLogger("other.lib").warning("careful")
        """,
        watcher="""
        import json
        from _rec import record
        from dora_ros import Node

        node = Node()
        node.log_error("the watcher's own record: never sent back to it")
        got = []
        for event in node:
            if event["type"] == "INPUT":
                (text,) = event["value"].to_pylist()
                got.append((event["id"], str(event["value"].type), json.loads(text)))
        record("watcher", got)
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    got = flow.result("watcher")
    by_input: dict[str, list[tuple[str, str, str]]] = {}
    for input_id, arrow_type, message in got:
        assert arrow_type == "string"
        assert sorted(message) == LOG_MESSAGE_KEYS
        by_input.setdefault(input_id, []).append(
            (message["node_id"], message["level"], message["message"])
        )
    talker = [
        ("talker", "DEBUG", "dbg"),
        ("talker", "INFO", "with fields"),
        ("talker", "ERROR", "bad"),
    ]
    assert sorted(by_input["all"]) == sorted([*talker, ("other", "WARN", "careful")])
    assert by_input["errors"] == [("talker", "ERROR", "bad")]
    assert by_input["talker_info"] == talker[1:]
    assert by_input["routed"] == talker
    fields = next(m for i, _, m in got if i == "routed" and m["message"] == "with fields")
    assert fields["fields"] == {"k": "v"} and fields["target"] is None
    other = next(m for i, _, m in got if i == "all" and m["node_id"] == "other")
    assert other["target"] == "other.lib"


def test_log_file_rotates_at_max_log_size(tmp_path):
    flow = write_flow(
        tmp_path,
        _graph("max_log_size: 2KB\n            max_rotated_files: 2"),
        talker="""
        for i in range(200):
            print(f"line {i:04d} " + "x" * 80)
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    (run,) = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]  # not out/latest
    names = sorted(p.name for p in run.iterdir() if p.name.startswith("log_talker"))
    assert names == ["log_talker.1.txt", "log_talker.2.txt", "log_talker.txt"]
    for name in names:
        assert (run / name).stat().st_size <= 2048
    current = (run / "log_talker.txt").read_text()
    assert "line 0199" in current  # the newest lines are in the current file


@pytest.mark.parametrize(
    ("value", "size"),
    [(1000, 1000), ("1000", 1000), ("1K", 1024), ("50MB", 50 << 20), ("1gb", 1 << 30)],
)
def test_sizes_read_as_dora_rs_reads_them(value, size):
    assert parse_size(value) == size


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("min_log_level: loud", "min_log_level 'loud' is not a log level"),
        ("max_log_size: 12XB", "max_log_size: '12XB' is not a size"),
        ("max_rotated_files: 0", "max_rotated_files must be an integer from 1 to 100 (got 0)"),
        ("send_logs_as: nope", "send_logs_as names 'nope', which is not in `outputs`"),
    ],
)
def test_log_key_mistakes_are_named(tmp_path, lines, message):
    (tmp_path / "talker.py").write_text("")
    text = f"nodes:\n  - id: talker\n    path: talker.py\n    outputs: [out]\n    {lines}\n"
    with pytest.raises(DescriptorError) as err:
        parse_dataflow(text, tmp_path / "graph.yml")
    assert f"graph.yml:5: node 'talker': {message}" in str(err.value)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("dora/logs/loud", "unknown level 'loud'"),
        ("dora/logs/info/nobody", "takes the logs of unknown node 'nobody'"),
        ("dora/logs/info/talker/x", "must read dora/logs, dora/logs/<level> or"),
    ],
)
def test_log_input_mistakes_are_named(tmp_path, source, message):
    (tmp_path / "talker.py").write_text("")
    text = f"nodes:\n  - id: talker\n    path: talker.py\n    inputs:\n      logs: {source}\n"
    with pytest.raises(DescriptorError) as err:
        parse_dataflow(text, tmp_path / "graph.yml")
    assert "graph.yml:5: node 'talker': " in str(err.value) and message in str(err.value)


@pytest.mark.parametrize("level", [None, "info"])
def test_log_level_above_stdout_keeps_printed_lines_off_the_terminal(tmp_path, level):
    """dora-rs: `--log-level info` hides `stdout` lines; the log file keeps them here."""
    flow = write_flow(
        tmp_path,
        _graph(),
        talker="""
        from dora_ros import Node

        node = Node()
        print("a printed line", flush=True)
        node.log_warn("a warning")
        """,
    )
    result = run_flow(flow, *(["--log-level", level] if level else []))
    assert result.returncode == 0, result.stderr
    assert ("talker: a printed line" in result.stdout) == (level is None), result.stdout
    assert "talker: WARNING talker: a warning" in result.stderr
    assert "a printed line" in flow.logs()["talker"]


def test_printed_lines_reach_dora_logs_as_stdout_records(tmp_path):
    """dora-rs routes what a node prints to `dora/logs` at level `stdout` (not `dora/logs/info`,
    not from a node whose min_log_level drops them)."""
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: printer
            path: printer.py
          - id: quiet
            path: printer.py
            min_log_level: info
          - id: watcher
            path: watcher.py
            inputs:
              all: {source: dora/logs, queue_size: 100}
              info: {source: dora/logs/info, queue_size: 100}
        """,
        printer="""
        import os, time
        from dora_ros import Node

        node = Node()
        time.sleep(0.5)  # the watcher listens once every node has started
        print(f"printed by {os.environ['DORA_ROS_NODE_ID']}", flush=True)
        """,
        watcher="""
        import json
        from _rec import record
        from dora_ros import Node

        got = []
        for event in Node():
            if event["type"] == "INPUT":
                message = json.loads(event["value"].to_pylist()[0])
                got.append((event["id"], message["node_id"], message["level"], message["message"]))
        record("watcher", got)
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    assert flow.result("watcher") == [("all", "printer", "STDOUT", "printed by printer")]
