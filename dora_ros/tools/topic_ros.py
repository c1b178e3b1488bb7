"""`dora-ros topic list|echo|hz|info|pub --ros`: ROS 2 topics seen through the bridge's backend.

No ros2cli (it is not on pip): a short-lived hidden ROS 2 node (`_dora_ros_topic_<pid>`, on the
bridge's rclpy backend) asks the ROS graph for names, types and endpoints, reads serialized
samples and decodes them with msgconv, or encodes a message with msgconv and writes it. Graph
queries are rclpy's, so these verbs open the rclpy backend whatever `$DORA_ROS_BRIDGE_BACKEND`
says (the Cyclone backend moves topics only).

Discovery takes a moment: each verb waits up to `--wait` seconds (default 3) for the topic to
show up in the graph, then says it does not exist (one line, exit status 1).
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import click

from ..errors import DoraRosError
from . import ToolError

__all__ = [
    "RateStats",
    "RosTopicTool",
    "echo",
    "hz",
    "info",
    "list_topics",
    "pub",
]

POLL = 0.05  # seconds between graph queries while waiting for discovery
REPORT_PERIOD = 1.0  # hz prints its statistics once a second, as `ros2 topic hz`
MAX_WINDOW_SAMPLES = 100_000  # a bound on hz's window whatever its duration
_UNKNOWN_NODE = "_NODE_NAME_UNKNOWN_"  # rmw's name for an endpoint whose node is not known yet


class RosTopicTool:
    """A hidden ROS 2 node for one command: graph queries, a reader or a writer. Close it."""

    def __init__(self) -> None:
        from ..bridge.backend import domain_id_from_env
        from ..bridge.rclpy_backend import RclpyBackend

        # rclpy's graph API is what lists topics and endpoints (the Cyclone backend has none).
        # A leading underscore hides the node from `ros2 node list`, as ros2cli's own nodes.
        self.backend = RclpyBackend(
            node_name=f"_dora_ros_topic_{os.getpid()}",
            domain_id=domain_id_from_env(),
            enable_rosout=False,
        )
        self.node = self.backend.node
        self.domain_id = self.backend.domain_id

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> RosTopicTool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def topics(self) -> dict[str, list[str]]:
        """Every topic in the ROS graph with its types (sorted by name)."""
        return {name: list(types) for name, types in sorted(self.node.get_topic_names_and_types())}

    def wait_for_graph(self, seconds: float) -> dict[str, list[str]]:
        """The topics after `seconds` of discovery.

        All of it: a quiet moment says nothing (a loaded machine discovers a peer after seconds).
        """
        time.sleep(seconds)
        return self.topics()

    def wait_for_topic(self, topic: str, seconds: float) -> str:
        """The type of `topic` once the graph shows it (ToolError naming it after `seconds`)."""
        deadline = time.monotonic() + seconds
        while True:
            types = self.topics().get(topic)
            if types:
                if len(types) > 1:
                    raise ToolError(
                        f"{topic}: publishers disagree on its type ({', '.join(types)})"
                    )
                return str(types[0])
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL)
        known = [name for name in self.topics() if not _is_internal(name)]
        close = difflib.get_close_matches(topic, known, n=1, cutoff=0.6)
        if close:
            hint = f" (did you mean '{close[0]}'?)"
        else:
            hint = f" (topics: {', '.join(known[:8])}{', ...' if len(known) > 8 else ''})"
        raise ToolError(
            f"{topic}: no such ROS 2 topic on domain {self.domain_id} after {seconds:g} s"
            + (hint if known else "")
        )

    def endpoints(self, topic: str, publishers: bool) -> list[Any]:
        """rclpy's TopicEndpointInfo of the other nodes' publishers (or subscriptions)."""
        me = (self.node.get_name(), self.node.get_namespace())
        infos = (
            self.node.get_publishers_info_by_topic(topic)
            if publishers
            else self.node.get_subscriptions_info_by_topic(topic)
        )
        return [i for i in infos if (i.node_name, i.node_namespace) != me]

    def reader_qos(self, topic: str, depth: int) -> Any:
        """QoS that matches every publisher, as `ros2 topic echo` picks it: best effort if one
        publisher is, transient local if all are."""
        from ..bridge.qos import Ros2Durability, Ros2QosPolicies

        pubs = self.endpoints(topic, publishers=True)
        reliable = all(_reliability(p) == "reliable" for p in pubs)
        transient = bool(pubs) and all(_durability(p) == "transient_local" for p in pubs)
        return Ros2QosPolicies(
            reliable=reliable,
            durability=Ros2Durability.TransientLocal if transient else Ros2Durability.Volatile,
            keep_last=depth,
        )


def _is_internal(name: str) -> bool:
    return name in ("/parameter_events", "/rosout")


def _reliability(info: Any) -> str:
    return str(info.qos_profile.reliability.name).lower()


def _durability(info: Any) -> str:
    return str(info.qos_profile.durability.name).lower()


def _qos_text(info: Any) -> str:
    qos = info.qos_profile
    history = str(qos.history.name).lower()
    text = f"{_reliability(info)}, {_durability(info)}"
    # DDS discovery does not carry the history of a remote endpoint: rmw says "unknown".
    if history == "keep_last":
        return f"{text}, keep_last {qos.depth}"
    return text if history in ("unknown", "system_default") else f"{text}, {history}"


def _node_path(info: Any) -> str:
    ns = info.node_namespace.rstrip("/")
    return f"{ns}/{info.node_name}"


@contextmanager
def _until_interrupted() -> Iterator[None]:
    """Ctrl-C and SIGTERM end the loop inside quietly (the caller prints its summary)."""
    previous = signal.getsignal(signal.SIGTERM)

    def _term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    try:
        yield
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- list ---------------------------------------------------------------------------------------


def list_topics(fmt: str, wait: float) -> int:
    """Print every ROS 2 topic with its type(s): a table, or one JSON object per line."""
    with RosTopicTool() as tool:
        topics = tool.wait_for_graph(wait)
    if fmt == "json":
        for name, types in topics.items():
            click.echo(json.dumps({"name": name, "types": types}))
        return 0
    width = max((len(n) for n in topics), default=0)
    for name, types in topics.items():
        click.echo(f"{name:<{width}}  {', '.join(types)}")
    return 0


# --- info ---------------------------------------------------------------------------------------


def info(topic: str, wait: float, fmt: str) -> int:
    """Print a topic's type and its publishers and subscriptions with their QoS."""
    with RosTopicTool() as tool:
        type_name = tool.wait_for_topic(topic, wait)
        # Node names come later than endpoints (rmw's ros_discovery_info): wait for them a while.
        deadline = time.monotonic() + wait
        while True:
            pubs = tool.endpoints(topic, publishers=True)
            subs = tool.endpoints(topic, publishers=False)
            unnamed = [e for e in pubs + subs if e.node_name == _UNKNOWN_NODE]
            if not unnamed or time.monotonic() > deadline:
                break
            time.sleep(POLL)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "name": topic,
                    "type": type_name,
                    "publishers": [{"node": _node_path(p), "qos": _qos_text(p)} for p in pubs],
                    "subscriptions": [{"node": _node_path(s), "qos": _qos_text(s)} for s in subs],
                }
            )
        )
        return 0
    click.echo(f"Type: {type_name}")
    click.echo(f"Publisher count: {len(pubs)}")
    for p in pubs:
        click.echo(f"  {_node_path(p)}: {_qos_text(p)}")
    click.echo(f"Subscription count: {len(subs)}")
    for s in subs:
        click.echo(f"  {_node_path(s)}: {_qos_text(s)}")
    return 0


