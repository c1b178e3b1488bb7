"""A user's own .msg package that was never built, over the Cyclone DDS backend.

`my_robot_msgs` exists only as .msg files in a temporary folder: no rosidl build, no generated
Python, so rclpy cannot load it. The Cyclone backend builds its DDS types from msgconv's parse of
those files. One chain of real processes checks every hop:

    this test (bridge A, Cyclone) --/status_a--> bridge B (another dora-ros process, Cyclone;
    decodes with msgconv, re-encodes) --/status_b--> a plain cyclonedds-python app with a
    hand-written Status_ type (its own deserializer and serializer) --/status_c--> bridge A

so the type matches between Cyclone participants (XTypes checks apply there) and the bytes are the
CDR of the type as cyclonedds-python itself writes it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cyclone_helpers import python_peer
from ros_peers import name, poll

from dora_ros import msgconv
from dora_ros.bridge.cyclone_backend import CycloneBackend
from dora_ros.bridge.qos import Ros2QosPolicies
from dora_ros.bridge.ros_discovery import type_hash_user_data

DOMAIN = 63
TYPE = "my_robot_msgs/msg/Status"

STATUS_MSG = """\
# A robot's status: a user's message, never built with colcon.
uint8 LEVEL_OK=0
uint8 LEVEL_WARN=1
string<=32 name
uint8 level
float64[3] position
int32[] codes
Battery battery
builtin_interfaces/Time stamp
"""
BATTERY_MSG = """\
float32 voltage
bool charging
"""
STATUS = {
    "name": "rover-7",
    "level": 1,
    "position": [1.5, -2.25, 0.125],
    "codes": [404, -1, 7],
    "battery": {"voltage": 24.5, "charging": True},
    "stamp": {"sec": 1700000000, "nanosec": 42},
}


@pytest.fixture(scope="module")
def msg_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("user_msgs")
    package = root / "my_robot_msgs"
    (package / "msg").mkdir(parents=True)
    (package / "package.xml").write_text(
        '<?xml version="1.0"?>\n<package format="3"><name>my_robot_msgs</name></package>\n'
    )
    (package / "msg" / "Status.msg").write_text(STATUS_MSG)
    (package / "msg" / "Battery.msg").write_text(BATTERY_MSG)
    return root


def test_unbuilt_package_travels_between_bridges_and_a_raw_cyclone_app(msg_root: Path) -> None:
    a, b, c = name("/status_a"), name("/status_b"), name("/status_c")
    echo_cfg = {"msg_path": str(msg_root), "type": TYPE, "in": a, "out": b}
    with (
        CycloneBackend(node_name="bridge_a", domain_id=DOMAIN, msg_paths=(msg_root,)) as bridge,
        python_peer("user_msgs/bridge_echo.py", echo_cfg, DOMAIN) as bridge_b,
        python_peer("user_msgs/raw_cyclone_peer.py", {"in": b, "out": c}, DOMAIN) as raw,
    ):
        writer = bridge.create_writer(a, TYPE, Ros2QosPolicies())
        reader = bridge.create_reader(c, TYPE, Ros2QosPolicies())
        poll(lambda: writer.matched_count() and reader.matched_count(), timeout=20)
        data = msgconv.encode(TYPE, STATUS)
        back = None
        deadline = time.monotonic() + 20
        while back is None and time.monotonic() < deadline:
            writer.write(data)
            back = reader.take(timeout=1.0)
        assert back is not None, f"bridge B: {bridge_b.lines[-3:]}, raw: {raw.lines[-3:]}"

        got_b = bridge_b.wait(lambda e: e.get("event") == "recv")["value"]
        assert got_b["name"] == "rover-7" and got_b["codes"] == [404, -1, 7]
        assert got_b["battery"] == {"voltage": 24.5, "charging": True}
        got_raw = raw.wait(lambda e: e.get("event") == "recv")["value"]
        assert got_raw == STATUS  # cyclonedds-python's own deserializer agrees
        final = msgconv.decode(TYPE, back).to_pylist()[0]
        assert final == {**STATUS, "name": "ROVER-7", "level": 2}
        assert msgconv.constants(TYPE) == {"LEVEL_OK": 0, "LEVEL_WARN": 1}
        # No type description was installed: the USER_DATA type hash is computed as rosidl would.
        user_data = type_hash_user_data(TYPE)
        assert user_data.startswith(b"typehash=RIHS01_") and len(user_data) == 81
