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


def test_failures_are_runtime_errors_as_in_dora_rs(ros_node) -> None:
    # dora-rs's parameter example catches RuntimeError for a set that changes a parameter's type.
    with pytest.raises(RuntimeError, match="parameter 'speed'"):
        ros_node.set_parameter("speed", "fast")
    assert issubclass(BridgeError, RuntimeError)


def test_listing_shows_no_rclpy_internals(ros_node) -> None:
    names = ros_node.list_parameters()
    assert "start_type_description_service" not in names  # rclpy's own, on every Jazzy+ node
    assert "use_sim_time" in names  # every ROS 2 node's, listed by dora-rs too
    assert names == sorted(names)


def test_use_sim_time_is_set_not_declared(ros_node) -> None:
    with Ros2Context(domain_id=DOMAIN) as context:
        with pytest.raises(RuntimeError, match="`use_sim_time` is a built-in parameter"):
            context.new_node(
                f"sim_{WORKER}", "/", Ros2NodeOptions(), parameters={"use_sim_time": True}
            )
        node = context.new_node(f"sim_{WORKER}", "/", Ros2NodeOptions())
        node.set_parameter("use_sim_time", True)
        assert node.get_parameter("use_sim_time") is True
