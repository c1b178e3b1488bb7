"""What `dora-ros graph` draws: boxes and labelled edges, built once from a dataflow or a launch.

A :class:`GraphView` is a plain, immutable description; :mod:`.graph_layout` places it and
:mod:`.graph_render` turns it into SVG, HTML or mermaid. Building one reads the dataflow through
the runtime's public descriptor (``load_dataflow``), ``ros2:`` keys through the bridge's public
``parse_bridge_config``, and a launch file through the same resolution ``dora-ros launch --print``
does (nothing is started).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["Box", "BoxKind", "Edge", "GraphView", "clip", "view_of_dataflow", "view_of_launch"]

BoxKind = Literal[
    "node",  # a dora node (python, executable)
    "dynamic",  # a dynamic node (started by hand)
    "ros",  # a ROS 2 bridge node (`ros2:` key)
    "timer",  # dora/timer/...
    "topic",  # a ROS topic a bridge subscribes or publishes
    "service",  # a ROS service a bridge serves or calls
    "action",  # a ROS action a bridge serves or calls
    "launch",  # the launch file itself
    "process",  # a process a launch file starts
    "ros_process",  # ... that is a ROS node
    "dora_process",  # ... that is a dora graph
]

_MAX_LINE = 72  # characters per line in a box, beyond that "..."


@dataclass(frozen=True)
class Box:
    """One thing drawn as a box: ``key`` is unique in its view, ``title`` is shown in bold."""

    key: str
    kind: BoxKind
    title: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Edge:
    """Data flowing from box ``source`` to box ``target``; one label line per connection."""

    source: str
    target: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class GraphView:
    """A whole picture: its title, the file it shows, the boxes in order, the edges."""

    title: str
    source: Path
    boxes: tuple[Box, ...]
    edges: tuple[Edge, ...]

    def box(self, key: str) -> Box:
        for box in self.boxes:
            if box.key == key:
                return box
        raise KeyError(key)


def clip(text: str) -> str:
    """``text`` as a box shows it: at most 72 characters (the page's table and tooltips show all)."""
    return text if len(text) <= _MAX_LINE else text[: _MAX_LINE - 3] + "..."


class _Builder:
    """Collects boxes once each and merges connections between the same two boxes."""

    def __init__(self) -> None:
        self.boxes: dict[str, Box] = {}
        self.edges: dict[tuple[str, str], list[str]] = {}

    def add(self, key: str, kind: BoxKind, title: str, lines: Sequence[str] = ()) -> str:
        if key not in self.boxes:
            self.boxes[key] = Box(key, kind, title, tuple(lines))
        return key

    def connect(self, source: str, target: str, label: str) -> None:
        labels = self.edges.setdefault((source, target), [])
        if label not in labels:
            labels.append(label)

    def view(self, title: str, source: Path) -> GraphView:
        edges = tuple(Edge(s, t, tuple(labels)) for (s, t), labels in self.edges.items())
        return GraphView(title, source, tuple(self.boxes.values()), edges)


def _timer_title(interval: float) -> str:
    if interval >= 1.0 and float(interval).is_integer():
        return f"timer {int(interval)} s"
    milliseconds = interval * 1e3
    if milliseconds >= 1.0 and abs(milliseconds - round(milliseconds)) < 1e-9:
        return f"timer {round(milliseconds)} ms"
    return f"timer {interval * 1e6:g} us"


def _bridge_boxes(builder: _Builder, node_key: str, node_id: str, config: Mapping[str, Any]) -> str:
    """The bridge node's ROS side: one box per topic, service or action, edges by direction."""
    from ..bridge.graph_config import parse_bridge_config
    from ..bridge.names import resolve_name

    spec = parse_bridge_config(config, node_id)
    ros_node = spec.node_name or node_id
    if spec.mode == "topics":
        for topic in spec.topics:
            name = resolve_name(topic.topic, spec.namespace, ros_node)
            key = builder.add(f"topic:{name}", "topic", name, (topic.message_type,))
            if topic.direction == "subscribe":
                builder.connect(key, node_key, f"ROS -> {topic.dora_id}")
            else:
                builder.connect(node_key, key, f"{topic.dora_id} -> ROS")
        return f"{len(spec.topics)} topic{'s' if len(spec.topics) != 1 else ''}"
    kind: BoxKind = "service" if spec.mode == "service" else "action"
    name = resolve_name(spec.name or "?", spec.namespace, ros_node)
    key = builder.add(f"{kind}:{name}", kind, name, (f"{kind} {spec.type_name}",))
    if spec.role == "client":
        builder.connect(node_key, key, "call" if kind == "service" else "send goal")
    else:
        builder.connect(key, node_key, "serve" if kind == "service" else "accept goals")
    return f"{kind} {spec.role}"


def view_of_dataflow(path: str | Path) -> GraphView:
    """The picture of the dataflow at ``path`` (raises DescriptorError as `dora-ros validate`)."""
    from ..runtime.descriptor import load_dataflow

    dataflow = load_dataflow(path)
    builder = _Builder()
    for node in dataflow.nodes:  # boxes in the file's order first: the layout keeps it
        key = f"node:{node.id}"
        if node.extension is not None and node.extension[0] == "ros2":
            config = node.extension[1]
            name = config.get("node_name") or node.id
            namespace = config.get("namespace") or "/"
            builder.add(key, "ros", node.id, (f"ROS 2 node {name}", f"namespace {namespace}"))
        elif node.extension is not None:
            builder.add(key, "node", node.id, (f"{node.extension[0]}: extension node",))
        elif node.kind == "dynamic":
            builder.add(key, "dynamic", node.id, ("dynamic node",))
        else:
            lines = [shlex.join([node.path or "", *node.args])]
            if node.description:
                lines.append(node.description)
            builder.add(key, "node", node.id, lines)
    for node in dataflow.nodes:
        key = f"node:{node.id}"
        if node.extension is not None and node.extension[0] == "ros2":
            summary = _bridge_boxes(builder, key, node.id, node.extension[1])
            box = builder.boxes[key]
            builder.boxes[key] = Box(key, box.kind, box.title, (*box.lines, summary))
        for spec in node.inputs:
            if spec.timer is not None:
                source = builder.add(
                    f"timer:{spec.timer.source}", "timer", _timer_title(spec.timer.interval)
                )
                builder.connect(source, key, spec.id)
            elif spec.source_node is not None:
                output = spec.source_output or ""
                label = output if output == spec.id else f"{output} -> {spec.id}"
                builder.connect(f"node:{spec.source_node}", key, label)
    return builder.view(f"dataflow {dataflow.path.name}", dataflow.path)


def view_of_launch(path: str | Path, arguments: Mapping[str, str] | None = None) -> GraphView:
    """The processes launch file ``path`` starts, resolved as `dora-ros launch --print` does.

    ``$(command ...)`` substitutions are shown, not run, and nothing is started. Raises
    LaunchError as `dora-ros launch` would.
    """
    from ..launch.action import visit
    from ..launch.command import find_launch_file
    from ..launch.context import LaunchContext
    from ..launch.executor import default_log_dir
    from ..launch.frontend_python import python_launch_api
    from ..launch.launch_description_sources import load_launch_file

    file = find_launch_file([str(path)])
    context = LaunchContext(launch_arguments=dict(arguments or {}))
    context.shared.log_dir = str(default_log_dir())
    context.shared.run_commands = False
    context.shared.printing = True
    builder = _Builder()
    root = builder.add(
        "launch", "launch", Path(file).name, [f"{k}:={v}" for k, v in (arguments or {}).items()]
    )
    try:
        with python_launch_api():
            visit(load_launch_file(file), context)
        _launch_steps(builder, root, context.steps, "start", Path(file).resolve().parent)
    finally:
        context.shared.remove_temp_dir()
    return builder.view(f"launch {Path(file).name}", Path(file).resolve())


def _short(word: str, folder: Path) -> str:
    """A path in a command line as a reader wants it: relative to the launch file, or its name."""
    if not os.path.isabs(word):
        return word
    path = Path(word)
    return str(path.relative_to(folder)) if path.is_relative_to(folder) else path.name


def _launch_steps(
    builder: _Builder, root: str, steps: Sequence[Any], label: str, folder: Path
) -> None:
    from ..launch.plan import StartProcess, StartTimer

    for step in steps:
        if isinstance(step, StartProcess):
            spec = step.spec
            lines = [shlex.join(_short(word, folder) for word in spec.cmd)]
            kind: BoxKind = "process"
            if spec.ros_node is not None:
                node, namespace = spec.ros_node
                lines.append(f"ROS 2 node {node or '<default name>'}, namespace {namespace}")
                kind = "ros_process"
            if spec.dora_nodes is not None:
                lines.append(f"dora graph: {', '.join(spec.dora_nodes)}")
                kind = "dora_process"
            if spec.respawn:
                lines.append("respawn")
            key = builder.add(f"process:{spec.name}", kind, spec.name, lines)
            builder.connect(root, key, label)
        elif isinstance(step, StartTimer):
            _launch_steps(builder, root, step.steps, f"after {step.period:g} s", folder)
