"""`dora-ros topic list|echo|hz|info|pub`: the click group, with dora-rs 1.1's option names.

Without `--ros` each verb works on the outputs (`node/output`) of a running dataflow, started
with `dora-ros run` or `dora-ros start` (`-d/--dataflow`, `topic_dataflow.py`: taps through the
dataflow API); with `--ros` on ROS 2 topics (`topic_ros.py`).
"""

from __future__ import annotations

from typing import Any

import click

from . import ToolError

__all__ = ["topic"]

_WAIT_HELP = "Seconds to wait for discovery of the ROS graph."


def _seconds(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise click.BadParameter(f"must be more than 0, not {value:g}")
    return value


def _one_ros_topic(names: tuple[str, ...], what: str) -> str:
    if len(names) != 1:
        raise ToolError(f"topic {what} --ros: give one ROS 2 topic, like /chatter")
    return names[0]


def _no_dataflow(dataflow: str | None, what: str) -> None:
    if dataflow is not None:
        raise ToolError(f"topic {what}: -d/--dataflow names a dataflow; --ros works on ROS 2")


def _live(func: Any) -> Any:
    """-d/--dataflow and the coordinator's address (tools/dataflows.py)."""
    from .dataflows import dataflow_options

    return dataflow_options(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def topic() -> None:
    """List, echo, measure, describe and publish topics.

    A topic is an output `node/output` of a running dataflow (`-d NAME|UUID`, or the only one
    running), or with --ros a ROS 2 topic.

    \b
    Examples:
      dora-ros topic list -d arm
      dora-ros topic echo -d arm camera/image --count 1 --metadata
      dora-ros topic hz -d arm imu/data --duration 5
      dora-ros topic info -d arm camera/image
      dora-ros topic pub -d arm planner/goal '{"x": 1.0, "y": 2.0}'
      dora-ros topic list --ros
      dora-ros topic echo --ros /chatter --count 3
      dora-ros topic hz --ros /camera/image --duration 5
      dora-ros topic info --ros /chatter
      dora-ros topic pub --ros /chatter std_msgs/msg/String '{"data": "hi"}' --count 3 --rate 2
    """


_ros = click.option("--ros", is_flag=True, help="ROS 2 topics (through the bridge's backend).")
_topics = click.argument("names", metavar="[TOPIC]...", nargs=-1)
_wait = click.option("--wait", type=float, default=3.0, show_default=True, help=_WAIT_HELP)
_format = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="`json`: one JSON object per line.",
)


@topic.command("list")
@_ros
@_live
@_format
@_wait
def list_(
    ros: bool, dataflow: str | None, coordinator_addr: str, coordinator_port: int, fmt: str,
    wait: float,
) -> int:  # fmt: skip
    """List the outputs of a running dataflow with their subscribers (ROS 2 topics with --ros).

    \b
    Example:
      $ dora-ros topic list -d live
      listener/heard  -
      talker/count    listener/count (queue 4)
      $ dora-ros topic list --ros
      /chatter           std_msgs/msg/String
      /parameter_events  rcl_interfaces/msg/ParameterEvent
      /rosout            rcl_interfaces/msg/Log
    """
    from .topic_ros import run_or_exit

    if not ros:
        from .topic_dataflow import list_topics as list_live

        return run_or_exit(list_live, dataflow, coordinator_addr, coordinator_port, fmt)
    from .topic_ros import list_topics

    return run_or_exit(list_topics, fmt, wait)


@topic.command()
@_topics
@_ros
@_live
@click.option("--count", type=click.IntRange(min=1), default=None, help="Exit after N messages.")
@click.option(
    "--duration", type=float, default=None, callback=_seconds, help="Exit after S seconds."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["yaml", "table", "json"]),
    default="yaml",
    show_default=True,
    help="`yaml` (`table` is the same): YAML-like blocks separated by ---; `json`: one object"
    " per line.",
)
@click.option("--raw", is_flag=True, help="Print long arrays in full (default: summarised).")
@click.option("--metadata", is_flag=True, help="Print each message's metadata too (dataflows).")
@_wait
def echo(
    names: tuple[str, ...], ros: bool, dataflow: str | None, coordinator_addr: str,
    coordinator_port: int, count: int | None, duration: float | None, fmt: str, raw: bool,
    metadata: bool, wait: float,
) -> int:  # fmt: skip
    """Print the messages of outputs of a running dataflow (all without TOPIC), decoded.

    A tap on each output exists while this runs; it never slows the sender. Messages a slow
    terminal cannot take are dropped and counted (one line on stderr at the end).

    \b
    Example:
      $ dora-ros topic echo -d live talker/count --count 1 --metadata
      - 42
      metadata:
        timestamp: "2026-12-07T09:10:11.123456+00:00"
      ---
      $ dora-ros topic echo --ros /chatter --count 1
      data: hello 7
      ---
    """
    from .topic_ros import run_or_exit

    if not ros:
        from .topic_dataflow import echo as echo_live

        return run_or_exit(echo_live, dataflow, coordinator_addr, coordinator_port, names, count,
                           duration, fmt, raw, metadata)  # fmt: skip
    _no_dataflow(dataflow, "echo")
    from .topic_ros import echo as echo_ros

    name = _one_ros_topic(names, "echo")
    return run_or_exit(echo_ros, name, count, duration, fmt, raw, wait)


