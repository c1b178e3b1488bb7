"""`dora-ros topic list|echo|hz|info|pub` on the outputs (`node/output`) of a running dataflow.

The dataflow is found with `tools/dataflows.py` (`-d NAME|UUID`, or the only one running) and its
supervisors are asked through the dataflow API (`cluster/tap_server.py`):

- `list` asks every machine's supervisor for its outputs (`topics`) and prints them with their
  subscribers;
- `echo`, `hz`, `info` hold a tap on each output (`tap`, renewed every second; `untap` at the
  end, or the lease lapses if this process dies) and read what the supervisor republishes on
  Zenoh. A tap exists only while someone listens and never slows the sender. What arrives waits
  here in a bounded queue (`MAX_QUEUED` messages, `MAX_QUEUED_BYTES`): a terminal slower than
  the output drops the oldest, and every drop is counted and reported at the end, by where it
  happened (at the sender, between the supervisor and here, here);
- `pub` encodes JSON as an Arrow array and has each machine's supervisor send it to its
  receivers of the output, as that node would (`pub`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import click

from . import ToolError

__all__ = ["TapListener", "TopicMessage", "echo", "hz", "info", "list_topics", "pub"]

MAX_QUEUED = 1000
MAX_QUEUED_BYTES = 256 << 20
REPORT_PERIOD = 1.0
# Renewals in a row that must fail (no answer, or the dataflow says it ends) before a listener
# takes the dataflow for ended.
RENEWALS_LOST = 3
RENEW_TIMEOUT = 2.0


@dataclass(frozen=True)
class TopicMessage:
    """One message of a tapped output, as the node sent it."""

    topic: str  # node/output
    value: Any  # pa.Array
    metadata: dict[str, Any]  # with "timestamp", as a receiving node sees it
    size: int  # payload bytes on the wire
    arrived: float  # time.monotonic() here
    # The sender's number of this message since the tap began (the tap's `seq` plus what the
    # sender dropped for it): `hz` counts the rate sent, not only what reached the tap.
    number: int = 0


@dataclass
class _Counts:
    last_seq: int = 0
    at_sender: int = 0
    in_transit: int = 0
    here: int = 0
    unreadable: int = 0


def split_topic(name: str) -> tuple[str, str]:
    node, sep, output = name.partition("/")
    if not sep or not node or not output:
        raise ToolError(f"{name!r}: a dataflow topic is node/output (ROS 2 topics need --ros)")
    return node, output


def _check_names(names: tuple[str, ...]) -> None:
    """Names that cannot be outputs fail before the dataflow is looked for."""
    for name in names:
        split_topic(name)


class TapListener:
    """Taps on some outputs of one dataflow, while the `with` block runs."""

    def __init__(self, client: Any, topics: list[str]) -> None:
        self.client = client
        self.topics = topics
        self.listener = uuid.uuid4().hex
        self.queue: deque[TopicMessage] = deque()
        self.queued_bytes = 0
        self.counts = {t: _Counts() for t in topics}
        self.cond = threading.Condition()
        self.subscribers: list[Any] = []
        self.stop = threading.Event()
        self.ended = threading.Event()  # the dataflow no longer answers: it ended
        self.renewer: threading.Thread | None = None
        self.renew_every = 1.0

    def __enter__(self) -> TapListener:
        try:
            for topic in self.topics:
                self._subscribe(topic)
            ended = []
            for topic in self.topics:  # after subscribing: nothing sent before is missed
                answer = self._hold(topic)
                self.renew_every = float(answer.get("renew", 1.0))
                if not answer.get("running", True):
                    node = split_topic(topic)[0]
                    status = answer.get("status", "not running")
                    if answer.get("ended"):
                        ended.append(f"node {node!r} is not running ({status}) and will not"
                                     " restart")  # fmt: skip
                    else:  # said at once, not a silent wait
                        print(f"node {node!r} is not running ({status}): waiting for it to"
                              f" start ({topic})", file=sys.stderr)  # fmt: skip
            if ended and len(ended) == len(self.topics):
                raise ToolError(f"{', '.join(self.topics)}: {'; '.join(ended)}")
            for text in ended:
                print(f"{text}: its outputs stay silent", file=sys.stderr)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.renewer = threading.Thread(target=self._renew, name="tap-renew", daemon=True)
        self.renewer.start()
        return self

    def _request(self, topic: str) -> dict[str, Any]:
        node, output = split_topic(topic)
        return {"node": node, "output": output, "listener": self.listener}

    def _hold(self, topic: str, timeout: float | None = None) -> dict[str, Any]:
        request = self._request(topic)
        extra = {} if timeout is None else {"timeout": timeout}
        answer: dict[str, Any] = self.client.query("tap", request, node=request["node"], **extra)
        return answer

    def _subscribe(self, topic: str) -> None:
        from ..cluster import keys

        node, output = split_topic(topic)
        key = keys.tap(self.client.ref.id, node, output)
        self.subscribers.append(
            self.client.session.declare_subscriber(key, lambda s: self._on_sample(topic, s))
        )

    def _on_sample(self, topic: str, sample: Any) -> None:
        # A Zenoh thread: decode, queue, never wait.
        import pyarrow as pa

        from ..runtime import wire

        try:
            info = json.loads(sample.attachment.to_bytes())
            value = pa.ipc.open_stream(sample.payload.to_bytes()).read_next_batch().column(0)
            metadata = wire.decode_metadata(info["meta"].encode(), int(info["ts"]))
        except Exception as err:  # a sample we cannot read: said once, counted as dropped
            with self.cond:
                counts = self.counts[topic]
                if not counts.unreadable:
                    print(f"{topic}: unreadable sample: {err}", file=sys.stderr)
                counts.unreadable += 1
                counts.here += 1
            return
        number = int(info["seq"]) + int(info.get("dropped", 0))
        message = TopicMessage(topic, value, metadata, int(info["size"]), time.monotonic(), number)
        with self.cond:
            counts = self.counts[topic]
            seq = int(info["seq"])
            if counts.last_seq and seq > counts.last_seq + 1:
                counts.in_transit += seq - counts.last_seq - 1
            counts.last_seq = max(counts.last_seq, seq)
            counts.at_sender = max(counts.at_sender, int(info.get("dropped", 0)))
            self.queue.append(message)
            self.queued_bytes += message.size
            while len(self.queue) > MAX_QUEUED or self.queued_bytes > MAX_QUEUED_BYTES:
                old = self.queue.popleft()
                self.queued_bytes -= old.size
                self.counts[old.topic].here += 1
            self.cond.notify()

    def _renew(self) -> None:
        from ..errors import DoraRosError

        lost = 0
        while not self.stop.wait(self.renew_every):
            try:
                for topic in self.topics:
                    self._hold(topic, RENEW_TIMEOUT)
                lost = 0
            except DoraRosError:
                lost += 1
                if lost >= RENEWALS_LOST:
                    self.ended.set()
                    with self.cond:
                        self.cond.notify_all()
                    return

    def get(self, timeout: float) -> TopicMessage | None:
        """The next message, or None after ``timeout`` seconds (or once the dataflow ended)."""
        with self.cond:
            if not self.queue and not self.ended.is_set():
                self.cond.wait(timeout)
            if not self.queue:
                return None
            message = self.queue.popleft()
            self.queued_bytes -= message.size
            return message

    def dropped(self) -> dict[str, _Counts]:
        with self.cond:
            return {t: _Counts(c.last_seq, c.at_sender, c.in_transit, c.here, c.unreadable)
                    for t, c in self.counts.items()}  # fmt: skip

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.renewer is not None:
            self.renewer.join(timeout=5)
        for subscriber in self.subscribers:
            with contextlib.suppress(Exception):
                subscriber.undeclare()
        for topic in self.topics:
            with contextlib.suppress(Exception):  # it ended, or never had the tap
                request = self._request(topic)
                self.client.query("untap", request, node=request["node"], timeout=2.0)


def report_drops(command: str, listener: TapListener) -> None:
    """One line on stderr per output that lost messages on the way here."""
    for topic, counts in listener.dropped().items():
        total = counts.at_sender + counts.in_transit + counts.here
        if total:
            click.echo(
                f"{command}: {topic}: {total} message(s) dropped ({counts.at_sender} at the"
                f" sender, {counts.in_transit} on the way, {counts.here} here: the reader was too"
                " slow)",
                err=True,
            )


@contextlib.contextmanager
def _client(dataflow: str | None, addr: str, port: int) -> Iterator[Any]:
    from .dataflows import DataflowClient

    with DataflowClient.open(dataflow, addr, port) as client:
        yield client


def _topics(client: Any, nodes: list[str] | None = None) -> list[dict[str, Any]]:
    """Every output of the dataflow (and in ``nodes``, if given, every node)."""
    rows: list[dict[str, Any]] = []
    for answer in client.query_all("topics", {}).values():
        rows.extend(answer["topics"])
        if nodes is not None:
            nodes.extend(answer.get("nodes", ()))
    return sorted(rows, key=lambda r: (r["node"], r["output"]))


def _check_topics(client: Any, names: tuple[str, ...]) -> list[str]:
    """The outputs to tap: those named (checked), or every output of the dataflow."""
    known: list[str] = []
    rows = _topics(client, known)
    every = [f"{r['node']}/{r['output']}" for r in rows]
    if not names:
        if not every:
            raise ToolError(f"dataflow {client.ref.label} has no outputs")
        return every
    nodes = {n: [r["output"] for r in rows if r["node"] == n] for n in sorted(known)}
    chosen = []
    for name in names:
        node, output = split_topic(name)
        if node not in nodes:
            from ..runtime.descriptor import closest

            raise ToolError(f"dataflow {client.ref.label} has no node {node!r}"
                            f"{closest(node, list(nodes))} (nodes: {', '.join(sorted(nodes))})")  # fmt: skip
        if output not in nodes[node]:
            raise ToolError(f"node {node!r} has no output {output!r} (outputs:"
                            f" {', '.join(nodes[node]) or 'none'})")  # fmt: skip
        if name not in chosen:
            chosen.append(name)
    return chosen


# --- list ---------------------------------------------------------------------------------------


def list_topics(dataflow: str | None, addr: str, port: int, fmt: str) -> int:
    with _client(dataflow, addr, port) as client:
        rows = _topics(client)
    if fmt == "json":
        for row in rows:
            click.echo(json.dumps({"name": f"{row['node']}/{row['output']}", **row}))
        return 0
    table = [("TOPIC", "SUBSCRIBERS")]
    for row in rows:
        subs = ", ".join(f"{s['node']}/{s['input']} (queue {s['queue_size']})"
                         for s in row["subscribers"]) or "-"  # fmt: skip
        table.append((f"{row['node']}/{row['output']}", subs))
    width = max(len(a) for a, _ in table)
    for name, subs in table:
        click.echo(f"{name:<{width}}  {subs}")
    return 0


# --- echo ---------------------------------------------------------------------------------------


def _metadata_json(metadata: dict[str, Any]) -> dict[str, Any]:
    from .mcap_channels import _metadata_default

    return json.loads(json.dumps(metadata, default=_metadata_default))


def echo(
    dataflow: str | None, addr: str, port: int, names: tuple[str, ...], count: int | None,
    duration: float | None, fmt: str, raw: bool, metadata: bool,
) -> int:  # fmt: skip
    from .arrow_text import to_json, to_yaml
    from .topic_ros import _until_interrupted

    received = 0
    _check_names(names)
    with _client(dataflow, addr, port) as client:
        topics = _check_topics(client, names)
        several = len(topics) > 1
        with TapListener(client, topics) as listener:
            end = None if duration is None else time.monotonic() + duration
            with _until_interrupted():
                while count is None or received < count:
                    left = None if end is None else end - time.monotonic()
                    if left is not None and left <= 0:
                        break
                    message = listener.get(0.5 if left is None else min(0.5, left))
                    if message is None:
                        if listener.ended.is_set():
                            click.echo(f"dataflow {client.ref.label} ended", err=True)
                            break
                        continue
                    received += 1
                    if fmt == "json":
                        line: dict[str, Any] = {"topic": message.topic,
                                                "value": to_json(message.value, raw=raw)}  # fmt: skip
                        if metadata:
                            line["metadata"] = _metadata_json(message.metadata)
                        click.echo(json.dumps(line))
                        continue
                    if several:
                        click.echo(f"# {message.topic}")
                    click.echo(to_yaml(message.value, raw=raw))
                    if metadata:
                        click.echo("metadata:")
                        for key, value in _metadata_json(message.metadata).items():
                            click.echo(f"  {key}: {json.dumps(value)}")
                    click.echo("---")
        report_drops("topic echo", listener)
    if received == 0:
        click.echo(f"{', '.join(topics)}: no message received", err=True)
    return 0


# --- hz -----------------------------------------------------------------------------------------


def hz(
    dataflow: str | None, addr: str, port: int, names: tuple[str, ...], window: float,
    duration: float | None, fmt: str,
) -> int:  # fmt: skip
    from .topic_ros import RateStats, _print_hz, _until_interrupted

    _check_names(names)
    with _client(dataflow, addr, port) as client:
        topics = _check_topics(client, names)
        stats = {t: RateStats.of(window) for t in topics}
        with TapListener(client, topics) as listener:
            end = None if duration is None else time.monotonic() + duration
            next_report = time.monotonic() + REPORT_PERIOD
            with _until_interrupted():
                while end is None or time.monotonic() < end:
                    now = time.monotonic()
                    if now >= next_report:
                        for topic in topics:
                            _print_hz(topic, stats[topic], fmt)
                        next_report = now + REPORT_PERIOD
                    stop = next_report if end is None else min(next_report, end)
                    message = listener.get(max(0.0, stop - now))
                    if message is None and listener.ended.is_set():
                        click.echo(f"dataflow {client.ref.label} ended", err=True)
                        break
                    if message is not None:
                        # The send time, not the arrival here: the rate the node sends at.
                        sent = message.metadata["timestamp"].timestamp()
                        stats[message.topic].add(sent, message.size, message.number)
        for topic in topics:
            _print_hz(topic, stats[topic], fmt)
        report_drops("topic hz", listener)
    return 0


# --- info ---------------------------------------------------------------------------------------


def info(
    dataflow: str | None, addr: str, port: int, names: tuple[str, ...], duration: float, fmt: str
) -> int:
    from .topic_ros import RateStats, _bytes, _until_interrupted

    _check_names(names)
    with _client(dataflow, addr, port) as client:
        topics = _check_topics(client, names)
        rows = {f"{r['node']}/{r['output']}": r for r in _topics(client)}
        stats = {t: RateStats.of(max(duration, 1.0)) for t in topics}
        types: dict[str, set[str]] = {t: set() for t in topics}
        with TapListener(client, topics) as listener:
            end = time.monotonic() + duration
            with _until_interrupted():
                while (left := end - time.monotonic()) > 0:
                    message = listener.get(min(0.5, left))
                    if message is not None:
                        stats[message.topic].add(
                            message.metadata["timestamp"].timestamp(), message.size, message.number
                        )
                        types[message.topic].add(str(message.value.type))
    for topic in topics:
        row = rows[topic]
        report = stats[topic].report()
        seen = sorted(types[topic])
        if fmt == "json":
            click.echo(json.dumps({
                "name": topic, "types": seen, "declared_type": row.get("type"),
                "publisher": row["node"], "running": row["running"],
                "subscribers": row["subscribers"], "messages": stats[topic].total,
                "duration": duration, **(report or {}),
            }))  # fmt: skip
            continue
        click.echo(f"Topic: {topic}")
        declared = f" (declared: {row['type']})" if row.get("type") else ""
        click.echo(f"Type: {', '.join(seen) or 'unknown (no message)'}{declared}")
        state = "running" if row["running"] else "not running"
        click.echo(f"Publisher: {row['node']} ({state})")
        click.echo(f"Subscriber count: {len(row['subscribers'])}")
        for sub in row["subscribers"]:
            click.echo(f"  {sub['node']}/{sub['input']}: queue_size {sub['queue_size']}")
        total = stats[topic].total
        if report is None:
            click.echo(f"Messages: {total} in {duration:g} s")
        else:
            click.echo(
                f"Messages: {total} in {duration:g} s, {report['rate']:.3f} Hz,"
                f" bandwidth {_bytes(report['bandwidth'])}/s"
            )
    return 0


# --- pub ----------------------------------------------------------------------------------------


def json_to_arrow(text: str) -> Any:
    """The Arrow array `topic pub` sends for JSON `text`: a list as that array, anything else
    as an array of one value (an object: a one-row struct)."""
    import pyarrow as pa

    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ToolError(f"topic pub: the data is not JSON: {err}") from None
    try:
        return pa.array(value if isinstance(value, list) else [value])
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise ToolError(f"topic pub: {text!r} does not make an Arrow array: {err}") from None


def pub(
    dataflow: str | None, addr: str, port: int, name: str, text: str, count: int, rate: float
) -> int:
    from ..runtime import wire
    from .topic_ros import _until_interrupted

    node, output = split_topic(name)
    value = json_to_arrow(text)
    data = base64.b64encode(wire.ipc_bytes(value)).decode()
    with _client(dataflow, addr, port) as client:
        _check_topics(client, (name,))
        request = {"node": node, "output": output, "data": data}
        with _until_interrupted():
            for i in range(count):
                if i:
                    time.sleep(1.0 / rate)
                sent: list[str] = []
                missed: list[str] = []
                for answer in client.query_all("pub", request).values():
                    sent += answer["sent"]
                    missed += answer["missed"]
                to = ", ".join(sorted(sent)) or "no receiver"
                click.echo(f"publishing #{i + 1}: {name} ({value.type}) to {to}")
                if missed:
                    click.echo(f"  not running: {', '.join(sorted(missed))}", err=True)
    return 0
