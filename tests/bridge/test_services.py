"""Services between the bridge's Python API and rclpy peers (test_msgs/srv/BasicTypes), both roles."""

from __future__ import annotations

import threading
import time

import pyarrow as pa
import pytest
from ros_peers import REPO, Peer, name, peer

from dora_ros.bridge import Ros2Context, Ros2NodeOptions, Ros2QosPolicies
from dora_ros.bridge.backend import UnsupportedRoleError
from dora_ros.errors import BridgeError

DOMAIN = 13
SERVICE = "test_msgs/srv/BasicTypes"


@pytest.fixture(scope="module")
def ros_server():
    with peer("service_peer.py", {"role": "server", "name": name("/add_one")}, DOMAIN) as running:
        yield running


@pytest.fixture(scope="module")
def slow_server():
    config = {"role": "server", "name": name("/slow"), "delay": 3.0, "node": "slow_peer"}
    with peer("service_peer.py", config, DOMAIN) as running:
        yield running


@pytest.fixture(scope="module")
def ros_node():
    with Ros2Context(domain_id=DOMAIN) as context:
        yield context.new_node("service_bridge", "/", Ros2NodeOptions())


def test_client_calls_an_rclpy_server(ros_server: Peer, ros_node) -> None:
    client = ros_node.create_service_client(
        name("/add_one"), "test_msgs/BasicTypes", Ros2QosPolicies()
    )
    response = client.call(
        pa.array([{"int32_value": 41, "string_value": "hi", "float64_value": 1.25}])
    )
    assert isinstance(response, pa.StructArray) and len(response) == 1
    row = response[0].as_py()
    assert (row["int32_value"], row["string_value"], row["float64_value"], row["bool_value"]) == (
        42,
        "echo:hi",
        2.5,
        True,
    )
    request = ros_server.wait(
        lambda e: e.get("event") == "request" and e["value"]["int32_value"] == 41
    )
    assert request["value"]["string_value"] == "hi"
    # Many calls in a row reuse the client.
    for i in range(5):
        assert (
            client.call(pa.array([{"int32_value": i}]), timeout_s=10)[0]["int32_value"].as_py()
            == i + 1
        )
    client.close()


def test_server_answers_an_rclpy_client(ros_node) -> None:
    server = ros_node.create_service_server(name("/dora_add"), SERVICE, Ros2QosPolicies())
    requests = [{"int32_value": i, "string_value": f"r{i}"} for i in range(3)]
    config = {"role": "client", "name": name("/dora_add"), "requests": requests}
    with peer("service_peer.py", config, DOMAIN) as running:
        for i in range(3):
            taken = server.take_request(timeout_s=15)
            assert taken is not None
            request_id, request = taken
            assert request[0].as_py()["string_value"] == f"r{i}"
            server.send_response(
                request_id, pa.array([{"int32_value": request[0]["int32_value"].as_py() * 10}])
            )
        running.wait(lambda e: e.get("event") == "done")
        answers = [
            e["value"]["int32_value"]
            for e in running.events(lambda e: e.get("event") == "response")
        ]
    assert answers == [0, 10, 20]
    assert server.take_request(timeout_s=0.1) is None
    server.close()


