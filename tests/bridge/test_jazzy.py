"""Topics, services and actions against ROS 2 *Jazzy* peers (the bridge itself runs Kilted wheels).

The peers are B1's peer scripts (`peers/*.py`) run by `.venv-jazzy`'s Python, which has
`ros-jazzy-rclpy` (Fast DDS 2.14) instead of Kilted's (Fast DDS 3). `make test` creates that venv
(see the Makefile); without it these tests are skipped with the reason.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pytest
from cyclone_helpers import JAZZY_PYTHON, PythonPeer, python_peer
from ros_peers import backends, name, poll, send_until_back

from dora_ros.bridge import Ros2Context, Ros2NodeOptions, Ros2QosPolicies

pytestmark = pytest.mark.skipif(
    not JAZZY_PYTHON.exists(), reason=".venv-jazzy is missing: `make test` creates it"
)

DOMAIN = 64
PIXELS = (np.arange(1920 * 1080 * 3, dtype=np.uint32) % 251).astype(np.uint8)
SUCCEEDED, CANCELED = 4, 5  # action_msgs/GoalStatus


def topic(backend: str, suffix: str) -> str:
    return name(f"/jazzy/{backend}/{suffix}")


def image() -> pa.StructArray:
    data = pa.ListArray.from_arrays(pa.array([0, PIXELS.size], pa.int32()), pa.array(PIXELS))
    return pa.StructArray.from_arrays(
        [
            pa.array([1080], pa.uint32()),
            pa.array([1920], pa.uint32()),
            pa.array(["rgb8"]),
            pa.array([5760], pa.uint32()),
            data,
        ],
        names=["height", "width", "encoding", "step", "data"],
    )


@pytest.fixture(scope="module")
def jazzy_topics():
    echo, publish = [], []
    for backend in ("rclpy", "cyclonedds"):
        for kind, type_name in (
            ("string", "std_msgs/msg/String"),
            ("image", "sensor_msgs/msg/Image"),
        ):
            echo.append(
                {
                    "in": topic(backend, f"{kind}_in"),
                    "out": topic(backend, f"{kind}_out"),
                    "type": type_name,
                }
            )
        publish.append(
            {
                "topic": topic(backend, "image_from_jazzy"),
                "type": "sensor_msgs/msg/Image",
                "image": True,
                "period": 0.5,
            }
        )
    config = {"node": "jazzy_topics", "echo": echo, "publish": publish}
    with python_peer("topic_peer.py", config, DOMAIN, JAZZY_PYTHON) as peer:
        yield peer


@pytest.fixture(scope="module", params=backends())
def ros_node(request):
    with Ros2Context(domain_id=DOMAIN, backend=request.param) as context:
        yield context.new_node(f"jazzy_bridge_{request.param}", "/", Ros2NodeOptions())


@pytest.fixture(scope="module")
def rclpy_node():
    with Ros2Context(domain_id=DOMAIN, backend="rclpy") as context:
        yield context.new_node("jazzy_bridge_services", "/", Ros2NodeOptions())


def test_string_to_jazzy_and_back(jazzy_topics: PythonPeer, ros_node) -> None:
    backend = ros_node.backend.name
    out = ros_node.create_subscription(
        ros_node.create_topic(
            topic(backend, "string_out"), "std_msgs/msg/String", Ros2QosPolicies()
        )
    )
    pub = ros_node.create_publisher(
        ros_node.create_topic(topic(backend, "string_in"), "std_msgs/msg/String", Ros2QosPolicies())
    )
    poll(lambda: pub.matched_count() and out.matched_count(), 20)
    mark = jazzy_topics.mark()
    back = send_until_back(pub, out, pa.array([{"data": "to jazzy ✓"}]))
    seen = jazzy_topics.wait(lambda e: e.get("topic") == topic(backend, "string_in"), start=mark)
    assert seen["value"] == {"data": "to jazzy ✓"}
    assert back is not None and back[0].as_py() == {"data": "to jazzy ✓"}
    pub.close()
    out.close()


def test_1080p_image_to_jazzy_and_back(jazzy_topics: PythonPeer, ros_node) -> None:
    backend = ros_node.backend.name
    out = ros_node.create_subscription(
        ros_node.create_topic(
            topic(backend, "image_out"), "sensor_msgs/msg/Image", Ros2QosPolicies()
        )
    )
    pub = ros_node.create_publisher(
        ros_node.create_topic(
            topic(backend, "image_in"), "sensor_msgs/msg/Image", Ros2QosPolicies()
        )
    )
    poll(lambda: pub.matched_count() and out.matched_count(), 20)
    mark = jazzy_topics.mark()
    back = send_until_back(pub, out, image())
    seen = jazzy_topics.wait(lambda e: e.get("topic") == topic(backend, "image_in"), start=mark)
    assert seen["value"]["data"] == {
        "len": PIXELS.size,
        "sha256": hashlib.sha256(PIXELS.tobytes()).hexdigest(),
    }
    assert back.field("width")[0].as_py() == 1920
    assert np.array_equal(back.field("data").flatten().to_numpy(), PIXELS)
    pub.close()
    out.close()


def test_image_from_jazzy(jazzy_topics: PythonPeer, ros_node) -> None:
    sub = ros_node.create_subscription(
        ros_node.create_topic(
            topic(ros_node.backend.name, "image_from_jazzy"),
            "sensor_msgs/msg/Image",
            Ros2QosPolicies(),
        )
    )
    value = sub.next(20.0)
    assert value is not None, "nothing from the Jazzy publisher"
    assert value.field("header")[0].as_py()["frame_id"] == "camera"
    assert np.array_equal(value.field("data").flatten().to_numpy(), PIXELS)
    sub.close()


def test_service_client_calls_a_jazzy_server(rclpy_node) -> None:
    config = {"role": "server", "name": name("/jazzy_add_one"), "node": "jazzy_server"}
    with python_peer("service_peer.py", config, DOMAIN, JAZZY_PYTHON):
        client = rclpy_node.create_service_client(
            name("/jazzy_add_one"), "test_msgs/srv/BasicTypes", Ros2QosPolicies()
        )
        for i in (41, 7):
            row = client.call(pa.array([{"int32_value": i, "string_value": "j"}]), timeout_s=20)[
                0
            ].as_py()
            assert (row["int32_value"], row["string_value"]) == (i + 1, "echo:j")
        client.close()


def test_service_server_answers_a_jazzy_client(rclpy_node) -> None:
    server = rclpy_node.create_service_server(
        name("/jazzy_dora_add"), "test_msgs/srv/BasicTypes", Ros2QosPolicies()
    )
    requests = [{"int32_value": i} for i in range(3)]
    config = {"role": "client", "name": name("/jazzy_dora_add"), "requests": requests}
    with python_peer("service_peer.py", config, DOMAIN, JAZZY_PYTHON) as client:
        for _ in range(3):
            taken = server.take_request(timeout_s=20)
            assert taken is not None
            request_id, request = taken
            value = request[0]["int32_value"].as_py()
            server.send_response(request_id, pa.array([{"int32_value": value * 10}]))
        client.wait(lambda e: e.get("event") == "done", 20)
        answers = [
            e["value"]["int32_value"] for e in client.events(lambda e: e.get("event") == "response")
        ]
    assert answers == [0, 10, 20]
    server.close()


def test_action_client_against_a_jazzy_server(rclpy_node) -> None:
    config = {"role": "server", "name": name("/jazzy_fib"), "step": 0.05, "node": "jazzy_fib"}
    with python_peer("action_peer.py", config, DOMAIN, JAZZY_PYTHON):
        client = rclpy_node.create_action_client(
            name("/jazzy_fib"), "test_msgs/action/Fibonacci", Ros2QosPolicies()
        )
        assert client.wait_for_action_server(timeout_s=20)
        goal_id = client.send_goal(pa.array([{"order": 5}]), timeout_s=20)
        assert goal_id is not None
        feedback = client.take_feedback(goal_id, timeout_s=10)
        assert feedback is not None and feedback[0].as_py()["sequence"][:2] == [0, 1]
        status, result = client.take_result(goal_id, timeout_s=20)
        assert (status, result[0].as_py()) == ("succeeded", {"sequence": [0, 1, 1, 2, 3, 5]})
        # Cancel a long goal.
        goal_id = client.send_goal(pa.array([{"order": 200}]), timeout_s=20)
        assert client.take_feedback(goal_id, timeout_s=10) is not None
        assert client.cancel(goal_id) == 0
        status, result = client.take_result(goal_id, timeout_s=20)
        assert status == "canceled" and 2 <= len(result[0].as_py()["sequence"]) < 200
        client.close()


def test_action_server_serves_a_jazzy_client(rclpy_node) -> None:
    server = rclpy_node.create_action_server(
        name("/jazzy_dora_fib"), "test_msgs/action/Fibonacci", Ros2QosPolicies()
    )
    goals = [{"order": 3}, {"order": 100, "cancel_after": 1}]
    config = {"role": "client", "name": name("/jazzy_dora_fib"), "goals": goals}
    with python_peer("action_peer.py", config, DOMAIN, JAZZY_PYTHON) as client:
        goal_id, goal = server.take_goal(timeout_s=20)
        assert goal[0].as_py() == {"order": 3}
        server.send_feedback(goal_id, pa.array([{"sequence": [0, 1]}]))
        server.send_result(goal_id, pa.array([{"sequence": [0, 1, 1, 2]}]))
        goal_id, _ = server.take_goal(timeout_s=20)
        server.send_feedback(goal_id, pa.array([{"sequence": [7]}]))
        assert server.take_cancel(timeout_s=15) == [goal_id]
        server.send_result(goal_id, pa.array([{"sequence": [7]}]), status="canceled")
        client.wait(lambda e: e.get("event") == "done", 20)
        results = client.events(lambda e: e.get("event") == "result")
        feedback = client.events(lambda e: e.get("event") == "feedback")
    assert [(r["status"], r["sequence"]) for r in results] == [
        (SUCCEEDED, [0, 1, 1, 2]),
        (CANCELED, [7]),
    ]
    assert [f["sequence"] for f in feedback] == [[0, 1], [7]]
    server.close()
