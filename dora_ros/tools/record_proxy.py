"""`dora-ros record --proxy`: record a running dataflow's outputs into MCAP through taps.

Where `record graph.yml` runs the graph with a recorder node added, `--proxy` attaches to a
dataflow that already runs (`--name NAME|UUID`, or the only one running; started with
`dora-ros run` or `dora-ros start`), as dora-rs 1.1's `record --proxy` does. It holds a tap on
each chosen output (`topic_dataflow.TapListener`: the sender is never slowed, drops are counted
where they happen) and hands each message to the same `Recorder` the recorder node uses
(`recorder_node.py`), so the file is the same MCAP: CDR under `ros2msg` schemas for ROS
messages, Arrow IPC for the rest, chunked, compressed, indexed. It records until Ctrl-C,
`--stop-after`, or the end of the dataflow.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

__all__ = ["record_proxy"]

PROGRESS_PERIOD = 2.0


def _graph_types(graphs: set[str]) -> dict[str, str]:
    """ROS types of outputs that `ros2:` nodes publish, from the graphs readable here (a
    dataflow started on other machines may have its graph elsewhere)."""
    from ..errors import DoraRosError
    from ..runtime.descriptor import load_dataflow
    from .record import published_ros_types

    types: dict[str, str] = {}
    for graph in graphs:
        path = Path(graph)
        if not graph or not path.is_file():
            continue
        try:
            types.update(published_ros_types(load_dataflow(path)))
        except DoraRosError:
            continue  # changed since: values naming their type are still written as CDR
    return types


def record_proxy(
    name: str | None, addr: str, port: int, output: Path, topics: str | None, queue_size: int,
    compression: str, stop_after: float | None,
) -> int:  # fmt: skip
    """Record until Ctrl-C, ``stop_after`` seconds or the dataflow's end; returns 0."""
    from .dataflows import DataflowClient
    from .recorder_node import MIN_PENDING, Recorder, _mib
    from .topic_dataflow import TapListener, _check_topics, report_drops
    from .topic_ros import _until_interrupted

    names = tuple(t.strip() for t in (topics or "").split(",") if t.strip())
    with DataflowClient.open(name, addr, port) as client:
        chosen = _check_topics(client, names)
        # Each machine's part names its graph: the ROS types come from them, and a dataflow of
        # one graph has it written into the file for `replay` without --graph.
        graphs = {str(a.get("graph", "")) for a in client.query_all("describe", {}).values()}
        recorder = Recorder(
            str(output), compression, max(MIN_PENDING, queue_size * len(chosen)),
            _graph_types(graphs), graph=next(iter(graphs)) if len(graphs) == 1 else None,
        )  # fmt: skip
        click.echo(
            f"dora-ros record --proxy: {len(chosen)} output(s) of dataflow {client.ref.label}"
            f" -> {output} ({compression})",
            err=True,
        )
        start = time.monotonic()
        end = None if stop_after is None else start + stop_after
        next_progress = start + PROGRESS_PERIOD
        received = 0
        try:
            with TapListener(client, chosen) as listener, _until_interrupted():
                while end is None or time.monotonic() < end:
                    now = time.monotonic()
                    if now >= next_progress:
                        click.echo(f"recording {now - start:.0f} s: {recorder.written} messages,"
                                   f" {_mib(recorder.file_bytes())} in the file", err=True)  # fmt: skip
                        next_progress = now + PROGRESS_PERIOD
                    wait = next_progress - now if end is None else min(next_progress, end) - now
                    message = listener.get(max(0.0, min(wait, 0.5)))
                    if message is None:
                        if listener.ended.is_set():
                            click.echo(f"dataflow {client.ref.label} ended", err=True)
                            break
                        continue
                    received += 1
                    recorder.offer(message.topic, message.value, message.metadata)
        finally:
            recorder.close()
        report_drops("record --proxy", listener)
    click.echo(recorder.summary(time.monotonic() - start, "not written at the end"), err=True)
    for topic, count in sorted(recorder.failed.items()):
        click.echo(f"  could not write {count} message(s) of {topic}", err=True)
    return 0
