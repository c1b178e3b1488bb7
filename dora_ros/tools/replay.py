"""`dora-ros replay run.mcap [--graph graph.yml] --replace camera`: recorded outputs into a graph.

A descriptor transformation again (as `record.py`): each replaced node keeps its id and outputs
but becomes `replayer_node.py`, with no inputs, sending what the recording holds for
`<node>/<output>` at the recorded times divided by `--speed`; the graph then runs under the
supervisor of `dora-ros run`. Downstream nodes cannot tell the difference: same ids, same outputs,
same values and metadata (a ROS message decodes to the array the bridge sent).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from . import ToolError
from .record import read_graph_document

__all__ = ["recorded_topics", "replay", "replaying_graph"]

REPLAYER = Path(__file__).with_name("replayer_node.py")
MCAP_MAGIC = b"\x89MCAP0\r\n"


def recorded_topics(path: Path) -> tuple[dict[str, int], int]:
    """`node/output` -> message count in the recording, and its first log time (ns).

    Reads the summary; a recording cut short (no summary) is scanned from the start.
    """
    from mcap.exceptions import McapError
    from mcap.reader import NonSeekingReader, SeekingReader

    counts: dict[str, int] = {}
    try:
        with open(path, "rb") as stream:
            if stream.read(len(MCAP_MAGIC)) != MCAP_MAGIC:
                raise ToolError(f"{path}: not an MCAP file (it does not start with MCAP's magic)")
            stream.seek(0)
            try:
                summary = SeekingReader(stream).get_summary()
            except McapError:
                summary = None
            if summary is not None and summary.statistics is not None:
                for channel_id, count in summary.statistics.channel_message_counts.items():
                    topic = summary.channels[channel_id].topic
                    counts[topic] = counts.get(topic, 0) + count
                return counts, summary.statistics.message_start_time
            stream.seek(0)
            first: int | None = None
            try:
                for _, channel, message in NonSeekingReader(stream).iter_messages():
                    counts[channel.topic] = counts.get(channel.topic, 0) + 1
                    first = message.log_time if first is None else min(first, message.log_time)
            except McapError:
                pass  # the cut end of a killed recording
            return counts, first or 0
    except OSError as err:
        raise ToolError(f"{path}: cannot read: {err.strerror or err}") from None
    except McapError as err:
        raise ToolError(f"{path}: not an MCAP file ({err})") from None


def recorded_graph(path: Path) -> Path:
    """The graph a recording was made from (its `dora-ros` metadata record), still on disk."""
    from mcap.reader import make_reader

    from .recorder_node import GRAPH_METADATA

    try:
        with path.open("rb") as stream:
            named = [
                m.metadata.get("graph", "")
                for m in make_reader(stream).iter_metadata()
                if m.name == GRAPH_METADATA
            ]
    except Exception as err:  # a damaged file: one line, not a traceback
        raise ToolError(f"{path}: cannot read its metadata ({err}); give --graph") from None
    if not named or not named[0]:
        raise ToolError(f"{path}: names no graph (recorded by --proxy over several graphs, or by"
                        " an older dora-ros); give --graph")  # fmt: skip
    graph = Path(named[0])
    if not graph.is_file():
        raise ToolError(f"{path} was recorded from {graph}, which is not here; give --graph")
    return graph


def replaying_graph(
    graph: Path, replaced: dict[str, list[str]], mcap: Path, first: int, speed: float, loop: bool
) -> str:
    """The graph's YAML with each node of `replaced` (id -> outputs) turned into a replayer."""
    doc = read_graph_document(graph)
    nodes: list[Any] = doc.get("nodes") or []
    written = {str(raw.get("id")) for raw in nodes if isinstance(raw, dict)}
    for module_node in replaced:
        if module_node not in written:
            raise ToolError(
                f"--replace: node '{module_node}' comes from a module: node of {graph.name}; replay"
                " replaces nodes written in the graph itself"
            )
    for i, raw in enumerate(nodes):
        node_id = raw.get("id") if isinstance(raw, dict) else None
        if node_id not in replaced:
            continue
        config = {
            "mcap": str(mcap),
            "node": node_id,
            "outputs": replaced[node_id],
            "first_log_time": first,
            "speed": speed,
            "loop": loop,
        }
        nodes[i] = {
            "id": node_id,
            "path": str(REPLAYER),
            "args": [json.dumps(config)],
            "outputs": replaced[node_id],
        }
    return yaml_dump(doc)


