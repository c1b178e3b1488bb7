"""The rclpy backend's Fast DDS participant gets transports sized for large messages.

Fast DDS sizes its built-in transports from the OS socket defaults (a 512 kB shared-memory segment),
so a 1080p image leaves a default participant over UDP; the bridge's participant asks for 4 MiB
sockets and so an 8 MiB segment instead (`rclpy_backend.fastdds_sockets_size`). rmw_fastrtps
replaces the built-in transports under `ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`, so these tests
run with ROS's default range (SUBNET) on a domain of their own. Each bridge runs in a fresh
interpreter: Fast DDS reads the sizes when a process creates its participant.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cyclone_helpers import JAZZY_PYTHON
from ros_peers import REPO, Peer, name

DOMAIN = 65
RMEM_DEFAULT = int(Path("/proc/sys/net/core/rmem_default").read_text())
IMAGE_SIZE = 1920 * 1080 * 3

# A bridge node through the Python API: reports the receive buffers of its UDP sockets and whether
# Fast DDS's variable is still set, then (given a topic) publishes a 1080p image every 0.3 s.
PROBE = """
import json, os, socket, sys, time
import numpy as np
import pyarrow as pa
from dora_ros.bridge import Ros2Context, Ros2NodeOptions, Ros2QosPolicies
node = Ros2Context().new_node("fastdds_probe", "/", Ros2NodeOptions())
sizes = []
for fd in os.listdir("/proc/self/fd"):
    try:
        if not os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
            continue
        sock = socket.socket(fileno=os.dup(int(fd)))
    except OSError:
        continue
    if sock.type == socket.SOCK_DGRAM:
        sizes.append(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    sock.close()
print(json.dumps({"rcvbuf": sizes, "env": os.environ.get("FASTDDS_BUILTIN_TRANSPORTS")}), flush=True)
if len(sys.argv) > 1:
    data = (np.arange(1920 * 1080 * 3, dtype=np.uint32) % 251).astype(np.uint8)
    image = pa.StructArray.from_arrays(
        [pa.array([1080], pa.uint32()), pa.array([1920], pa.uint32()), pa.array(["rgb8"]),
         pa.array([5760], pa.uint32()),
         pa.ListArray.from_arrays(pa.array([0, data.size], pa.int32()), pa.array(data))],
        names=["height", "width", "encoding", "step", "data"],
    )
    topic = node.create_topic(sys.argv[1], "sensor_msgs/Image", Ros2QosPolicies())
    pub = node.create_publisher(topic)
    for _ in range(200):
        pub.publish(image)
        time.sleep(0.3)
"""


def bridge_env(**extra: str) -> dict[str, str]:
    """This test's environment, without any Fast DDS configuration of the user's."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("FASTDDS_", "FASTRTPS_"))}
    environ.pop("DORA_ROS_FASTDDS_SOCKETS_SIZE", None)
    environ.update(
        ROS_DOMAIN_ID=str(DOMAIN),
        ROS_AUTOMATIC_DISCOVERY_RANGE="SUBNET",
        # Unicast to this host's participants too, so discovery does not rest on multicast alone.
        ROS_STATIC_PEERS="127.0.0.1",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(REPO),
        **extra,
    )
    return environ


def probe(*args: str, **extra: str) -> tuple[subprocess.Popen[str], dict]:
    proc = subprocess.Popen(
        [sys.executable, "-c", PROBE, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=bridge_env(**extra),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise AssertionError(proc.communicate(timeout=30)[1])
    return proc, json.loads(line)


def stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.communicate(timeout=30)


@pytest.mark.parametrize(
    "python",
    [
        pytest.param(sys.executable, id="kilted"),
        pytest.param(
            JAZZY_PYTHON,
            id="jazzy",  # Fast DDS 2.14 reading a Fast DDS 3 segment of another size
            marks=pytest.mark.skipif(
                not JAZZY_PYTHON.exists(), reason=".venv-jazzy is missing: `make test` creates it"
            ),
        ),
    ],
)
def test_large_image_reaches_a_default_rclpy_peer(python: Path | str) -> None:
    topic = name(f"/fastdds/image_{'jazzy' if python == JAZZY_PYTHON else 'kilted'}")
    peer = Peer(
        "topic_peer.py",
        {"listen": [{"topic": topic, "type": "sensor_msgs/msg/Image"}]},
        DOMAIN,
        environ=bridge_env(),  # Fast DDS's defaults on the ROS side
        python=python,
    )
    try:
        peer.ready()
        bridge, sockets = probe(topic)
        try:
            # Asked for 4 MiB, capped by net.core.rmem_max; the kernel reports twice what it keeps.
            assert max(sockets["rcvbuf"]) > RMEM_DEFAULT, sockets
            assert sockets["env"] is None  # set only while the participant was created
            seen = peer.wait(lambda e: e.get("topic") == topic, 40)["value"]
        finally:
            stop(bridge)
    finally:
        peer.stop()
    data = (bytes(range(251)) * (IMAGE_SIZE // 251 + 1))[:IMAGE_SIZE]
    assert seen["data"] == {"len": IMAGE_SIZE, "sha256": hashlib.sha256(data).hexdigest()}
    assert (seen["height"], seen["width"], seen["encoding"]) == (1080, 1920, "rgb8")


@pytest.mark.parametrize(
    "setting",
    [
        {"DORA_ROS_FASTDDS_SOCKETS_SIZE": "0"},
        {"FASTDDS_BUILTIN_TRANSPORTS": "DEFAULT"},
    ],
    ids=["turned-off", "user-configured"],
)
def test_fast_dds_defaults_when_asked_or_configured(setting: dict[str, str]) -> None:
    bridge, sockets = probe(**setting)
    stop(bridge)
    assert sockets["rcvbuf"] and max(sockets["rcvbuf"]) == RMEM_DEFAULT, sockets
    assert sockets["env"] == setting.get("FASTDDS_BUILTIN_TRANSPORTS"), "the user's value is kept"


@pytest.mark.parametrize("value", ["4MB", "-1", "4294967296"])
def test_bad_size_names_the_variable(value: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env=bridge_env(DORA_ROS_FASTDDS_SOCKETS_SIZE=value),
        timeout=60,
    )
    assert out.returncode != 0
    assert f"DORA_ROS_FASTDDS_SOCKETS_SIZE={value!r} is not a size in bytes" in out.stderr