# --- echo ---------------------------------------------------------------------------------------


def echo(
    topic: str, count: int | None, duration: float | None, fmt: str, raw: bool, wait: float
) -> int:
    """Print each message of `topic`, decoded by msgconv, until `count`/`duration`/Ctrl-C."""
    from .. import msgconv
    from .arrow_text import to_json, to_yaml

    received = 0
    with RosTopicTool() as tool:
        type_name = tool.wait_for_topic(topic, wait)
        msgconv.arrow_type(type_name)  # an unknown type fails here, before anything is read
        reader = tool.backend.create_reader(topic, type_name, tool.reader_qos(topic, 10))
        end = None if duration is None else time.monotonic() + duration
        with _until_interrupted():
            while count is None or received < count:
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    break
                data = reader.take(timeout=0.5 if left is None else min(0.5, left))
                if data is None:
                    continue
                value = msgconv.decode(type_name, data)
                received += 1
                if fmt == "json":
                    line = {"topic": topic, "type": type_name, "value": to_json(value, raw=raw)}
                    click.echo(json.dumps(line))
                else:
                    click.echo(to_yaml(value, raw=raw))
                    click.echo("---")
        reader.close()
    if received == 0:
        click.echo(f"{topic}: no message received", err=True)
    return 0


# --- hz -----------------------------------------------------------------------------------------


