"""Recording throughput: `dora-ros record` of a 1080p Image at 30 Hz plus a 1 kHz Imu, per compression.

Two source nodes send ROS-typed values (msgconv's Arrow types with `ros2.type` metadata, as a
`ros2:` bridge node sends them, so the recorder writes CDR under `ros2msg` schemas):

- `camera`: a 1920x1080 rgb8 `sensor_msgs/Image` every 33 ms (6.2 MB; a gradient with noise, so
  compression has some but not all of its work: about what a camera gives);
- `imu`: a `sensor_msgs/Imu` every millisecond.

For each compression (zstd, lz4, none) the graph runs under `dora-ros record --stop-after` and the
table shows what the sources sent (first row: the same graph under `dora-ros run` alone, the rates
recording must not lower), what the recorder wrote, what it dropped (its writer queue was
full) and what the runtime dropped in front of it (its input queue was full), the data rate written
and the file size. Drops are the figure to watch: writing must never slow the graph, so a disk or
a compressor that cannot keep up shows as drops, not as a slower camera.

    python benchmarks/record.py                 # 10 s per compression
    python benchmarks/record.py --seconds 5 --only zstd
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

DORA_ROS = str(Path(sys.executable).with_name("dora-ros"))

CAMERA = textwrap.dedent(
    """
    import numpy as np
    import pyarrow as pa
    from dora_ros import Node, msgconv

    TYPE = "sensor_msgs/msg/Image"
    t = msgconv.arrow_type(TYPE)
    h, w = 1080, 1920
    rng = np.random.default_rng(1)
    base = (np.add.outer(np.arange(h) // 5, np.arange(w) // 8) % 256).astype(np.uint8)
    frames = [
        (np.repeat(base[:, :, None], 3, axis=2) + rng.integers(0, 8, (h, w, 3), dtype=np.uint8))
        .reshape(-1)
        for _ in range(4)
    ]

    def image(i):
        header = pa.array(
            [{"stamp": {"sec": i // 30, "nanosec": 0}, "frame_id": "camera"}],
            t.field("header").type,
        )
        flat = pa.array(frames[i % 4])
        data = pa.ListArray.from_arrays(pa.array([0, len(flat)], pa.int32()), flat)
        columns = [
            header, pa.array([h], pa.uint32()), pa.array([w], pa.uint32()), pa.array(["rgb8"]),
            pa.array([0], pa.uint8()), pa.array([w * 3], pa.uint32()), data,
        ]
        return pa.StructArray.from_arrays(columns, fields=list(t))

    node = Node()
    sent = 0
    for event in node:
        if event["type"] == "INPUT":
            node.send_output("image", image(sent), {"ros2.type": TYPE})
            sent += 1
    print(f"sent {sent}", flush=True)
    """
)

IMU = textwrap.dedent(
    """
    import pyarrow as pa
    from dora_ros import Node, msgconv

    TYPE = "sensor_msgs/msg/Imu"
    t = msgconv.arrow_type(TYPE)
    row = msgconv.default_value(TYPE).to_pylist()[0]
    node = Node()
    sent = 0
    for event in node:
        if event["type"] == "INPUT":
            row["header"]["stamp"]["nanosec"] = sent % 1000 * 1000000
            row["linear_acceleration"]["z"] = 9.81 + sent * 1e-6
            node.send_output("imu", pa.array([row], t), {"ros2.type": TYPE})
            sent += 1
    print(f"sent {sent}", flush=True)
    """
)

GRAPH = textwrap.dedent(
    """
    nodes:
      - id: camera
        path: camera.py
        inputs:
          tick: dora/timer/millis/33
        outputs: [image]
      - id: imu
        path: imu.py
        inputs:
          tick: dora/timer/millis/1
        outputs: [imu]
    """
)


def run(folder: Path, compression: str, seconds: float) -> dict[str, float]:
    output = folder / f"run-{compression}.mcap"
    result = subprocess.run(
        [
            DORA_ROS,
            "record",
            "graph.yml",
            "-o",
            str(output),
            "--overwrite",
            "--compression",
            compression,
            "--stop-after",
            f"{seconds}s",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=False,
    )
    text = result.stdout + result.stderr
    if result.returncode != 0:
        raise SystemExit(f"record {compression} failed:\n{text}")
    sent = {m[0]: int(m[1]) for m in re.findall(r"^(camera|imu): sent (\d+)$", text, re.M)}
    summary = re.search(
        r"recorded (\d+) messages \(([\d.]+) MiB of message data\) in ([\d.]+) s .*; (\d+) "
        r"dropped[^,\n]*"
        r"(?:, (\d+) still queued)?",
        text,
    )
    assert summary is not None, text
    queue_drops = sum(
        int(n) for n in re.findall(r"'dora-record' input '[^']+': dropped (\d+)", text)
    )
    return {
        "camera": sent.get("camera", 0),
        "imu": sent.get("imu", 0),
        "written": int(summary.group(1)),
        "mib": float(summary.group(2)),
        "seconds": float(summary.group(3)),
        "writer_drops": int(summary.group(4)) + int(summary.group(5) or 0),
        "queue_drops": queue_drops,
        "file_mib": output.stat().st_size / (1 << 20),
    }


def baseline(folder: Path, seconds: float) -> dict[str, int]:
    """What the sources send under `dora-ros run` alone: the rates recording must not lower."""
    result = subprocess.run(
        [DORA_ROS, "run", "graph.yml", "--stop-after", f"{seconds}s"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=False,
    )
    text = result.stdout + result.stderr
    return {m[0]: int(m[1]) for m in re.findall(r"^(camera|imu): sent (\d+)$", text, re.M)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--only", default="zstd,lz4,none", help="compressions, comma-separated")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dora-ros-record-bench-") as tmp:
        folder = Path(tmp)
        (folder / "camera.py").write_text(CAMERA)
        (folder / "imu.py").write_text(IMU)
        (folder / "graph.yml").write_text(GRAPH)
        header = (
            f"{'compression':<12}{'camera sent':>12}{'imu sent':>10}{'written':>9}"
            f"{'writer drops':>14}{'queue drops':>13}{'MiB/s in':>10}{'file MiB':>10}{'ratio':>7}"
        )
        print(f"{args.seconds:g} s per run; camera 1920x1080 rgb8 at 30 Hz, imu at 1 kHz")
        print(header)
        alone = baseline(folder, args.seconds)
        print(
            f"{'(run only)':<12}{alone.get('camera', 0):>12}{alone.get('imu', 0):>10}", flush=True
        )
        for compression in args.only.split(","):
            r = run(folder, compression.strip(), args.seconds)
            rate = r["mib"] / r["seconds"] if r["seconds"] else 0.0
            ratio = r["mib"] / r["file_mib"] if r["file_mib"] else 0.0
            print(
                f"{compression:<12}{r['camera']:>12.0f}{r['imu']:>10.0f}{r['written']:>9.0f}"
                f"{r['writer_drops']:>14.0f}{r['queue_drops']:>13.0f}{rate:>10.1f}"
                f"{r['file_mib']:>10.1f}{ratio:>7.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
