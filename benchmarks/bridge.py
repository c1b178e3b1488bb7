"""Bridge latency: a 1920x1080 rgb8 sensor_msgs/Image, ROS -> dora and dora -> ROS, per backend.

Every scenario is a publisher process and a subscriber process on loopback (ROS_DOMAIN_ID 99,
discovery range LOCALHOST). The publisher writes the send time (`CLOCK_MONOTONIC`, one clock for
every process) into `header.stamp` and sends one image every `--period` s, so nothing queues; the
subscriber subtracts it from its own clock once the message is usable in Python:

- rclpy -> rclpy: the peer figure. An rclpy subscription's callback gets the deserialized message.
- ROS -> dora (backend): an rclpy publisher; the dora side is `dora_ros.bridge.Ros2Context` with
  that backend, and the clock is read when `Ros2Subscription.next()` returns the one-row Arrow
  struct array (msgconv decode included, image bytes zero-copy).
- dora -> ROS (backend): `Ros2Publisher.publish()` of an Arrow struct array (msgconv encode
  included) to an rclpy subscription, clock read in its callback.

The ratio column divides each median by rclpy -> rclpy's; the target is within 1.2x.

    python benchmarks/bridge.py              # 30 images per scenario, about 2 minutes
    python benchmarks/bridge.py --count 10   # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WIDTH, HEIGHT = 1920, 1080
DOMAIN = "99"  # last of the bridge tests' range (1-99); loopback only
WARMUP = 3
LINGER = 60.0  # seconds a publisher stays after its last image, until the driver ends it
SCENARIOS = (
    ("rclpy -> rclpy", ("ros_pub", None), ("ros_sub", None)),
    ("ROS -> dora (rclpy backend)", ("ros_pub", None), ("dora_sub", "rclpy")),
    ("dora -> ROS (rclpy backend)", ("dora_pub", "rclpy"), ("ros_sub", None)),
    ("ROS -> dora (cyclonedds backend)", ("ros_pub", None), ("dora_sub", "cyclonedds")),
    ("dora -> ROS (cyclonedds backend)", ("dora_pub", "cyclonedds"), ("ros_sub", None)),
)


def now_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def pixels() -> bytes:
    return bytes(range(256)) * (WIDTH * HEIGHT * 3 // 256)


def emit(**event: object) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


# --- roles (each runs in its own process) -------------------------------------------------------


def ros_pub(topic: str, count: int, period: float, _backend: str | None) -> None:
    import rclpy
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node("bench_ros_pub")
    pub = node.create_publisher(Image, topic, 10)
    msg = Image(height=HEIGHT, width=WIDTH, encoding="rgb8", step=WIDTH * 3, data=pixels())
    wait_matched(lambda: pub.get_subscription_count())
    for _ in range(count + WARMUP):
        t = now_ns()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(t, 1_000_000_000)
        pub.publish(msg)
        time.sleep(period)
    time.sleep(LINGER)  # reliable repairs may still be under way; the driver ends us


def ros_sub(topic: str, count: int, _period: float, _backend: str | None) -> None:
    import rclpy
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node("bench_ros_sub")
    seen = []

    def on_image(msg: Image) -> None:
        latency = now_ns() - (msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec)
        assert len(msg.data) == WIDTH * HEIGHT * 3
        seen.append(latency)
        emit(event="latency", ns=latency)

    node.create_subscription(Image, topic, on_image, 10)
    emit(event="ready")
    deadline = time.monotonic() + 60 + count * 2
    while len(seen) < count + WARMUP and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.5)
    node.destroy_node()
    rclpy.try_shutdown()


def dora_pub(topic: str, count: int, period: float, backend: str | None) -> None:
    import numpy as np
    import pyarrow as pa

    from dora_ros.bridge import Ros2Context, Ros2NodeOptions, Ros2QosPolicies

    with Ros2Context(backend=backend) as context:
        node = context.new_node("bench_dora_pub", "/", Ros2NodeOptions())
        pub = node.create_publisher(
            node.create_topic(topic, "sensor_msgs/msg/Image", Ros2QosPolicies())
        )
        # What a camera node sends: the pixels as a list<uint8> over a numpy buffer (no copy).
        image_bytes = pa.ListArray.from_arrays(
            pa.array([0, WIDTH * HEIGHT * 3], pa.int32()),
            pa.array(np.frombuffer(pixels(), np.uint8)),
        )
        wait_matched(pub.matched_count)
        for _ in range(count + WARMUP):
            sec, nanosec = divmod(now_ns(), 1_000_000_000)
            value = pa.StructArray.from_arrays(
                [
                    pa.array([{"stamp": {"sec": sec, "nanosec": nanosec}, "frame_id": ""}]),
                    pa.array([HEIGHT], pa.uint32()),
                    pa.array([WIDTH], pa.uint32()),
                    pa.array(["rgb8"]),
                    pa.array([WIDTH * 3], pa.uint32()),
                    image_bytes,
                ],
                names=["header", "height", "width", "encoding", "step", "data"],
            )
            pub.publish(value)
            time.sleep(period)
        time.sleep(LINGER)  # reliable repairs may still be under way; the driver ends us


def dora_sub(topic: str, count: int, _period: float, backend: str | None) -> None:
    from dora_ros.bridge import Ros2Context, Ros2NodeOptions, Ros2QosPolicies

    with Ros2Context(backend=backend) as context:
        node = context.new_node("bench_dora_sub", "/", Ros2NodeOptions())
        sub = node.create_subscription(
            node.create_topic(topic, "sensor_msgs/msg/Image", Ros2QosPolicies())
        )
        emit(event="ready")
        for _ in range(count + WARMUP):
            value = sub.next(60.0)
            if value is None:
                emit(event="timeout")
                return
            stamp = value.field("header").field("stamp")
            latency = now_ns() - (
                stamp.field("sec")[0].as_py() * 1_000_000_000 + stamp.field("nanosec")[0].as_py()
            )
            assert len(value.field("data").flatten()) == WIDTH * HEIGHT * 3
            emit(event="latency", ns=latency)


def wait_matched(matched: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not matched() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)
    time.sleep(1.0)  # the other side matches us a moment later (discovery is per direction)


ROLES = {"ros_pub": ros_pub, "ros_sub": ros_sub, "dora_pub": dora_pub, "dora_sub": dora_sub}


# --- driver -------------------------------------------------------------------------------------


def spawn(
    role: str, backend: str | None, topic: str, args: argparse.Namespace, log: Path
) -> subprocess.Popen:
    env = dict(os.environ, ROS_DOMAIN_ID=DOMAIN, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    cmd = [sys.executable, __file__, "--role", role, "--topic", topic]
    cmd += ["--count", str(args.count), "--period", str(args.period)]
    if backend:
        cmd += ["--backend", backend]
    with log.open("w") as err:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env)


def run_scenario(
    index: int, pub: tuple, sub: tuple, args: argparse.Namespace, logs: Path
) -> list[float]:
    topic = f"/bench_{os.getpid()}/image_{index}"  # two runs at once must not see each other
    receiver = spawn(sub[0], sub[1], topic, args, logs / f"{index}_{sub[0]}.log")
    sender = spawn(pub[0], pub[1], topic, args, logs / f"{index}_{pub[0]}.log")
    latencies: list[float] = []
    try:
        assert receiver.stdout is not None
        for line in receiver.stdout:  # the receiver exits after count + WARMUP images
            event = json.loads(line)
            if event["event"] == "latency":
                latencies.append(event["ns"] / 1e6)
    finally:
        for proc in (receiver, sender):
            if proc is sender:
                proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return latencies[WARMUP:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=30, help="images per scenario")
    parser.add_argument("--period", type=float, default=0.5, help="seconds between images")
    parser.add_argument(
        "--only",
        help="comma-separated substrings of scenario names to run (rclpy -> rclpy always runs)",
    )
    parser.add_argument("--role", choices=ROLES, help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        ROLES[args.role](args.topic, args.count, args.period, args.backend)
        return

    print(
        f"sensor_msgs/Image {WIDTH}x{HEIGHT} rgb8 ({WIDTH * HEIGHT * 3 / 1e6:.1f} MB), "
        f"{args.count} images per scenario, one every {args.period} s, one-way latency (ms)"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_bridge_") as tmp:
        for index, (label, pub, sub) in enumerate(SCENARIOS):
            if index and args.only and not any(o in label for o in args.only.split(",")):
                continue
            latencies = run_scenario(index, pub, sub, args, Path(tmp))
            rows.append((label, latencies))
            if len(latencies) < args.count:
                for log in sorted(Path(tmp).glob(f"{index}_*.log")):
                    print(f"{label}: {log.name}:\n{log.read_text()[-2000:]}", file=sys.stderr)
    base = statistics.median(rows[0][1]) if rows[0][1] else float("nan")
    print(f"\n{'scenario':36} {'n':>4} {'median':>8} {'p90':>8} {'ratio':>7}")
    for label, latencies in rows:
        if not latencies:
            print(f"{label:36} {0:>4} {'-':>8} {'-':>8} {'-':>7}")
            continue
        median = statistics.median(latencies)
        p90 = statistics.quantiles(latencies, n=10)[-1] if len(latencies) > 1 else median
        print(f"{label:36} {len(latencies):>4} {median:8.2f} {p90:8.2f} {median / base:6.2f}x")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