@dataclass
class RateStats:
    """Arrival times and sizes in a sliding window of `window` seconds (`ros2 topic hz` + `bw`).

    Where messages are numbered by their sender (a dataflow tap: ``TopicMessage.number``), the
    rate is the sender's (numbers over time), and ``rate_received`` what reached us: a tap drops
    rather than slow the sender, and above ~1,500 msg/s counting arrivals under-reported.
    """

    window: float
    times: deque[float]
    sizes: deque[int]
    numbers: deque[int]
    total: int = 0

    @classmethod
    def of(cls, window: float) -> RateStats:
        n = MAX_WINDOW_SAMPLES
        return cls(window, deque(maxlen=n), deque(maxlen=n), deque(maxlen=n))

    def add(self, when: float, size: int, number: int | None = None) -> None:
        self.times.append(when)
        self.sizes.append(size)
        if number is not None:
            self.numbers.append(number)
        self.total += 1
        while self.times and when - self.times[0] > self.window:
            self.times.popleft()
            self.sizes.popleft()
            if self.numbers:
                self.numbers.popleft()

    def report(self) -> dict[str, float] | None:
        """Rate (Hz), min/max/std of the periods (s), bandwidth (B/s) and sizes; None below 2."""
        if len(self.times) < 2:
            return None
        times = list(self.times)
        periods = [b - a for a, b in itertools.pairwise(times)]
        mean = sum(periods) / len(periods)
        std = math.sqrt(sum((p - mean) ** 2 for p in periods) / len(periods))
        span = times[-1] - times[0]
        sizes = list(self.sizes)
        received = 1.0 / mean if mean > 0 else math.inf
        report: dict[str, float] = {
            "rate": received,
            "min": min(periods),
            "max": max(periods),
            "std": std,
            "window": len(times),
            "bandwidth": sum(sizes[1:]) / span if span > 0 else math.inf,
            "size_mean": sum(sizes) / len(sizes),
            "size_min": float(min(sizes)),
            "size_max": float(max(sizes)),
        }
        if len(self.numbers) == len(times):  # numbered by the sender: its rate
            sent = self.numbers[-1] - self.numbers[0]
            report["rate_received"] = received
            report["missed"] = max(0, sent - (len(times) - 1))  # in the window, not seen here
            report["rate"] = sent / span if span > 0 else math.inf
            report["bandwidth"] *= sent / (len(times) - 1) if sent > len(times) - 1 else 1
        return report


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GiB"


def _print_hz(topic: str, stats: RateStats, fmt: str) -> None:
    report = stats.report()
    if fmt == "json":
        click.echo(json.dumps({"topic": topic, "messages": stats.total, **(report or {})}))
        return
    if report is None:
        click.echo(f"{topic}: {stats.total} message(s), too few for a rate")
        return
    if "rate_received" in report and report["missed"]:
        click.echo(f"{topic}: average rate: {report['rate']:.3f} Hz (sent; here"
                   f" {report['rate_received']:.3f} Hz, {report['missed']:.0f} of the window's"
                   " messages dropped on the way)")  # fmt: skip
    else:
        click.echo(f"{topic}: average rate: {report['rate']:.3f} Hz")
    click.echo(
        f"\tmin: {report['min']:.6f}s max: {report['max']:.6f}s std dev: {report['std']:.6f}s"
        f" window: {report['window']:.0f}"
    )
    click.echo(
        f"\tbandwidth: {_bytes(report['bandwidth'])}/s, message size mean"
        f" {_bytes(report['size_mean'])} min {_bytes(report['size_min'])}"
        f" max {_bytes(report['size_max'])}"
    )