def test_server_answers_out_of_order(ros_node) -> None:
    server = ros_node.create_service_server(name("/ooo"), SERVICE, Ros2QosPolicies())
    clients = [
        ros_node.create_service_client(name("/ooo"), SERVICE, Ros2QosPolicies()) for _ in range(2)
    ]
    results: dict[int, int] = {}

    def call(i: int) -> None:
        results[i] = (
            clients[i].call(pa.array([{"int32_value": i}]), timeout_s=15)[0]["int32_value"].as_py()
        )

    threads = [threading.Thread(target=call, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    taken = [server.take_request(timeout_s=15) for _ in range(2)]
    assert all(t is not None for t in taken)
    for request_id, request in reversed(taken):  # answer the second request first
        server.send_response(
            request_id, pa.array([{"int32_value": 100 + request[0]["int32_value"].as_py()}])
        )
    for thread in threads:
        thread.join(15)
    assert results == {0: 100, 1: 101}
    with pytest.raises(BridgeError, match="no pending request"):
        server.send_response(taken[0][0], pa.array([{}]))


def test_call_times_out_with_a_clear_error(slow_server: Peer, ros_node) -> None:
    client = ros_node.create_service_client(name("/slow"), SERVICE, Ros2QosPolicies())
    started = time.monotonic()
    with pytest.raises(
        BridgeError, match=r"service .*/slow \(test_msgs/srv/BasicTypes\): no response within 0.5 s"
    ):
        client.call(pa.array([{"int32_value": 1}]), timeout_s=0.5)
    assert time.monotonic() - started < 2.5


def test_no_server_is_a_clear_error(ros_node) -> None:
    with pytest.raises(
        BridgeError,
        match=r"service .*/nobody \(test_msgs/srv/BasicTypes\) not available after 0.5 s",
    ):
        ros_node.create_service_client(
            name("/nobody"), SERVICE, Ros2QosPolicies(), wait_timeout_s=0.5
        )


def test_request_not_fitting_the_type_names_the_field(ros_server: Peer, ros_node) -> None:
    client = ros_node.create_service_client(name("/add_one"), SERVICE, Ros2QosPolicies())
    with pytest.raises(BridgeError) as err:
        client.call(pa.array([{"int32_value": "forty-two"}]))
    assert "int32_value" in str(err.value)
    assert client.call(pa.array([{"int32_value": 1}]))[0]["int32_value"].as_py() == 2


@pytest.mark.skipif(
    not (REPO / "dora_ros/bridge/cyclone_backend.py").exists(),
    reason="cyclone backend not written yet",
)
def test_cyclone_backend_refuses_services_and_says_why() -> None:
    with Ros2Context(domain_id=DOMAIN, backend="cyclonedds") as context:
        node = context.new_node("cyclone_service", "/", Ros2NodeOptions())
        for create in (node.create_service_client, node.create_service_server):
            with pytest.raises(UnsupportedRoleError, match="related_sample_identity"):
                create(name("/add_one"), SERVICE, Ros2QosPolicies())
        with pytest.raises(UnsupportedRoleError, match="related_sample_identity"):
            node.create_action_client(name("/fib"), "test_msgs/Fibonacci", Ros2QosPolicies())


def test_server_holds_at_most_64_requests_and_drops_the_oldest(
    ros_node, caplog: pytest.LogCaptureFixture
) -> None:
    # ~15 s: 70 requests in bursts of 10 every 0.5 s, the 64 answers, then the client waits out
    # its timeout for the 6 never answered. Both sides keep 100 samples, so that a loaded machine
    # cannot lose requests or answers in DDS (the default depth is 10).
    deep = Ros2QosPolicies(keep_last=100)
    server = ros_node.create_service_server(name("/flooded"), SERVICE, deep)
    requests = [{"int32_value": i} for i in range(70)]
    config = {"role": "client", "name": name("/flooded"), "requests": requests, "burst": 10}
    config.update(timeout=12, qos={"depth": 100})
    with peer("service_peer.py", config, DOMAIN) as running:
        running.wait(lambda e: e.get("event") == "ready")
        deadline = time.monotonic() + 20
        while server._server.evicted < 6 and time.monotonic() < deadline:
            time.sleep(0.1)  # nobody takes: the server must not hold more than 64
        assert len(server._server._queue) == 64 and len(server._server._pending) == 64
        # Reported once, then as a running count (not a line per drop).
        assert caplog.text.count("64 items waiting, the oldest dropped") == 1
        taken = []
        while (item := server.take_request(timeout_s=0.5)) is not None:
            taken.append(item)
        assert [t[1][0]["int32_value"].as_py() for t in taken] == list(range(6, 70))
        for request_id, _request in taken:
            server.send_response(request_id, pa.array([{"int32_value": 1}]))
        running.wait(lambda e: e.get("event") == "done", timeout=30)
        answers = [e["value"] for e in running.events(lambda e: e.get("event") == "response")]
    assert [a is not None for a in answers] == [False] * 6 + [True] * 64
    with pytest.raises(BridgeError, match="dropped as the oldest of 64"):
        server.send_response(taken[0][0] - 1, pa.array([{}]))  # the newest dropped one
    server.close()


def test_call_right_after_create_waits_for_the_server(ros_server: Peer) -> None:
    """dora-rs code with `wait_timeout_s=0` calls at once: the request waits for the match."""
    with Ros2Context(domain_id=DOMAIN) as context:
        node = context.new_node("eager_service_client", "/", Ros2NodeOptions())
        client = node.create_service_client(
            name("/add_one"), SERVICE, Ros2QosPolicies(), wait_timeout_s=0
        )
        response = client.call(pa.array([{"int32_value": 7}]), timeout_s=8)
        assert response[0]["int32_value"].as_py() == 8


def test_call_without_a_server_says_so(ros_node) -> None:
    client = ros_node.create_service_client(
        name("/nobody"), SERVICE, Ros2QosPolicies(), wait_timeout_s=0
    )
    started = time.monotonic()
    with pytest.raises(BridgeError, match=r"no service server /\S+/nobody .* within 1 s"):
        client.call(pa.array([{"int32_value": 7}]), timeout_s=1)
    assert time.monotonic() - started < 5
