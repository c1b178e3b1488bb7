"""The node `dora-ros record` adds to a graph: it writes every input it gets into an MCAP file.

Run by the supervisor as `python recorder_node.py '<json config>'` (`record.py` writes the config:
output path, input id -> `node/output`, queue bounds, compression). Two threads:

- the node's event loop takes each input and appends it to a bounded queue, never waiting: when
  the queue holds `queue_size` messages per input (at least `MIN_PENDING`: a 1 kHz IMU must not
  be dropped because ten images wait) or `MAX_PENDING_BYTES`, the message is dropped and counted
  (the runtime's own queue in front of this node drops the oldest, counted by the supervisor), so
  a slow disk never slows the graph;
- a writer thread converts each message (`mcap_channels`: CDR for ROS messages, Arrow IPC for the
  rest) and writes it with the `mcap` library, chunked, compressed and indexed. It finishes the
  current chunk at least every `FLUSH_PERIOD`, so after a SIGKILL the file is readable up to the
  last complete chunk.

Progress (elapsed time, messages, bytes in the file so far) is printed every `PROGRESS_PERIOD`, a
summary with the message data and file sizes and the drops at the end.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

FLUSH_PERIOD = 1.0  # seconds: the most a SIGKILL can lose
PROGRESS_PERIOD = 2.0
MAX_PENDING_BYTES = 256 << 20  # a bound on what waits for the disk, whatever queue_size says
MIN_PENDING = 1024  # messages
# After STOP, the queue is written for at most this long, then dropped (counted): the supervisor
# sends SIGTERM 5 s after STOP (STOP_ESCALATION), and the summary and footer must be written first.
DRAIN_TIME = 3.0
CHUNK_SIZE = 4 << 20


@dataclass
class _Channel:
    id: int
    topic: str
    messages: int = 0


# The MCAP metadata record naming the graph a recording was made from (`replay` without --graph).
GRAPH_METADATA = "dora-ros"


@dataclass
class Recorder:
    """The MCAP file being written, its channels and counters (the writer thread owns the file)."""

    path: str
    compression: str
    queue_size: int
    graph_types: dict[str, str] = field(default_factory=dict)  # topic -> ROS type it is sent as
    queue: deque[tuple[str, Any, dict[str, Any], int]] = field(default_factory=deque)
    pending_bytes: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    written: int = 0
    written_bytes: int = 0
    unwritten_at_stop: int = 0  # still queued DRAIN_TIME after STOP
    failed: dict[str, int] = field(default_factory=dict)  # messages that could not be written
    graph: str | None = None  # the recorded graph's path, kept for `replay run.mcap` alone

    def __post_init__(self) -> None:
        from mcap.writer import CompressionType, Writer

        kinds = {"zstd": CompressionType.ZSTD, "lz4": CompressionType.LZ4}
        self._file = open(self.path, "wb")
        self._writer = Writer(
            self._file,
            chunk_size=CHUNK_SIZE,
            compression=kinds.get(self.compression, CompressionType.NONE),
        )
        self._writer.start(profile="", library="dora-ros record")
        if self.graph:
            self._writer.add_metadata(GRAPH_METADATA, {"graph": self.graph})
        self._schemas: dict[tuple[str, str], int] = {}
        self._channels: dict[tuple[str, str], _Channel] = {}
        self._lock = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="mcap-writer", daemon=True)
        self._thread.start()

    # --- the event loop's side: never waits -------------------------------------------------------

    def offer(self, topic: str, value: Any, metadata: dict[str, Any]) -> None:
        size = int(getattr(value, "nbytes", 0))
        with self._lock:
            if len(self.queue) >= self.queue_size or self.pending_bytes + size > MAX_PENDING_BYTES:
                self.dropped[topic] = self.dropped.get(topic, 0) + 1
                return
            self.queue.append((topic, value, metadata, time.time_ns()))
            self.pending_bytes += size
            self._lock.notify()

    def close(self, drain: float = DRAIN_TIME) -> None:
        """Write what is queued (for at most `drain` seconds, then drop the rest, counted), then
        the summary section and the footer."""
        with self._lock:
            self._closing = True
            self._lock.notify()
        self._thread.join(timeout=drain)
        with self._lock:
            self.unwritten_at_stop = len(self.queue)
            self.queue.clear()
            self.pending_bytes = 0
        self._thread.join()
        self._writer.finish()
        self._file.close()

    def summary(self, elapsed: float, unwritten_note: str) -> str:
        """The end-of-recording line (`record` and `record --proxy`; benchmarks/record.py reads
        it); `unwritten_note` says what happened to messages still queued at the end."""
        unwritten = self.unwritten_at_stop
        return (
            f"recorded {self.written} messages ({_mib(self.written_bytes)} of message data) in"
            f" {elapsed:.1f} s to {self.path}, {_mib(self.file_bytes())} file;"
            f" {sum(self.dropped.values())} dropped (writer queue full)"
            + (f", {unwritten} {unwritten_note}" if unwritten else "")
        )

    def file_bytes(self) -> int:
        """Bytes in the MCAP file so far (compressed chunks, indexes): what the disk holds."""
        try:
            return os.path.getsize(self.path)
        except OSError:
            return 0

    # --- the writer thread ------------------------------------------------------------------------

    def _run(self) -> None:
        last_flush = time.monotonic()
        unflushed = False
        while True:
            with self._lock:
                while not self.queue and not self._closing:
                    if not self._lock.wait(timeout=FLUSH_PERIOD / 2) and unflushed:
                        break
                item = self.queue.popleft() if self.queue else None
                if item is not None:
                    self.pending_bytes -= int(getattr(item[1], "nbytes", 0))
                elif self._closing:
                    return
            if item is not None:
                try:
                    self._write(*item)
                    unflushed = True
                except Exception as err:  # a value we cannot write: said once per output, counted
                    topic = item[0]
                    if topic not in self.failed:
                        print(
                            f"cannot record {topic}: {type(err).__name__}: {err}",
                            file=sys.stderr,
                            flush=True,
                        )
                    self.failed[topic] = self.failed.get(topic, 0) + 1
            if unflushed and time.monotonic() - last_flush >= FLUSH_PERIOD:
                self._writer.flush()
                last_flush, unflushed = time.monotonic(), False

    def _write(self, topic: str, value: Any, metadata: dict[str, Any], log_time: int) -> None:
        from dora_ros.tools import mcap_channels as mc

        ros_type = mc.ros_type_of(value, metadata, self.graph_types.get(topic))
        if ros_type is not None:
            from dora_ros import msgconv

            key = (topic, ros_type)
            data: bytes = msgconv.encode(ros_type, value)
        else:
            key = (topic, str(value.type))
            data = mc.arrow_message(value, metadata)
        channel = self._channels.get(key)
        if channel is None:
            from_graph = ros_type is not None and mc.ROS_TYPE_KEY not in metadata
            channel = self._channel(topic, value, ros_type, from_graph)
            self._channels[key] = channel
        stamp = metadata.get("timestamp")  # the sender's time, a datetime (wire.py)
        publish_time = int(stamp.timestamp() * 1e9) if isinstance(stamp, dt.datetime) else log_time
        self._writer.add_message(
            channel_id=channel.id,
            log_time=log_time,
            publish_time=publish_time,
            data=data,
            sequence=channel.messages,
        )
        channel.messages += 1
        self.written += 1
        self.written_bytes += len(data)

    def _channel(self, topic: str, value: Any, ros_type: str | None, from_graph: bool) -> _Channel:
        from dora_ros.tools import mcap_channels as mc

        if ros_type is not None:
            schema_key = (mc.ROS2MSG_ENCODING, ros_type)
            if schema_key not in self._schemas:
                text = mc.ros2msg_text(ros_type).encode()
                self._schemas[schema_key] = self._writer.register_schema(
                    ros_type, mc.ROS2MSG_ENCODING, text
                )
            channel_id = self._writer.register_channel(
                topic,
                mc.CDR_ENCODING,
                self._schemas[schema_key],
                {
                    "dora.output": topic,
                    mc.ROS_TYPE_KEY: ros_type,
                    **({mc.TYPE_SOURCE_KEY: "graph"} if from_graph else {}),
                },
            )
        else:
            schema_key = (mc.ARROW_SCHEMA_ENCODING, str(value.type))
            if schema_key not in self._schemas:
                self._schemas[schema_key] = self._writer.register_schema(
                    str(value.type)[:256],
                    mc.ARROW_SCHEMA_ENCODING,
                    mc.arrow_schema_bytes(value.type),
                )
            channel_id = self._writer.register_channel(
                topic, mc.ARROW_ENCODING, self._schemas[schema_key], {"dora.output": topic}
            )
        return _Channel(channel_id, topic)


def _mib(n: int) -> str:
    """``n`` bytes in KiB below 1 MiB (a compressed file of still frames is a few KiB), else MiB."""
    if n < 1 << 20:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1 << 20):.1f} MiB"


def main() -> None:
    from dora_ros import Node

    config = json.loads(sys.argv[1])
    inputs: dict[str, str] = config["inputs"]
    recorder = Recorder(
        config["output"],
        config["compression"],
        max(MIN_PENDING, int(config["queue_size"]) * len(inputs)),
        dict(config.get("ros_types") or {}),
        graph=config.get("graph"),
    )
    received: dict[str, int] = dict.fromkeys(inputs.values(), 0)
    start = time.monotonic()
    next_progress = start + PROGRESS_PERIOD
    node = Node()
    try:
        while True:
            event = node.next(timeout=PROGRESS_PERIOD)
            now = time.monotonic()
            if now >= next_progress:
                print(
                    f"recording {now - start:.0f} s: {recorder.written} messages,"
                    f" {_mib(recorder.file_bytes())} in the file",
                    flush=True,
                )
                next_progress = now + PROGRESS_PERIOD
            if event is None:  # stopped, or every input closed
                break
            kind = event.get("type")  # an ERROR event is next()'s timeout: progress, then on
            if kind == "INPUT":
                topic = inputs.get(event["id"])
                if topic is not None:
                    received[topic] += 1
                    recorder.offer(topic, event["value"], event.get("metadata") or {})
            elif kind == "STOP":
                break
    finally:
        recorder.close()
    note = f"still queued {DRAIN_TIME:g} s after STOP not written"
    print(recorder.summary(time.monotonic() - start, note), flush=True)
    for topic, count in sorted(recorder.dropped.items()):
        print(f"  dropped {count} of {received[topic]} on {topic}", flush=True)
    for topic, count in sorted(recorder.failed.items()):
        print(f"  could not write {count} of {received[topic]} on {topic}", flush=True)


if __name__ == "__main__":
    main()