def yaml_dump(doc: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(doc, sort_keys=False)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("recording", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--graph",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The graph to feed (default: the one the recording was made from).",
)
@click.option(
    "--replace",
    default=None,
    help="Nodes whose outputs come from the recording, `a,b` (default: every node all of whose"
    " outputs were recorded).",
)
@click.option(
    "--speed", type=float, default=1.0, show_default=True, help="Time scale: 2 is twice as fast."
)
@click.option("--loop", is_flag=True, help="Start again at the end (until stopped).")
@click.option("--stop-after", default=None, help="Stop after a duration: 10s, 2m.")
@click.option("--name", default=None, help="Name of the dataflow (default: generated).")
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Folder for per-node logs, as `dora-ros run`.",
)
def replay(
    recording: Path, graph: Path | None, replace: str | None, speed: float, loop: bool,
    stop_after: str | None, name: str | None, out_dir: Path,
) -> int:  # fmt: skip
    """Run a graph with recorded outputs in place of some of its nodes.

    \b
    Example:
      $ dora-ros replay run.mcap --replace camera,imu --speed 0.5
      $ dora-ros replay run.mcap --graph other.yml --replace camera
    """
    from ..runtime.commands import parse_duration
    from ..runtime.descriptor import closest, load_dataflow, parse_dataflow

    if not speed > 0:
        raise ToolError(f"--speed: must be more than 0, not {speed:g}")
    stop_seconds = None
    if stop_after is not None:
        try:
            stop_seconds = parse_duration(stop_after)
        except ValueError as err:
            raise ToolError(f"--stop-after: {err}") from None
    if not recording.is_file():
        raise ToolError(f"{recording}: no such file")
    if graph is None:
        graph = recorded_graph(recording)
    dataflow = load_dataflow(graph)
    counts, first = recorded_topics(recording)
    if not counts:
        raise ToolError(f"{recording}: holds no messages")
    ids = [node.id for node in dataflow.nodes]
    if replace is None:
        chosen = [
            node.id
            for node in dataflow.nodes
            if node.outputs and all(f"{node.id}/{o}" in counts for o in node.outputs)
        ]
        if not chosen:
            raise ToolError(
                f"{recording}: records no node of {graph} in full"
                f" (recorded: {', '.join(sorted(counts))}); name nodes with --replace"
            )
    else:
        chosen = [n.strip() for n in replace.split(",") if n.strip()]
    replaced: dict[str, list[str]] = {}
    for node_id in chosen:
        if node_id not in ids:
            raise ToolError(f"--replace: no node '{node_id}' in {graph}{closest(node_id, ids)}")
        outputs = list(dataflow.node(node_id).outputs)
        if not any(f"{node_id}/{o}" in counts for o in outputs):
            raise ToolError(
                f"--replace: {recording} holds no output of node '{node_id}'"
                f" (recorded: {', '.join(sorted(counts))})"
            )
        replaced[node_id] = outputs
    text = replaying_graph(dataflow.path, replaced, recording.resolve(), first, speed, loop)
    replaying = parse_dataflow(text, dataflow.path)
    total = sum(counts.get(f"{n}/{o}", 0) for n, outs in replaced.items() for o in outs)
    click.echo(
        f"dora-ros replay: {total} message(s) of {', '.join(replaced)} from {recording}"
        f" at {speed:g}x{' in a loop' if loop else ''}",
        err=True,
    )
    from ..runtime.supervisor import run_dataflow

    return run_dataflow(replaying, stop_after=stop_seconds, out_dir=out_dir, name=name)
