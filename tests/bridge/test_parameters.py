"""ROS 2 parameters of a bridge node, read and written by an rclpy parameter client in another process."""

from __future__ import annotations

import pytest
from ros_peers import WORKER, peer

from dora_ros.bridge import Ros2Context, Ros2NodeOptions
from dora_ros.errors import BridgeError

DOMAIN = 21


@pytest.fixture(scope="module")
def ros_node():
    with Ros2Context(domain_id=DOMAIN) as context:
        yield context.new_node(
            f"params_{WORKER}",
            "/",
            Ros2NodeOptions(rosout=True),
            parameters={"speed": 1.5, "name": "robot", "flags": [True, False], "blob": b"\x01\x02"},
        )


def test_initial_parameters_from_python(ros_node) -> None:
    assert ros_node.get_parameter("speed") == 1.5
    assert ros_node.get_parameter("name") == "robot"
    assert ros_node.get_parameter("flags") == [True, False]
    assert ros_node.get_parameter("blob") == b"\x01\x02"
    assert ros_node.get_parameter("missing") is None
    assert ros_node.has_parameter("speed") and not ros_node.has_parameter("missing")
    assert {"speed", "name", "flags", "blob"} <= set(ros_node.list_parameters())


def test_an_rclpy_client_reads_and_writes_them(ros_node) -> None:
    ros_node.set_parameter("name", "r2")
    ros_node.set_parameter("gains", [0.5, 1.0])  # declared on first set
    config = {
        "target": f"/params_{WORKER}",
        "get": ["speed", "name", "gains"],
        "set": {"speed": 2.5},
    }
    with peer("param_peer.py", config, DOMAIN) as running:
        running.wait(lambda e: e.get("event") == "done", 20)
        listed = running.events(lambda e: e.get("event") == "list")[0]["names"]
        got, after = [e["values"] for e in running.events(lambda e: e.get("event") == "get")]
        assert running.events(lambda e: e.get("event") == "set")[0]["ok"] == [True]
    assert {"speed", "name", "flags", "blob", "gains"} <= set(listed)
    assert got == {"speed": 1.5, "name": "r2", "gains": [0.5, 1.0]}
    assert after == {"speed": 2.5}
    assert ros_node.get_parameter("speed") == 2.5  # the remote set is seen from Python


def test_values_that_are_not_parameters_are_refused(ros_node) -> None:
    with pytest.raises(
        BridgeError, match=r"parameter 'bad': \{'a': 1\} is not a ROS 2 parameter value"
    ):
        ros_node.set_parameter("bad", {"a": 1})
    with pytest.raises(BridgeError, match="parameter 'speed'"):
        ros_node.set_parameter("speed", "fast")  # a declared double stays a double
