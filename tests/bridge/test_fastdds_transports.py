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
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cyclone_helpers import JAZZY_PYTHON
from ros_peers import REPO, Peer, interrupt, name

from dora_ros.bridge import rclpy_backend

DOMAIN = 65
# The probes that keep Fast DDS's defaults get a domain of their own: a participant maps the
# segments of the participants it hears over shared memory, and the 8 MiB ones of DOMAIN would
# show up in their /proc/self/maps.
DEFAULTS_DOMAIN = 66
RMEM_DEFAULT = int(Path("/proc/sys/net/core/rmem_default").read_text())
RMEM_MAX = int(Path("/proc/sys/net/core/rmem_max").read_text())
# SO_RCVBUF as the kernel reports it: twice what was set, capped at rmem_max. Fast DDS sets every
# socket: to the requested size, or else back to the OS default it read (asio halves that read).
SIZED_RCVBUF = 2 * min(4 * 1024 * 1024, RMEM_MAX)
DEFAULT_RCVBUF = min(RMEM_DEFAULT, 2 * RMEM_MAX)
IMAGE_SIZE = 1920 * 1080 * 3

# A bridge node through the Python API: reports the receive buffers of its UDP sockets, the size
# of its Fast DDS shared-memory segment and whether Fast DDS's variable is still set, then (given a
# topic) publishes a 1080p image every 0.3 s until interrupted.
PROBE = """
import json, os, re, socket, sys, time
import numpy as np
import pyarrow as pa
from dora_ros.bridge import Ros2Context, Ros2NodeOptions, Ros2QosPolicies
node = Ros2Context(backend="rclpy").new_node("fastdds_probe", "/", Ros2NodeOptions())
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
segment = 0
for line in open("/proc/self/maps"):
    if re.search(r"/dev/shm/fastdds_[0-9a-f]+$", line):
        start, end = (int(x, 16) for x in line.split()[0].split("-"))
        segment = max(segment, end - start)
print(json.dumps({"rcvbuf": sizes, "segment": segment,
                  "env": os.environ.get("FASTDDS_BUILTIN_TRANSPORTS")}), flush=True)
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
    try:
        for _ in range(200):
            pub.publish(image)
            time.sleep(0.3)
    except KeyboardInterrupt:
        pass
"""


def bridge_env(domain: int = DOMAIN, **extra: str) -> dict[str, str]:
    """This test's environment, without any Fast DDS or backend choice of the user's."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("FASTDDS_", "FASTRTPS_"))}
    for key in ("DORA_ROS_FASTDDS_SOCKETS_SIZE", "DORA_ROS_BRIDGE_BACKEND", "RMW_IMPLEMENTATION"):
        environ.pop(key, None)
    environ.update(
        ROS_DOMAIN_ID=str(domain),
        ROS_AUTOMATIC_DISCOVERY_RANGE="SUBNET",
        # Unicast to this host's participants too, so discovery does not rest on multicast alone.
        ROS_STATIC_PEERS="127.0.0.1",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(REPO),
        **extra,
    )
    return environ


def probe(*args: str, domain: int = DOMAIN, **extra: str) -> tuple[subprocess.Popen[str], dict]:
    proc = subprocess.Popen(
        [sys.executable, "-c", PROBE, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=bridge_env(domain, **extra),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        stop(proc)
        raise AssertionError(proc.communicate(timeout=30)[1])
    return proc, json.loads(line)


def stop(proc: subprocess.Popen[str]) -> None:
    interrupt(proc, 10)
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
    # The pid keeps another host's run of this test (SUBNET discovery) off this topic.
    release = "jazzy" if python == JAZZY_PYTHON else "kilted"
    topic = name(f"/fastdds/image_{release}_{os.getpid()}")
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
            assert sockets["segment"] >= 8 * 1024 * 1024, sockets  # twice the 4 MiB asked for
            assert max(sockets["rcvbuf"]) == SIZED_RCVBUF, sockets
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
    bridge, sockets = probe(domain=DEFAULTS_DOMAIN, **setting)
    stop(bridge)
    assert 0 < sockets["segment"] < 1024 * 1024, sockets  # Fast DDS's 512 kB
    assert max(sockets["rcvbuf"]) == DEFAULT_RCVBUF, sockets
    assert sockets["env"] == setting.get("FASTDDS_BUILTIN_TRANSPORTS"), "the user's value is kept"


def test_a_default_profile_in_the_working_directory_is_the_users(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("FASTDDS_BUILTIN_TRANSPORTS", raising=False)
    monkeypatch.delenv("FASTDDS_DEFAULT_PROFILES_FILE", raising=False)
    monkeypatch.delenv("DORA_ROS_FASTDDS_SOCKETS_SIZE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert rclpy_backend.fastdds_sockets_size() == 4 * 1024 * 1024
    (tmp_path / "DEFAULT_FASTDDS_PROFILES.xml").write_text("<dds/>")
    assert rclpy_backend.fastdds_sockets_size() is None
    monkeypatch.setenv("SKIP_DEFAULT_XML_FILE", "1")  # Fast DDS does not read it then
    assert rclpy_backend.fastdds_sockets_size() == 4 * 1024 * 1024


def test_a_small_dev_shm_keeps_fast_dds_defaults(tmp_path, monkeypatch, caplog) -> None:
    """Fast DDS fills its segment with zeros at start: 8 MiB must fit /dev/shm four times over."""
    monkeypatch.delenv("FASTDDS_BUILTIN_TRANSPORTS", raising=False)
    monkeypatch.delenv("FASTDDS_DEFAULT_PROFILES_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DORA_ROS_FASTDDS_SOCKETS_SIZE", "4194304")
    real = os.statvfs("/dev/shm")
    free_blocks = 30 * 1024 * 1024 // real.f_frsize  # 30 MiB free
    small = os.statvfs_result((*real[:4], free_blocks, *real[5:]))
    monkeypatch.setattr(os, "statvfs", lambda path: small)
    with caplog.at_level(logging.INFO, logger="dora_ros.bridge.rclpy_backend"):
        assert rclpy_backend.fastdds_sockets_size() is None
    assert "/dev/shm has 31 MB free" in caplog.text
    monkeypatch.setenv("DORA_ROS_FASTDDS_SOCKETS_SIZE", "1048576")  # 2 MiB segments fit
    assert rclpy_backend.fastdds_sockets_size() == 1048576


@pytest.mark.parametrize("value", ["4MB", "-1", "4294967296", "1000"])
def test_bad_size_names_the_variable(value: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env=bridge_env(DORA_ROS_FASTDDS_SOCKETS_SIZE=value),
        timeout=60,
    )
    assert out.returncode != 0
    assert (
        f"DORA_ROS_FASTDDS_SOCKETS_SIZE={value!r} is not a size in bytes from 65500" in out.stderr
    )
