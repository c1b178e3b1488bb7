"""Bridge latency: a 1920x1080 rgb8 sensor_msgs/Image, ROS -> dora and dora -> ROS, per backend.

Every scenario is one publisher and one subscriber on this host (ROS_DOMAIN_ID 99, ROS's default
discovery range SUBNET, or LOCALHOST with `--localhost`), each on its own topic. The publisher
writes the send time (`CLOCK_MONOTONIC`, one clock for every process) into `header.stamp` and the
round number into `header.frame_id`; the subscriber subtracts the stamp from its own clock once the
message is usable in Python:

- rclpy -> rclpy: the peer figure. An rclpy subscription's callback gets the deserialized message.
- ROS -> dora (backend API): an rclpy publisher; the dora side is `dora_ros.bridge.Ros2Context`
  with that backend, and the clock is read when `Ros2Subscription.next()` returns the one-row
  Arrow struct array (msgconv decode included, image bytes zero-copy).
- dora -> ROS (backend API): `Ros2Publisher.publish()` of an Arrow struct array (msgconv encode
  included) to an rclpy subscription, clock read in its callback.
- ROS -> dora (backend YAML) and dora -> ROS (backend YAML): the `ros2:` bridge node of a
  `dora-ros run` dataflow, between a dora node and rclpy: the image also crosses dora's shared
  memory between the dora node and the bridge process (one more hop than the API scenarios).

Fair by construction: every rclpy publisher of a scenario is the same process (`ros_pub`), and so
is every rclpy subscriber (`ros_sub`). All processes run at once and take turns: round k of
scenario i is sent at start + (k * n + i) * slot, so a busy machine slows every scenario alike and
only one image is in flight at a time. The first rounds are warm-up (discarded). The ratio column
divides each median by rclpy -> rclpy's; the target is within 1.2x.

    python benchmarks/bridge.py              # 30 images per scenario, about 2 minutes
    python benchmarks/bridge.py --count 10   # smoke run
    python benchmarks/bridge.py --only "rclpy API,YAML"  # subsets (rclpy -> rclpy always runs)
    python benchmarks/bridge.py --large-data  # Fast DDS participants tuned for large messages

With Fast DDS's defaults two settings decide how fast a 6 MB image arrives: the *sending*
participant's shared-memory segment (512 kB: the image's fragments wait for space in it or are
dropped and repaired, and rclpy -> rclpy takes ~115 ms here, ~20 ms with 8 MB) and the
*receiving* participant's UDP receive buffer (the OS default, `net.core.rmem_default`, ~208 kB,
through which it receives every non-Fast DDS writer such as the Cyclone backend). The bridge
sizes its own participant (docs/bridge.md, Performance); the ROS peers keep Fast DDS's defaults
unless `--large-data` gives every Fast DDS participant of the run an XML profile
(`FASTDDS_DEFAULT_PROFILES_FILE`) with an 8 MB segment and 4 MB socket buffers, which the kernel
caps at `net.core.rmem_max`. Not with `--localhost`: rmw_fastrtps then adds its own transports
next to the profile's.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WIDTH, HEIGHT = 1920, 1080
DOMAIN = "99"  # last of the bridge tests' range (1-99); loopback only
WARMUP = 3  # rounds discarded
START_DELAY = 15.0  # s from launch to the first round: every process up and matched
GRACE = 10.0  # s after the last round's slot before the driver stops waiting
LARGE_DATA_PROFILE = """\
<?xml version="1.0" encoding="UTF-8" ?>
<dds xmlns="http://www.eprosima.com">
  <profiles>
    <transport_descriptors>
      <transport_descriptor>
        <transport_id>udp_large</transport_id>
        <type>UDPv4</type>
        <sendBufferSize>4194304</sendBufferSize>
        <receiveBufferSize>4194304</receiveBufferSize>
      </transport_descriptor>
      <transport_descriptor>
        <transport_id>shm_large</transport_id>
        <type>SHM</type>
        <segment_size>8388608</segment_size>
      </transport_descriptor>
    </transport_descriptors>
    <participant profile_name="large_data" is_default_profile="true">
      <rtps>
        <userTransports>
          <transport_id>udp_large</transport_id>
          <transport_id>shm_large</transport_id>
        </userTransports>
        <useBuiltinTransports>false</useBuiltinTransports>
      </rtps>
    </participant>
  </profiles>