@topic.command()
@_topics
@_ros
@_live
@click.option(
    "--window",
    type=float,
    default=10.0,
    show_default=True,
    callback=_seconds,
    help="Sliding window in seconds (as dora topic hz).",
)
@click.option(
    "--duration", type=float, default=None, callback=_seconds, help="Exit after S seconds."
)
@_format
@_wait
def hz(
    names: tuple[str, ...], ros: bool, dataflow: str | None, coordinator_addr: str,
    coordinator_port: int, window: float, duration: float | None, fmt: str, wait: float,
) -> int:  # fmt: skip
    """Print the rate, period statistics and bandwidth of outputs every second.

    For a dataflow the periods are between send times, so the figures are the sender's.

    \b
    Example:
      $ dora-ros topic hz -d live talker/count --duration 3
      talker/count: average rate: 50.012 Hz
              min: 0.019023s max: 0.021102s std dev: 0.000341s window: 148
              bandwidth: 400 B/s, message size mean 8 B min 8 B max 8 B
      $ dora-ros topic hz --ros /chatter --duration 3
      /chatter: average rate: 10.001 Hz
              min: 0.099512s max: 0.100611s std dev: 0.000252s window: 11
              bandwidth: 240 B/s, message size mean 24 B min 24 B max 24 B
    """
    from .topic_ros import run_or_exit

    if not ros:
        from .topic_dataflow import hz as hz_live

        return run_or_exit(hz_live, dataflow, coordinator_addr, coordinator_port, names, window,
                           duration, fmt)  # fmt: skip
    _no_dataflow(dataflow, "hz")
    from .topic_ros import hz as hz_ros

    return run_or_exit(hz_ros, _one_ros_topic(names, "hz"), window, duration, fmt, wait)


@topic.command()
@_topics
@_ros
@_live
@click.option(
    "--duration",
    type=float,
    default=5.0,
    show_default=True,
    callback=_seconds,
    help="Seconds to collect statistics (dataflows).",
)
@_format
@_wait
def info(
    names: tuple[str, ...], ros: bool, dataflow: str | None, coordinator_addr: str,
    coordinator_port: int, duration: float, fmt: str, wait: float,
) -> int:  # fmt: skip
    """Show outputs' types, publisher, subscribers and queue sizes, and their rate (QoS for ROS).

    \b
    Example:
      $ dora-ros topic info -d live talker/count --duration 2
      Topic: talker/count
      Type: int64
      Publisher: talker (running)
      Subscriber count: 1
        listener/count: queue_size 4
      Messages: 100 in 2 s, 50.000 Hz, bandwidth 400 B/s
      $ dora-ros topic info --ros /chatter
      Type: std_msgs/msg/String
      Publisher count: 1
        /talker: reliable, volatile, keep_last 10
      Subscription count: 0
    """
    from .topic_ros import run_or_exit

    if not ros:
        from .topic_dataflow import info as info_live

        return run_or_exit(info_live, dataflow, coordinator_addr, coordinator_port, names,
                           duration, fmt)  # fmt: skip
    _no_dataflow(dataflow, "info")
    from .topic_ros import info as info_ros

    return run_or_exit(info_ros, _one_ros_topic(names, "info"), wait, fmt)


@topic.command()
@click.argument("name")
@click.argument("args", metavar="[TYPE] [DATA]", nargs=-1)
@_ros
@_live
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Read the message (JSON) from a file.",
)
@click.option("--count", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--rate", type=float, default=1.0, show_default=True, callback=_seconds, help="Hz.")
@_wait
def pub(
    name: str, args: tuple[str, ...], ros: bool, dataflow: str | None, coordinator_addr: str,
    coordinator_port: int, file: str | None, count: int, rate: float, wait: float,
) -> int:  # fmt: skip
    """Send JSON on an output of a running dataflow, as its node would (a ROS message with --ros).

    For a dataflow, DATA is JSON: a list becomes that Arrow array, anything else an array of one
    value (an object a one-row struct). Each machine's supervisor sends it to the output's
    receivers it runs, as the node would; the node itself goes on sending as before.

    \b
    Example:
      $ dora-ros topic pub -d live talker/count '[7, 8]' --count 2
      publishing #1: talker/count (int64) to listener
      publishing #2: talker/count (int64) to listener
      $ dora-ros topic pub --ros /chatter std_msgs/msg/String '{"data": "hi"}' --count 2
      publishing #1: /chatter (std_msgs/msg/String), 16 bytes
      publishing #2: /chatter (std_msgs/msg/String), 16 bytes
    """
    from .topic_ros import run_or_exit

    if len(args) > (2 if ros else 1):
        usage = "TOPIC TYPE [DATA]" if ros else "node/output [DATA]"
        raise ToolError(f"topic pub: too many arguments (expected {usage})")
    type_name = args[0] if ros and args else None
    data = args[-1] if args and (not ros or len(args) == 2) else None
    if data is not None and file is not None:
        raise ToolError("topic pub: give the message or --file, not both")
    if file is not None:
        with open(file, encoding="utf-8") as handle:
            data = handle.read()
    if not ros:
        from .topic_dataflow import pub as pub_live

        if data is None:
            raise ToolError("topic pub: give the data (JSON) or --file")
        return run_or_exit(pub_live, dataflow, coordinator_addr, coordinator_port, name, data,
                           count, rate)  # fmt: skip
    _no_dataflow(dataflow, "pub")
    if type_name is None:
        raise ToolError("topic pub --ros: give the message type, like std_msgs/msg/String")
    from .topic_ros import pub as pub_ros

    return run_or_exit(pub_ros, name, type_name, data or "{}", count, rate, wait)
