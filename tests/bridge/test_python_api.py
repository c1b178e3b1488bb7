"""The Python API is call-compatible with dora-rs 1.1's `dora.Ros2Context` & co.

Signatures are checked against the installed dora-rs 1.1 with `inspect.signature`; a node written
the dora-rs way (`Node.merge_external_events(subscription)`) runs under `dora-ros run`.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import dora
import pytest
from ros_peers import name, peer, run_graph

import dora_ros.bridge as ours
from dora_ros.bridge import Ros2Context, Ros2Durability, Ros2Liveliness, Ros2QosPolicies
from dora_ros.errors import BridgeError

DOMAIN = 36
CLASSES = [
    "Ros2Context",
    "Ros2NodeOptions",
    "Ros2QosPolicies",
    "Ros2Node",
    "Ros2Publisher",
    "Ros2Subscription",
    "Ros2ServiceClient",
    "Ros2ServiceServer",
    "Ros2ActionClient",
    "Ros2ActionServer",
    "Ros2Topic",
]


def params(fn: object) -> list[tuple[str, object]]:
    return [
        (p.name, p.default)
        for p in inspect.signature(fn).parameters.values()  # type: ignore[arg-type]
        if p.name != "self"
    ]


def dora_methods(cls: type) -> list[str]:
    return [m for m in dir(cls) if not m.startswith("_") and callable(getattr(cls, m))]


@pytest.mark.parametrize("class_name", CLASSES)
def test_signatures_match_dora_rs(class_name: str) -> None:
    theirs, mine = getattr(dora, class_name), getattr(ours, class_name)
    if class_name in ("Ros2Context", "Ros2NodeOptions", "Ros2QosPolicies"):
        expected = params(theirs)
        assert params(mine)[: len(expected)] == expected
    for method in dora_methods(theirs):
        assert hasattr(mine, method), f"{class_name}.{method} is missing"
        expected = params(getattr(theirs, method))
        got = params(getattr(mine, method))
        # Same names, order and defaults; ours may add optional parameters at the end.
        assert [n for n, _ in got[: len(expected)]] == [n for n, _ in expected], method
        for (n, default), (_, theirs_default) in zip(got, expected, strict=False):
            if theirs_default is not inspect.Parameter.empty:
                assert default == theirs_default, f"{class_name}.{method}({n}=...)"
        assert all(d is not inspect.Parameter.empty for _, d in got[len(expected) :]), method


def test_enums_match_dora_rs() -> None:
    for theirs, mine in (
        (dora.Ros2Durability, Ros2Durability),
        (dora.Ros2Liveliness, Ros2Liveliness),
    ):
        names = [n for n in dir(theirs) if not n.startswith("_")]
        assert {n: int(getattr(theirs, n)) for n in names} == {
            n: int(getattr(mine, n)) for n in names
        }


def test_qos_defaults_are_ros2_defaults() -> None:
    qos = Ros2QosPolicies()
    assert (qos.reliable, qos.durability, qos.keep_last, qos.keep_all) == (
        True,
        Ros2Durability.Volatile,
        10,
        False,
    )
    custom = Ros2QosPolicies(reliable=False, keep_last=1, durability=Ros2Durability.TransientLocal)
    assert (custom.reliable, custom.keep_last, custom.durability) == (
        False,
        1,
        Ros2Durability.TransientLocal,
    )
    with pytest.raises(BridgeError, match="keep_last"):
        Ros2QosPolicies(keep_last=2**31)  # dora-rs's keep_last is an i32 (0 and -1 construct)


def test_transport_other_than_dds_is_a_clear_error() -> None:
    assert Ros2Context(transport="dds", domain_id=DOMAIN).transport_kind == "dds"
    with pytest.raises(BridgeError, match="transport 'zenoh' is not supported"):
        Ros2Context(transport="zenoh")


def test_backend_from_argument_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DORA_ROS_BRIDGE_BACKEND", "cyclonedds")
    assert Ros2Context(domain_id=DOMAIN).backend == "cyclonedds"
    assert Ros2Context(domain_id=DOMAIN, backend="rclpy").backend == "rclpy"
    monkeypatch.setenv("DORA_ROS_BRIDGE_BACKEND", "opensplice")
    with pytest.raises(
        BridgeError, match=r"\$DORA_ROS_BRIDGE_BACKEND: unknown bridge backend 'opensplice'"
    ):
        Ros2Context(domain_id=DOMAIN)
    monkeypatch.delenv("DORA_ROS_BRIDGE_BACKEND")
    assert Ros2Context(domain_id=DOMAIN).backend == "rclpy"


def test_unknown_type_is_a_clear_error() -> None:
    with Ros2Context(domain_id=DOMAIN) as context:
        node = context.new_node("types", "/", ours.Ros2NodeOptions())
        with pytest.raises(
            BridgeError, match=r"std_msgs/msg/Strin.*did you mean 'std_msgs/msg/String'"
        ):
            node.create_topic("/t", "std_msgs/Strin", Ros2QosPolicies())
        with pytest.raises(BridgeError, match="is a 'srv' type, but a 'msg' type is needed"):
            node.create_topic("/t", "test_msgs/srv/BasicTypes", Ros2QosPolicies())


def test_an_action_servers_result_timeout_is_kept_and_must_be_a_positive_number() -> None:
    with Ros2Context(domain_id=DOMAIN) as context:
        node = context.new_node("results", "/", ours.Ros2NodeOptions())
        for bad in (0, -1, float("nan"), float("inf"), "5", True, None):
            with pytest.raises(
                BridgeError,
                match=r"create_action_server\('/fib'\): result_timeout .* must be a positive number",
            ):
                node.create_action_server("/fib", "test_msgs/Fibonacci", result_timeout=bad)
        kept = node.create_action_server("/fib_kept", "test_msgs/Fibonacci", result_timeout=2.5)
        assert kept.result_timeout == 2.5
        assert node.create_action_server("/fib", "test_msgs/Fibonacci").result_timeout == 900


DORA_STYLE_NODE = """
    # Written for dora-rs (examples/ros2-bridge/python/turtle), only the import changed.
    import pyarrow as pa
    from dora import Node
    from dora_ros.bridge import Ros2Context, Ros2NodeOptions, Ros2QosPolicies

    ros2_context = Ros2Context()
    ros2_node = ros2_context.new_node("dora_style", "/", Ros2NodeOptions(rosout=True))
    qos = Ros2QosPolicies(reliable=True, max_blocking_time=0.1)
    pose_reader = ros2_node.create_subscription(ros2_node.create_topic("{pose}", "geometry_msgs/Twist", qos))
    twist_writer = ros2_node.create_publisher(ros2_node.create_topic("{cmd}", "geometry_msgs/Twist", qos))
    dora_node = Node()
    dora_node.merge_external_events(pose_reader)
    for event in dora_node:
        if event["kind"] == "dora":
            if event["type"] == "INPUT" and event["id"] == "direction":
                twist_writer.publish(pa.array([{{"linear": {{"x": 0.5}}}}]))
        elif event["kind"] == "external":
            pose = event["value"][0].as_py()
            print("external", pose["linear"]["x"], flush=True)
            dora_node.send_output("turtle_pose", event["value"])