</dds>
"""
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Scenario:
    label: str
    sender: str  # "ros_pub", "dora_pub:<backend>", "yaml:<backend>"
    receiver: str  # "ros_sub", "dora_sub:<backend>", "yaml:<backend>"


SCENARIOS = (
    Scenario("rclpy -> rclpy", "ros_pub", "ros_sub"),
    Scenario("ROS -> dora (rclpy API)", "ros_pub", "dora_sub:rclpy"),
    Scenario("dora -> ROS (rclpy API)", "dora_pub:rclpy", "ros_sub"),
    Scenario("ROS -> dora (cyclonedds API)", "ros_pub", "dora_sub:cyclonedds"),
    Scenario("dora -> ROS (cyclonedds API)", "dora_pub:cyclonedds", "ros_sub"),
    Scenario("ROS -> dora (rclpy YAML)", "ros_pub", "yaml:rclpy"),
    Scenario("dora -> ROS (rclpy YAML)", "yaml:rclpy", "ros_sub"),
    Scenario("ROS -> dora (cyclonedds YAML)", "ros_pub", "yaml:cyclonedds"),
    Scenario("dora -> ROS (cyclonedds YAML)", "yaml:cyclonedds", "ros_sub"),
)


def now_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def pixels() -> bytes:
    return bytes(range(256)) * (WIDTH * HEIGHT * 3 // 256)


def emit(**event: object) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


@dataclass(frozen=True)
class Plan:
    """What every role is told: its scenarios (index -> topic) and the common schedule."""

    topics: dict[int, str]  # this role's scenarios
    start: int  # ns, CLOCK_MONOTONIC, of round 0's first slot
    slot: float  # s between two images (of any scenario)
    active: tuple[int, ...]  # every scenario of the run, in turn order
    rounds: int

    def send_times(self, index: int) -> list[tuple[int, int]]:
        """(round, time in ns) of every image of scenario `index`, in order."""
        position, step = self.active.index(index), int(self.slot * 1e9)
        n = len(self.active)
        return [(k, self.start + (k * n + position) * step) for k in range(self.rounds)]

    def dumps(self) -> str:
        return json.dumps(
            {
                "topics": self.topics,
                "start": self.start,
                "slot": self.slot,
                "active": self.active,
                "rounds": self.rounds,
            }
        )

    @classmethod
    def loads(cls, text: str) -> Plan:
        raw = json.loads(text)
        topics = {int(k): v for k, v in raw["topics"].items()}
        return cls(topics, raw["start"], raw["slot"], tuple(raw["active"]), raw["rounds"])


def wait_until(t_ns: int) -> None:
    delay = (t_ns - now_ns()) / 1e9
    if delay > 0:
        time.sleep(delay)


def schedule(plan: Plan) -> list[tuple[int, int, int]]:
    """(time ns, scenario, round) of every image this process sends, in time order."""
    return sorted((t, i, k) for i in plan.topics for k, t in plan.send_times(i))


def image_value(sec: int, nanosec: int, frame_id: str, data: object) -> object:
    """The one-row struct array a camera node sends (pixels: a list<uint8> over numpy, no copy).

    Built from typed arrays (0.16 ms; inferring the header from a dict took 0.4 ms warm, 1.6 ms
    between images), as a camera node that cares would: the clock runs from before this call.
    """
    import pyarrow as pa

    stamp = pa.StructArray.from_arrays(
        [pa.array([sec], pa.int32()), pa.array([nanosec], pa.uint32())], names=["sec", "nanosec"]
    )
    return pa.StructArray.from_arrays(
        [
            pa.StructArray.from_arrays([stamp, pa.array([frame_id])], names=["stamp", "frame_id"]),
            pa.array([HEIGHT], pa.uint32()),
            pa.array([WIDTH], pa.uint32()),
            pa.array(["rgb8"]),
            pa.array([WIDTH * 3], pa.uint32()),
            data,
        ],
        names=["header", "height", "width", "encoding", "step", "data"],
    )


def image_bytes() -> object:
    import numpy as np
    import pyarrow as pa

    return pa.ListArray.from_arrays(
        pa.array([0, WIDTH * HEIGHT * 3], pa.int32()), pa.array(np.frombuffer(pixels(), np.uint8))
    )


def arrow_latency(value: object, index: int) -> dict[str, int]:
    """The latency event of a received one-row Image struct array (clock read first)."""
    t = now_ns()
    header = value.field("header")  # type: ignore[attr-defined]
    stamp = header.field("stamp")
    sent = stamp.field("sec")[0].as_py() * 1_000_000_000 + stamp.field("nanosec")[0].as_py()
    assert len(value.field("data").flatten()) == WIDTH * HEIGHT * 3  # type: ignore[attr-defined]
    return {"s": index, "round": int(header.field("frame_id")[0].as_py()), "ns": t - sent}


# --- roles (each runs in its own process) -------------------------------------------------------


def ros_pub(plan: Plan, _backend: str | None) -> None:
    import rclpy
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node("bench_ros_pub")
    pubs = {i: node.create_publisher(Image, topic, 10) for i, topic in plan.topics.items()}
    msg = Image(height=HEIGHT, width=WIDTH, encoding="rgb8", step=WIDTH * 3, data=pixels())
    for t, i, k in schedule(plan):
        wait_until(t)
        if not pubs[i].get_subscription_count():
            emit(event="skipped", s=i, round=k)  # the subscriber is not matched (yet)
            continue
        stamp = now_ns()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
        msg.header.frame_id = str(k)
        pubs[i].publish(msg)
    time.sleep(3600)  # reliable repairs may still be under way; the driver ends us


def ros_sub(plan: Plan, _backend: str | None) -> None:
    import rclpy
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node("bench_ros_sub")

    def callback(index: int) -> Any:
        def on_image(msg: Image) -> None:
            t = now_ns()
            latency = t - (msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec)
            assert len(msg.data) == WIDTH * HEIGHT * 3
            emit(event="latency", s=index, round=int(msg.header.frame_id), ns=latency)

        return on_image

    for i, topic in plan.topics.items():
        node.create_subscription(Image, topic, callback(i), 10)
    while True:
        rclpy.spin_once(node, timeout_sec=0.5)


def dora_pub(plan: Plan, backend: str | None) -> None:
    from dora_ros.bridge import Ros2Context, Ros2NodeOptions, Ros2QosPolicies

    data = image_bytes()
    with Ros2Context(backend=backend) as context:
        node = context.new_node(f"bench_dora_pub_{backend}", "/", Ros2NodeOptions())
        pubs = {
            i: node.create_publisher(
                node.create_topic(topic, "sensor_msgs/msg/Image", Ros2QosPolicies())
            )
            for i, topic in plan.topics.items()
        }
        for t, i, k in schedule(plan):
            wait_until(t)
            if not pubs[i].matched_count():
                emit(event="skipped", s=i, round=k)
                continue
            sec, nanosec = divmod(now_ns(), 1_000_000_000)
            pubs[i].publish(image_value(sec, nanosec, str(k), data))
        time.sleep(3600)  # reliable repairs may still be under way; the driver ends us


def dora_sub(plan: Plan, backend: str | None) -> None:
    import select

    from dora_ros.bridge import Ros2Context, Ros2NodeOptions, Ros2QosPolicies

    with Ros2Context(backend=backend) as context:
        node = context.new_node(f"bench_dora_sub_{backend}", "/", Ros2NodeOptions())
        subs = {
            node.create_subscription(
                node.create_topic(topic, "sensor_msgs/msg/Image", Ros2QosPolicies())
            ): i
            for i, topic in plan.topics.items()
        }
        while True:
            ready, _, _ = select.select(list(subs), [], [], 1.0)
            for sub in ready:
                value = sub.next(0.0)
                if value is not None:
                    emit(event="latency", **arrow_latency(value, subs[sub]))


def camera(plan: Plan, _backend: str | None) -> None:
    """A dora node of the YAML dataflow: sends its images on output `image_<scenario>`."""
    from dora_ros import Node

    data = image_bytes()
    node = Node()
    for t, i, k in schedule(plan):
        wait_until(t)
        sec, nanosec = divmod(now_ns(), 1_000_000_000)
        node.send_output(f"image_{i}", image_value(sec, nanosec, str(k), data))
    for event in node:  # until the driver stops the dataflow
        if event["type"] == "STOP":
            break


def sink(plan: Plan, _backend: str | None) -> None:
    """A dora node of the YAML dataflow: one latency line per image into $BENCH_SINK_OUT."""
    from dora_ros import Node

    node = Node()
    out_path = os.environ["BENCH_SINK_OUT"]
    with open(out_path, "a") as out:
        for event in node:
            if event["type"] == "STOP":
                break
            if event["type"] == "INPUT":
                index = int(event["id"].rsplit("_", 1)[1])
                out.write(json.dumps({"event": "latency", **arrow_latency(event["value"], index)}))
                out.write("\n")
                out.flush()


ROLES = {
    "ros_pub": ros_pub,
    "ros_sub": ros_sub,
    "dora_pub": dora_pub,
    "dora_sub": dora_sub,
    "camera": camera,
    "sink": sink,
}


# --- driver -------------------------------------------------------------------------------------


def yaml_graph(backend: str, plan_out: Plan, plan_in: Plan, log_dir: Path) -> str:
    """A dataflow: camera -> ros2 bridge (publish) and ros2 bridge (subscribe) -> sink."""
    topics = []
    for i, topic in plan_out.topics.items():  # dora -> ROS
        topics.append(
            {
                "topic": topic,
                "message_type": "sensor_msgs/Image",
                "direction": "publish",
                "input": f"image_{i}",
            }
        )
    for i, topic in plan_in.topics.items():  # ROS -> dora
        topics.append({"topic": topic, "message_type": "sensor_msgs/Image", "output": f"image_{i}"})
    env = {"ROS_DOMAIN_ID": DOMAIN}  # the discovery range comes from `dora-ros run`'s environment
    nodes: list[dict[str, object]] = [
        {
            "id": "ros",
            "ros2": {"node_name": f"bench_yaml_{backend}", "backend": backend, "topics": topics},
            "inputs": {f"image_{i}": f"camera/image_{i}" for i in plan_out.topics},
            "env": env,
        }
    ]
    if plan_out.topics:
        nodes.append(
            {
                "id": "camera",
                "path": str(Path(__file__).resolve()),
                "args": ["--role", "camera", "--plan", plan_out.dumps()],
                "outputs": [f"image_{i}" for i in plan_out.topics],
                "env": env,
            }
        )
    if plan_in.topics:
        nodes.append(
            {
                "id": "sink",
                "path": str(Path(__file__).resolve()),
                "args": ["--role", "sink", "--plan", plan_in.dumps()],
                "inputs": {f"image_{i}": f"ros/image_{i}" for i in plan_in.topics},
                "env": {**env, "BENCH_SINK_OUT": str(log_dir / f"sink_{backend}.jsonl")},
            }
        )
    return json.dumps({"nodes": nodes}, indent=1)  # JSON is YAML


class Driver:
    def __init__(self, args: argparse.Namespace, active: list[int], work: Path) -> None:
        self.args = args
        self.active = active
        self.work = work
        self.procs: list[subprocess.Popen] = []
        self.events: list[dict] = []
        self.lock = threading.Lock()
        self.run_id = os.getpid()
        self.start = now_ns() + int(args.start_delay * 1e9)

    def plan(self, indices: list[int]) -> Plan:
        return Plan(
            {i: f"/bench_{self.run_id}/image_{i}" for i in indices},
            self.start,
            self.args.slot,
            tuple(self.active),
            self.args.count + WARMUP,
        )

    def env(self) -> dict[str, str]:
        env = dict(os.environ, ROS_DOMAIN_ID=DOMAIN, ROS_AUTOMATIC_DISCOVERY_RANGE=self.args.range)
        if self.args.large_data:
            profile = self.work / "fastdds_large_data.xml"
            profile.write_text(LARGE_DATA_PROFILE)
            env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(profile)
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        return env

    def spawn(self, argv: list[str], name: str, read_stdout: bool) -> None:
        log = (self.work / f"{name}.log").open("w")
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE if read_stdout else log,
            stderr=log if read_stdout else subprocess.STDOUT,
            text=True,
            env=self.env(),
            cwd=self.work,
            start_new_session=True,  # the driver ends the whole group (dora-ros run and its nodes)
        )
        self.procs.append(proc)
        if read_stdout:
            threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.events.append(event)

    def role(self, role: str, backend: str | None, indices: list[int]) -> None:
        if not indices:
            return
        argv = [sys.executable, __file__, "--role", role, "--plan", self.plan(indices).dumps()]
        if backend:
            argv += ["--backend", backend]
        self.spawn(argv, f"{role}_{backend or 'ros'}", read_stdout=True)

    def run(self) -> dict[int, list[float]]:
        by: dict[str, list[int]] = {}  # sender or receiver -> scenario indices
        for i in self.active:
            by.setdefault(SCENARIOS[i].sender, []).append(i)
            by.setdefault(SCENARIOS[i].receiver, []).append(i)
        try:
            self.role("ros_sub", None, [i for i in by.get("ros_sub", [])])
            self.role("ros_pub", None, [i for i in by.get("ros_pub", [])])
            for backend in ("rclpy", "cyclonedds"):
                self.role("dora_pub", backend, by.get(f"dora_pub:{backend}", []))
                self.role("dora_sub", backend, by.get(f"dora_sub:{backend}", []))
                yaml = by.get(f"yaml:{backend}", [])
                if yaml:
                    out = [i for i in yaml if SCENARIOS[i].sender == f"yaml:{backend}"]
                    into = [i for i in yaml if SCENARIOS[i].receiver == f"yaml:{backend}"]
                    graph = self.work / f"graph_{backend}.yml"
                    graph.write_text(
                        yaml_graph(backend, self.plan(out), self.plan(into), self.work)
                    )
                    self.spawn([str(BIN / "dora-ros"), "run", str(graph)], f"yaml_{backend}", False)
            rounds = self.args.count + WARMUP
            end = self.start + int((rounds * len(self.active) * self.args.slot + GRACE) * 1e9)
            while now_ns() < end and not self._complete(rounds):
                time.sleep(0.5)
        finally:
            self.stop()
        latencies: dict[int, list[float]] = {i: [] for i in self.active}
        for event in self.events + self._sink_events():
            if event.get("event") == "latency" and event["round"] >= WARMUP:
                latencies[event["s"]].append(event["ns"] / 1e6)
        return latencies

    def _sink_events(self) -> list[dict]:
        events = []
        for path in self.work.glob("sink_*.jsonl"):
            events += [json.loads(line) for line in path.read_text().splitlines() if line]
        return events

    def _complete(self, rounds: int) -> bool:
        with self.lock:
            seen = {(e["s"], e["round"]) for e in self.events if e.get("event") == "latency"}
        seen |= {(e["s"], e["round"]) for e in self._sink_events()}
        return len(seen) >= rounds * len(self.active)

    def stop(self) -> None:
        for proc in self.procs:  # SIGINT first: dora-ros run stops its dataflow cleanly
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=30, help="images per scenario")
    parser.add_argument(
        "--slot", type=float, default=0.25, help="seconds between two images (of any scenario)"
    )
    parser.add_argument("--start-delay", type=float, default=START_DELAY, help=argparse.SUPPRESS)
    parser.add_argument(
        "--only",
        help="comma-separated substrings of scenario names to run (rclpy -> rclpy always runs)",
    )
    parser.add_argument("--keep-logs", action="store_true", help="print where the logs are kept")
    parser.add_argument(
        "--localhost",
        dest="range",
        action="store_const",
        const="LOCALHOST",
        default="SUBNET",
        help="discovery range LOCALHOST (rmw_fastrtps then sets up its own transports, which the "
        "bridge's Fast DDS sizing does not reach)",
    )
    parser.add_argument(
        "--large-data",
        action="store_true",
        help="give every Fast DDS participant an 8 MB shared-memory segment and 4 MB UDP buffers",
    )
    parser.add_argument("--role", choices=ROLES, help=argparse.SUPPRESS)
    parser.add_argument("--plan", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.large_data and args.range == "LOCALHOST":
        parser.error("--large-data needs discovery range SUBNET (leave out --localhost)")
    if args.role:
        ROLES[args.role](Plan.loads(args.plan), args.backend)
        return

    active = [
        i
        for i, s in enumerate(SCENARIOS)
        if i == 0 or not args.only or any(o in s.label for o in args.only.split(","))
    ]
    rounds = args.count + WARMUP
    print(
        f"sensor_msgs/Image {WIDTH}x{HEIGHT} rgb8 ({WIDTH * HEIGHT * 3 / 1e6:.1f} MB), "
        f"{args.count} images per scenario (+{WARMUP} warm-up), scenarios taking turns every "
        f"{args.slot} s ({rounds * len(active) * args.slot + args.start_delay:.0f} s), "
        "one-way latency (ms)"
        + f", discovery range {args.range}"
        + (
            ", every Fast DDS profile for large data"
            if args.large_data
            else ", ROS peers on Fast DDS defaults"
        )
    )
    tmp = tempfile.mkdtemp(prefix="bench_bridge_")
    latencies = Driver(args, active, Path(tmp)).run()
    base = statistics.median(latencies[0]) if latencies[0] else float("nan")
    print(f"\n{'scenario':34} {'n':>4} {'median':>8} {'p90':>8} {'ratio':>7}")
    for i in active:
        values, label = latencies[i], SCENARIOS[i].label
        if not values:
            print(f"{label:34} {0:>4} {'-':>8} {'-':>8} {'-':>7}")
            continue
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1] if len(values) > 1 else median
        print(f"{label:34} {len(values):>4} {median:8.2f} {p90:8.2f} {median / base:6.2f}x")
    missing = [SCENARIOS[i].label for i in active if len(latencies[i]) < args.count]
    if missing or args.keep_logs:
        print(
            f"\nlogs: {tmp}"
            + (f" (fewer images than asked: {', '.join(missing)})" if missing else "")
        )
    else:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
