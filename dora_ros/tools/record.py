"""`dora-ros record graph.yml -o run.mcap`: run a graph with a recorder node added to it.

Recording is a descriptor transformation, not a second way to run graphs: the graph is loaded
(and validated) as `dora-ros run` loads it, a node `dora-record` (`recorder_node.py`) is appended
whose inputs are the chosen outputs, and the result is run by the same supervisor `dora-ros run`
uses, from the graph's folder. What the recorder writes is described in `mcap_channels.py`.

MCAP, not dora-rs's `.drec`: Foxglove, rosbag2 (its MCAP storage) and the `mcap` tools read it,
and ROS messages in it are plain CDR under `ros2msg` schemas.

`record --proxy` attaches to a dataflow that already runs instead, through taps
(`record_proxy.py`), and writes the same MCAP with the same `Recorder`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml

from . import ToolError

__all__ = ["choose_outputs", "published_ros_types", "record", "recording_graph"]

RECORDER = Path(__file__).with_name("recorder_node.py")
DEFAULT_QUEUE_SIZE = 64
COMPRESSIONS = ("zstd", "lz4", "none")


def choose_outputs(dataflow: Any, topics: str | None) -> list[str]:
    """`node/output` names to record: every output of the graph, or those `--topics` names.

    Raises:
        ToolError: a name that is not `node/output` of the graph (with the outputs it has).
    """
    every = [f"{node.id}/{output}" for node in dataflow.nodes for output in node.outputs]
    if topics is None:
        return every
    chosen: list[str] = []
    for name in (t.strip() for t in topics.split(",")):
        if not name:
            continue
        node_id, _, output = name.partition("/")
        try:
            node = dataflow.node(node_id)
        except KeyError:
            from ..runtime.descriptor import closest

            nodes = [n.id for n in dataflow.nodes]
            raise ToolError(
                f"--topics: '{name}': no node '{node_id}' in {dataflow.path.name}"
                f"{closest(node_id, nodes)}"
            ) from None
        if output not in node.outputs:
            outputs = ", ".join(node.outputs) or "none"
            raise ToolError(
                f"--topics: '{name}': node '{node_id}' has no output '{output}' (outputs: {outputs})"
            )
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise ToolError("--topics: no output named (use node/output,node/output)")
    return chosen


def published_ros_types(dataflow: Any) -> dict[str, str]:
    """`node/output` -> ROS type, for outputs a `ros2:` node publishes on a ROS topic.

    Such values rarely name their type in their metadata (the bridge knows it from the graph);
    the recorder writes them as CDR too when they are exactly one message of that type.
    """
    from ..bridge.graph_config import parse_bridge_config

    types: dict[str, str] = {}
    for node in dataflow.nodes:
        if node.extension is None or node.extension[0] != "ros2":
            continue
        spec = parse_bridge_config(node.extension[1], node.id, node.location)
        for topic in spec.topics if spec.mode == "topics" else ():
            if topic.direction != "publish":
                continue
            try:
                source = node.input(topic.dora_id).source
            except KeyError:  # a publish topic nothing feeds
                continue
            types[source] = topic.message_type
    return types


def _free_id(doc: dict[str, Any], base: str) -> str:
    taken = {str(n.get("id")) for n in doc.get("nodes") or [] if isinstance(n, dict)}
    node_id, i = base, 1
    while node_id in taken:
        i += 1
        node_id = f"{base}-{i}"
    return node_id


def read_graph_document(path: Path) -> dict[str, Any]:
    """The graph's YAML as plain data (the file was validated by `load_dataflow` before)."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def recording_graph(
    graph: Path,
    outputs: list[str],
    output_file: Path,
    queue_size: int,
    compression: str,
    ros_types: dict[str, str],
) -> tuple[str, str]:
    """The graph's YAML text with the recorder node appended, and the recorder's node id."""
    doc = read_graph_document(graph)
    node_id = _free_id(doc, "dora-record")
    config = {
        "output": str(output_file),
        # input ids are the outputs' names, so the runtime's drop report names what was dropped
        "inputs": {name: name for name in outputs},
        "ros_types": {name: ros_types[name] for name in outputs if name in ros_types},
        "queue_size": queue_size,
        "compression": compression,
        "graph": str(graph.resolve()),
    }
    doc.setdefault("nodes", []).append(
        {
            "id": node_id,
            "path": str(RECORDER),
            "args": [json.dumps(config)],
            "inputs": {name: {"source": name, "queue_size": queue_size} for name in outputs},
        }
    )
    return yaml.safe_dump(doc, sort_keys=False), node_id


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("graph", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The MCAP file to write.",
)
@click.option(
    "--topics", default=None, help="Outputs to record, `node/output,...` (default: all of them)."
)
@click.option(
    "--queue-size",
    type=click.IntRange(min=1),
    default=DEFAULT_QUEUE_SIZE,
    show_default=True,
    help="Messages waiting for the disk per input (and in the writer) before drops.",
)
@click.option("--compression", type=click.Choice(COMPRESSIONS), default="lz4", show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace the output file if it exists.")
@click.option(
    "--stop-after", default=None, help="Stop after a duration, as `dora-ros run`: 10s, 2m."
)
@click.option(
    "--name",
    default=None,
    help="Name of the dataflow (default: generated); with --proxy, the running dataflow to"
    " record (NAME or UUID; default: the only one running).",
)
@click.option(
    "--proxy",
    is_flag=True,
    help="Record a dataflow that already runs (through taps; no GRAPH, nothing restarted).",
)
@click.option("--coordinator-addr", envvar="DORA_COORDINATOR_ADDR", default="127.0.0.1",
              show_default=True, help="Address of the coordinator (--proxy).")  # fmt: skip
@click.option("--coordinator-port", type=int, envvar="DORA_COORDINATOR_PORT", default=6013,
              show_default=True, help="Port of the coordinator (--proxy).")  # fmt: skip
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Folder for per-node logs, as `dora-ros run`.",
)
def record(
    graph: Path | None, output: Path, topics: str | None, queue_size: int, compression: str,
    overwrite: bool, stop_after: str | None, name: str | None, proxy: bool, coordinator_addr: str,
    coordinator_port: int, out_dir: Path,
) -> int:  # fmt: skip
    """Run a graph and record its outputs (and bridged ROS topics) into an MCAP file.

    ROS messages (outputs of `ros2:` nodes) are written as CDR with `ros2msg` schemas (Foxglove,
    rosbag2); other outputs as Arrow IPC with their metadata. Stop with Ctrl-C or --stop-after.
    With --proxy, record a dataflow that already runs (`run` or `start`) until Ctrl-C,
    --stop-after or its end; it is not slowed: what cannot be taken is dropped and counted.

    \b
    Example:
      $ dora-ros record graph.yml -o run.mcap --topics camera/image,imu/data --stop-after 30s
      $ dora-ros record --proxy --name arm -o arm.mcap --stop-after 10s
    """
    from ..runtime.commands import parse_duration
    from ..runtime.descriptor import load_dataflow, parse_dataflow

    stop_seconds = None
    if stop_after is not None:
        try:
            stop_seconds = parse_duration(stop_after)
        except ValueError as err:
            raise ToolError(f"--stop-after: {err}") from None
    output = output.expanduser().resolve()
    if not output.parent.is_dir():
        raise ToolError(f"{output}: folder {output.parent} does not exist")
    if output.exists() and not overwrite:
        raise ToolError(f"{output}: already exists (use --overwrite, or another -o)")
    if proxy:
        if graph is not None:
            raise ToolError("record --proxy records a running dataflow: give --name, not a graph")
        from .record_proxy import record_proxy
        from .topic_ros import run_or_exit

        return run_or_exit(record_proxy, name, coordinator_addr, coordinator_port, output, topics,
                           queue_size, compression, stop_seconds)  # fmt: skip
    if graph is None:
        raise ToolError("record: give the graph to run (or --proxy to record a running dataflow)")
    dataflow = load_dataflow(graph)  # errors name the user's file and lines
    outputs = choose_outputs(dataflow, topics)
    if not outputs:
        raise ToolError(f"{graph}: the graph has no outputs to record")
    ros_types = published_ros_types(dataflow)
    text, node_id = recording_graph(
        dataflow.path, outputs, output, queue_size, compression, ros_types
    )
    recording = parse_dataflow(text, dataflow.path)
    click.echo(
        f"dora-ros record: {len(outputs)} output(s) -> {output} ({compression}), node '{node_id}'",
        err=True,
    )
    from ..runtime.supervisor import run_dataflow

    # --stop-after counts from when every node is up, the recorder included
    return run_dataflow(recording, stop_after=stop_seconds, out_dir=out_dir, name=name,
                        stop_after_start=True)  # fmt: skip
