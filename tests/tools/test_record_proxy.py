"""`dora-ros record --proxy`: a running `dora-ros run` recorded through taps, read back by `mcap`.

The recording is read with the `mcap` library, its ROS message decoded by `mcap-ros2-support`
(not msgconv) and its Arrow messages by pyarrow's IPC reader, as in test_record_replay.py.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from live_run import live_run
from mcap.reader import make_reader
from toolrun import DORA_ROS

DATA = Path(__file__).with_name("record_data")

GRAPH = """
nodes:
  - id: source
    path: source.py
    env: {COUNT: 0}
    inputs:
      tick: dora/timer/millis/20
    outputs: [numbers, nested, image]
  - id: chat
    path: chat.py
    inputs:
      tick: dora/timer/millis/50
    outputs: [text]
  - id: sink
    path: sink.py
    env: {OUT: sink.jsonl}
    inputs:
      numbers: {source: source/numbers, queue_size: 100}
"""

# A ROS-typed value without a bridge: one std_msgs/String row that names its type.
CHAT = """
import pyarrow as pa
from dora_ros import Node

STRING = pa.struct([("data", pa.string())])
node = Node()
i = 0
for event in node:
    if event["type"] == "INPUT":
        node.send_output("text", pa.array([{"data": f"hello {i}"}], STRING),
                         {"ros2.type": "std_msgs/msg/String"})
        i += 1
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _messages(path: Path) -> dict[str, list[tuple[Any, Any, Any]]]:
    out: dict[str, list[tuple[Any, Any, Any]]] = {}
    with open(path, "rb") as stream:
        for schema, channel, message in make_reader(stream).iter_messages(log_time_order=True):
            out.setdefault(channel.topic, []).append((schema, channel, message))
    return out


def _arrow(data: bytes) -> tuple[pa.Array, dict[str, Any]]:
    table = pa.ipc.open_stream(data).read_all()
    metadata = json.loads(table.schema.metadata[b"dora.metadata"])
    return table.column("value").combine_chunks(), metadata


def test_record_proxy_writes_the_same_mcap_as_record(tmp_path: Path) -> None:
    from mcap_ros2.decoder import DecoderFactory

    scripts = {
        "source": (DATA / "source.py").read_text(),
        "sink": (DATA / "sink.py").read_text(),
        "chat": CHAT,
    }
    with live_run(tmp_path, name="proxied", graph=GRAPH, **scripts) as run:
        out = tmp_path / "proxy.mcap"
        result = subprocess.run(
            [DORA_ROS, "record", "--proxy", "--name", "proxied", "-o", str(out),
             "--topics", "source/numbers,source/nested,source/image,chat/text",
             "--stop-after", "3s", "--coordinator-port", str(_free_port())],
            env=run.env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        again = subprocess.run(
            [DORA_ROS, "record", "--proxy", "-o", str(out), "--coordinator-port", "1"],
            env=run.env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert again.returncode == 1 and "already exists (use --overwrite" in again.stderr
        unknown = subprocess.run(
            [DORA_ROS, "record", "--proxy", "--name", "nope", "-o", str(tmp_path / "x.mcap"),
             "--coordinator-port", str(_free_port())],
            env=run.env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert unknown.returncode == 1
        assert unknown.stderr.strip() == (
            "error: no running dataflow is called 'nope' (running: proxied)"
        )
    assert "dropped (writer queue full)" in result.stderr and "; 0 dropped" in result.stderr
    # A proxy reads through taps, which never hold a sender up: on a loaded machine (CI, four
    # test workers) a 200 KB image may be dropped on the way, said in one line; the small outputs
    # checked for "none lost" below may not be.
    drops = [line for line in result.stderr.splitlines() if "message(s) dropped" in line]
    assert all("source/image:" in line for line in drops), result.stderr
    messages = _messages(out)
    assert sorted(messages) == ["chat/text", "source/image", "source/nested", "source/numbers"]
    # 3 s at 50 Hz: every message from the first one recorded on, in order, none lost
    numbers = messages["source/numbers"]
    assert len(numbers) >= 20, len(numbers)
    first = None
    for k, (schema, channel, message) in enumerate(numbers):
        assert channel.message_encoding == "arrow.ipc" and schema.encoding == "arrow.ipc.schema"
        assert message.sequence == k
        value, metadata = _arrow(message.data)
        i = metadata["seq"]
        first = i if first is None else first
        assert i == first + k
        assert value.to_pylist() == [i, 2 * i] and metadata == {"seq": i, "label": "n"}
        assert message.publish_time <= message.log_time
    for _, _, message in messages["source/image"]:
        value, metadata = _arrow(message.data)
        expected = ((np.arange(200_000) + metadata["seq"]) % 256).astype(np.uint8)
        assert np.array_equal(value.to_numpy(), expected)
    for _, _, message in messages["source/nested"]:
        value, metadata = _arrow(message.data)
        i = metadata["seq"]
        assert value.to_pylist() == [{"name": f"p{i}", "points": [float(i), i + 0.5]}]
    # the ROS-typed output as CDR under a ros2msg schema, decoded by mcap-ros2-support
    with open(out, "rb") as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        texts = [
            (schema.name, channel.message_encoding, decoded.data)
            for schema, channel, _, decoded in reader.iter_decoded_messages(topics=["chat/text"])
        ]
        summary = reader.get_summary()
    assert len(texts) >= 10
    start = int(texts[0][2].removeprefix("hello "))
    assert texts == [
        ("std_msgs/msg/String", "cdr", f"hello {start + k}") for k in range(len(texts))
    ]
    assert summary is not None and {i.compression for i in summary.chunk_indexes} == {"lz4"}
