"""The node `dora-ros replay` puts in place of a recorded node: it sends the recorded outputs.

Run by the supervisor as `python replayer_node.py '<json config>'` (`replay.py` writes it: the
MCAP file, the node it stands for, the recording's first log time, speed, loop). Each recorded
message of `<node>/<output>` goes out on `<output>` at its recorded time (log time since the
recording's first message) divided by the speed; a ROS message (CDR) is decoded by msgconv into
the one-row struct array the bridge sent, with its `ros2.type` metadata; an Arrow message is sent
with the array and metadata it was recorded with (`mcap_channels.py`).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any

READ_AHEAD = 0.005  # seconds: a message due this soon is sent now rather than slept for


def recorded_messages(path: str, topics: list[str]) -> Iterator[tuple[Any, Any, Any]]:
    """(schema, channel, message) of `topics` in log-time order; a file cut short by a crash
    (no summary) is read from the start up to its last complete chunk."""
    from mcap.exceptions import McapError
    from mcap.reader import NonSeekingReader, SeekingReader

    with open(path, "rb") as stream:
        try:
            reader: Any = SeekingReader(stream)
            if reader.get_summary() is None:
                raise McapError("no summary")
            yield from reader.iter_messages(topics=topics, log_time_order=True)
            return
        except McapError:
            stream.seek(0)
        try:
            yield from NonSeekingReader(stream).iter_messages(topics=topics)
        except McapError:  # the cut end of a killed recording
            return


def main() -> None:
    from dora_ros import Node
    from dora_ros.tools import mcap_channels as mc

    config = json.loads(sys.argv[1])
    node_id: str = config["node"]
    topics = [f"{node_id}/{output}" for output in config["outputs"]]
    speed = float(config["speed"])
    first = int(config["first_log_time"])
    node = Node()
    sent = 0
    start = time.monotonic()
    offset = 0.0  # seconds added per loop
    try:
        while True:
            last = 0.0
            for schema, channel, message in recorded_messages(config["mcap"], topics):
                due = offset + (message.log_time - first) / 1e9 / speed
                last = due
                delay = start + due - time.monotonic()
                while delay > READ_AHEAD:  # wait, listening for STOP (no inputs: nothing else)
                    event = node.next(timeout=delay)
                    if event is None or event.get("type") == "STOP":
                        raise KeyboardInterrupt
                    delay = start + due - time.monotonic()
                output = channel.topic.partition("/")[2]
                if channel.message_encoding == mc.CDR_ENCODING:
                    from dora_ros import msgconv

                    value = msgconv.decode(schema.name, message.data)
                    from_graph = channel.metadata.get(mc.TYPE_SOURCE_KEY) == "graph"
                    node.send_output(
                        output, value, None if from_graph else {mc.ROS_TYPE_KEY: schema.name}
                    )
                else:
                    value, metadata = mc.read_arrow_message(message.data)
                    node.send_output(output, value, metadata or None)
                sent += 1
            if not config["loop"] or sent == 0:
                break
            offset = last + 0.001  # the next round starts right after this one
    except KeyboardInterrupt:
        pass
    print(f"replayed {sent} messages of {', '.join(topics)}", flush=True)


if __name__ == "__main__":
    main()
