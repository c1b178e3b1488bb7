"""A tap of a small output is not lost behind a tap of a large one when its listener falls behind.

A supervisor publishes every tap on its one Zenoh session, dropping under congestion
(`cluster/tap_server.py`). Before, every tap had the same priority, so the same Zenoh queue: 200 KB
images filled it, and the small outputs tapped beside them were dropped with them (seen as a flake
of test_record_proxy.py on a loaded machine). Here the congestion is made on purpose: the
listener (`record --proxy`) is stopped (SIGSTOP) for a while as the images keep coming.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

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
"""


def test_small_taps_are_not_dropped_behind_a_large_one(tmp_path: Path) -> None:
    source = (DATA / "source.py").read_text()
    with live_run(tmp_path, name="tapped", graph=GRAPH, source=source) as run:
        out = tmp_path / "proxy.mcap"
        proc = subprocess.Popen(
            [DORA_ROS, "record", "--proxy", "--name", "tapped", "-o", str(out),
             "--topics", "source/numbers,source/nested,source/image", "--stop-after", "7s"],
            env=run.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            time.sleep(2.0)  # recording by then
            proc.send_signal(signal.SIGSTOP)
            time.sleep(2.5)  # well past what the Zenoh session buffers (0.6 s lost nothing)
            proc.send_signal(signal.SIGCONT)
            _, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, stderr
    dropped = {line.split(": ")[1]: int(line.split(": ")[2].split()[0])
               for line in stderr.splitlines() if "message(s) dropped" in line}  # fmt: skip
    # The listener fell behind (else this test shows nothing): 2.5 s of images, 125, could not
    # wait for it, and were lost on the way...
    assert dropped.get("source/image", 0) >= 20, stderr
    # ...while the small messages sent beside them waited in their own queue. Before, they were
    # lost with the images (41-42 of each in three runs); with the images' taps one priority
    # lower, 0 or 1 of them (a Zenoh queue of their own still has a bound).
    assert dropped.get("source/numbers", 0) <= 5 and dropped.get("source/nested", 0) <= 5, stderr
    sequences: dict[str, list[int]] = {}
    with open(out, "rb") as stream:
        for _, channel, message in make_reader(stream).iter_messages(log_time_order=True):
            sequences.setdefault(channel.topic, []).append(message.sequence)
    assert len(sequences["source/numbers"]) >= 100, {k: len(v) for k, v in sequences.items()}