"""

PRINTER = """
    from dora import Node

    for event in Node():
        if event["type"] == "INPUT":
            print("printer got", event["value"][0].as_py()["linear"]["x"], flush=True)
"""


def test_a_dora_rs_style_node_with_merged_ros_events(tmp_path: Path) -> None:
    graph = """
        nodes:
          - id: control
            path: control.py
            inputs:
              direction: dora/timer/millis/200
            outputs:
              - turtle_pose
          - id: printer
            path: printer.py
            inputs:
              pose: control/turtle_pose
    """
    config = {
        "publish": [
            {
                "topic": name("/pose"),
                "type": "geometry_msgs/msg/Twist",
                "value": {"linear": {"x": 4.5}},
                "period": 0.2,
            }
        ],
        "listen": [{"topic": name("/cmd"), "type": "geometry_msgs/msg/Twist"}],
    }
    node = DORA_STYLE_NODE.replace("{pose}", name("/pose")).replace("{cmd}", name("/cmd"))
    node = node.replace("{{", "{").replace("}}", "}")
    with peer("topic_peer.py", config, DOMAIN) as running:
        logs = run_graph(
            tmp_path,
            graph,
            {"control.py": node, "printer.py": PRINTER},
            DOMAIN,
            lambda logs: (
                "printer got" in logs and running.events(lambda e: e.get("topic") == name("/cmd"))
            ),
        )
        commands = running.events(lambda e: e.get("topic") == name("/cmd"))
    assert "control: external 4.5" in logs
    assert "printer: printer got 4.5" in logs
    assert commands and commands[0]["value"]["linear"]["x"] == 0.5


def test_transport_as_in_dora_rs() -> None:
    from dora_ros.bridge import Ros2Transport
    from dora_ros.compat import dora as compat_dora

    theirs = dora.Ros2Transport
    assert params(Ros2Transport.zenoh) == params(theirs.zenoh)
    assert params(Ros2Transport.dds) == params(theirs.dds)
    # dora-ros's `dora` module gives the same class (its stand-in's .dds() was an AttributeError).
    assert compat_dora.Ros2Transport.dds().kind == theirs.dds().kind == "dds"
    assert Ros2Transport.zenoh("humble").kind == theirs.zenoh("humble").kind == "zenoh"
    assert (
        Ros2Transport.zenoh(compatibility="rep2016", config_uri="z.json5").config_uri == "z.json5"
    )
    for cls in (Ros2Transport, theirs):
        with pytest.raises(ValueError, match="compatibility must be `humble` or `rep2016`"):
            cls.zenoh("iron")
        with pytest.raises(TypeError):
            cls()
    # DDS, ours or dora-rs's object, selects the DDS backends; Zenoh is a clear error.
    assert Ros2Context(transport=Ros2Transport.dds(), domain_id=DOMAIN).transport_kind == "dds"
    assert Ros2Context(transport=theirs.dds(), domain_id=DOMAIN).transport_kind == "dds"
    for zenoh in (Ros2Transport.zenoh("humble"), theirs.zenoh("rep2016")):
        with pytest.raises(RuntimeError, match=r"transport 'zenoh' is not supported.*rmw_zenoh"):
            Ros2Context(transport=zenoh, domain_id=DOMAIN)
    with pytest.raises(BridgeError, match="is not a Ros2Transport"):
        Ros2Context(transport=42, domain_id=DOMAIN)
