"""`send_stdout_as`: every line a node prints reaches its subscribers, whole and in order, even
lines longer than one message and lines printed before the dataflow started.
"""

from __future__ import annotations

from runflow import run_flow, write_flow


def test_send_stdout_as_keeps_long_lines_and_lines_printed_before_start(tmp_path):
    # Before: lines printed before Node() (before the start barrier) were dropped, and a line
    # longer than 30000 characters was cut without a word.
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: talker
            path: talker.py
            outputs: [lines]
            send_stdout_as: lines
          - id: listener
            path: listener.py
            inputs: {lines: {source: talker/lines, queue_size: 100}}  # 13 messages at once
        """,
        talker="""
        print("early 0", flush=True)  # before Node(): the dataflow has not started
        print("early 1", flush=True)
        from dora_ros import Node

        node = Node()
        print("é" * 70_000, flush=True)  # 140 kB in UTF-8
        print("last", flush=True)
        """,
        listener="""
        import time
        from _rec import record
        from dora_ros import Node

        time.sleep(0.5)  # the talker's early lines are printed long before we listen
        node = Node()
        got = [e["value"].to_pylist() for e in node if e["type"] == "INPUT"]
        record("got", got)
        """,
    )
    result = run_flow(flow)
    assert result.returncode == 0, result.stderr
    got = [chunk for value in flow.result("got") for chunk in value]
    assert got[:2] == ["early 0", "early 1"]
    assert got[-1] == "last"
    long_parts = got[2:-1]
    assert len(long_parts) >= 2 and "".join(long_parts) == "é" * 70_000
