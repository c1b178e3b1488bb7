"""`dora-ros topic list|echo|hz|info|pub`: the click group, with dora-rs 1.1's option names.

With `--ros` each verb works on ROS 2 topics (`topic_ros.py`). The same verbs on the outputs of a
running dataflow (`node/output`, `-d/--dataflow`) need the coordinator/daemon control plane and
are refused with one line until they exist.
"""

from __future__ import annotations

import click

from . import ToolError

__all__ = ["topic"]

_WAIT_HELP = "Seconds to wait for discovery of the ROS graph."


def _seconds(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise click.BadParameter(f"must be more than 0, not {value:g}")
    return value


def _not_yet(ros: bool, what: str) -> None:
    if not ros:
        raise ToolError(
            f"topic {what}: only ROS 2 topics are supported yet (add --ros); the outputs of a"
            " running dataflow need the coordinator/daemon control plane"
        )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def topic() -> None:
    """List, echo, measure, describe and publish topics.

    \b
    Examples:
      dora-ros topic list --ros
      dora-ros topic echo --ros /chatter --count 3
      dora-ros topic hz --ros /camera/image --duration 5
      dora-ros topic info --ros /chatter
      dora-ros topic pub --ros /chatter std_msgs/msg/String '{"data": "hi"}' --count 3 --rate 2
    """


_ros = click.option("--ros", is_flag=True, help="ROS 2 topics (through the bridge's backend).")
_dataflow = click.option(
    "-d", "--dataflow", default=None, help="Name or id of a running dataflow (not yet)."
)
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
@_dataflow
@_format
@_wait
def list_(ros: bool, dataflow: str | None, fmt: str, wait: float) -> int:
    """List topics with their types.

    \b
    Example:
      $ dora-ros topic list --ros
      /chatter           std_msgs/msg/String
      /parameter_events  rcl_interfaces/msg/ParameterEvent
      /rosout            rcl_interfaces/msg/Log
    """
    _not_yet(ros, "list")
    from .topic_ros import list_topics, run_or_exit

    return run_or_exit(list_topics, fmt, wait)


@topic.command()
@click.argument("name")
@_ros
@_dataflow
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
@_wait
def echo(
    name: str, ros: bool, dataflow: str | None, count: int | None, duration: float | None,
    fmt: str, raw: bool, wait: float,
) -> int:  # fmt: skip
    """Print the messages of a topic, decoded.

    \b
    Example:
      $ dora-ros topic echo --ros /chatter --count 1
      data: hello 7
      ---
    """
    _not_yet(ros, "echo")
    from .topic_ros import echo as echo_ros
    from .topic_ros import run_or_exit

    return run_or_exit(echo_ros, name, count, duration, fmt, raw, wait)


@topic.command()
@click.argument("name")
@_ros
@_dataflow
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
    name: str, ros: bool, dataflow: str | None, window: float, duration: float | None, fmt: str,
    wait: float,
) -> int:  # fmt: skip
    """Print a topic's rate, period statistics and bandwidth every second.

    \b
    Example:
      $ dora-ros topic hz --ros /chatter --duration 3
      /chatter: average rate: 10.001 Hz
              min: 0.099512s max: 0.100611s std dev: 0.000252s window: 11
              bandwidth: 240 B/s, message size mean 24 B min 24 B max 24 B
    """
    _not_yet(ros, "hz")
    from .topic_ros import hz as hz_ros
    from .topic_ros import run_or_exit

    return run_or_exit(hz_ros, name, window, duration, fmt, wait)


@topic.command()
@click.argument("name")
@_ros
@_dataflow
@_format
@_wait
def info(name: str, ros: bool, dataflow: str | None, fmt: str, wait: float) -> int:
    """Show a topic's type and its publishers and subscriptions with their QoS.

    \b
    Example:
      $ dora-ros topic info --ros /chatter
      Type: std_msgs/msg/String
      Publisher count: 1
        /talker: reliable, volatile, keep_last 10
      Subscription count: 0
    """
    _not_yet(ros, "info")
    from .topic_ros import info as info_ros
    from .topic_ros import run_or_exit

    return run_or_exit(info_ros, name, wait, fmt)


@topic.command()
@click.argument("name")
@click.argument("type_name", metavar="TYPE")
@click.argument("data", required=False)
@_ros
@_dataflow
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
    name: str, type_name: str, data: str | None, ros: bool, dataflow: str | None,
    file: str | None, count: int, rate: float, wait: float,
) -> int:  # fmt: skip
    """Publish a message (JSON fields; missing fields take their defaults).

    \b
    Example:
      $ dora-ros topic pub --ros /chatter std_msgs/msg/String '{"data": "hi"}' --count 2
      publishing #1: /chatter (std_msgs/msg/String), 16 bytes
      publishing #2: /chatter (std_msgs/msg/String), 16 bytes
    """
    _not_yet(ros, "pub")
    from .topic_ros import pub as pub_ros
    from .topic_ros import run_or_exit

    if data is not None and file is not None:
        raise ToolError("topic pub: give the message or --file, not both")
    if file is not None:
        with open(file, encoding="utf-8") as handle:
            data = handle.read()
    return run_or_exit(pub_ros, name, type_name, data or "{}", count, rate, wait)