def hz(topic: str, window: float, duration: float | None, fmt: str, wait: float) -> int:
    """Print `topic`'s rate and bandwidth every second, and once more at the end."""
    stats = RateStats.of(window)
    with RosTopicTool() as tool:
        type_name = tool.wait_for_topic(topic, wait)
        reader = tool.backend.create_reader(topic, type_name, tool.reader_qos(topic, 100))
        end = None if duration is None else time.monotonic() + duration
        next_report = time.monotonic() + REPORT_PERIOD
        with _until_interrupted():
            while end is None or time.monotonic() < end:
                now = time.monotonic()
                if now >= next_report:
                    _print_hz(topic, stats, fmt)
                    next_report = now + REPORT_PERIOD
                wait_for = next_report - now if end is None else min(next_report, end) - now
                data = reader.take(timeout=max(0.0, wait_for))
                if data is not None:
                    # The arrival time here, as ros2 topic hz without --use-wtime's header stamps.
                    stats.add(time.monotonic(), len(data))
        reader.close()
    _print_hz(topic, stats, fmt)
    return 0


# --- pub ----------------------------------------------------------------------------------------


def _message_value(type_name: str, text: str) -> Any:
    """The message to publish, from JSON (or YAML, as `ros2 topic pub` takes it)."""
    import yaml

    try:
        value = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (column {mark.column + 1})" if mark is not None and "\n" not in text else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ToolError(
            f"{type_name}: the message is not valid JSON or YAML: {problem}{where}"
        ) from None
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ToolError(
            f"{type_name}: the message must be a JSON object of its fields, like"
            f" '{{\"data\": 1}}', not {text!r}"
        )
    return value


def pub(topic: str, type_name: str, text: str, count: int, rate: float, wait: float) -> int:
    """Encode `text` as `type_name` with msgconv and publish it `count` times at `rate` Hz."""
    from .. import msgconv
    from ..bridge.names import canonical_type

    canonical = msgconv.message_definition(canonical_type(type_name, "msg")).name
    data = msgconv.encode(canonical, _message_value(canonical, text))
    with RosTopicTool() as tool:
        known = tool.topics().get(topic)
        if known and canonical not in known:
            raise ToolError(f"{topic}: its type is {', '.join(known)}, not {canonical}")
        writer = tool.backend.create_writer(topic, canonical, _pub_qos())
        # Wait for subscribers (as `ros2 topic pub --times N` does), then publish.
        deadline = time.monotonic() + wait
        while writer.matched_count() == 0 and time.monotonic() < deadline:
            time.sleep(POLL)
        matched = writer.matched_count()
        with _until_interrupted():
            for i in range(count):
                if i:
                    time.sleep(1.0 / rate)
                writer.write(data)
                click.echo(f"publishing #{i + 1}: {topic} ({canonical}), {len(data)} bytes")
            time.sleep(0.3)  # let reliable delivery finish before the participant goes away
        writer.close()
    if matched == 0:
        click.echo(f"{topic}: no subscriber matched within {wait:g} s", err=True)
    return 0


def _pub_qos() -> Any:
    from ..bridge.qos import Ros2QosPolicies

    return Ros2QosPolicies(reliable=True, keep_last=10)


def run_or_exit(function: Any, *args: Any) -> int:
    """Run a verb; a DoraRosError propagates to the CLI's one line; the stream may close early."""
    try:
        return int(function(*args))
    except BrokenPipeError:  # `dora-ros topic echo ... | head`
        sys.stderr.close()
        return 0
    except DoraRosError:
        raise
