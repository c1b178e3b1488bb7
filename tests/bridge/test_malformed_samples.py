"""Samples that do not decode as our definition of their type, from correct rclpy peers.

Our side reads a drifted definition (an extra field in one part of test_msgs/srv/BasicTypes or
test_msgs/action/Fibonacci, found first through `DORA_ROS_MSG_PATH`), as when a package was rebuilt
from an edited .srv/.action on one machine only; the rclpy peer sends what the real definition
says. Python API: the error raised to user code is a `BridgeError`, which code written for dora-rs
catches as `RuntimeError`, naming the endpoint and the type. YAML bridge: a malformed sample is
logged (counted) and the bridge goes on, a goal's forwarding included.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ros_peers import Peer, name, peer, ros_env, run_graph

DOMAIN = 71
SERVICE = "test_msgs/srv/BasicTypes"
ACTION = "test_msgs/action/Fibonacci"
SHARE = Path(__file__).resolve().parents[2] / ".venv" / "share" / "test_msgs"
#: Appended to a part: 800 bytes more than a correct peer sends, so its sample is cut short.
EXTRA = "float64[100] drifted_extra\n"


def drifted(folder: Path, kind: str, base: str, parts: set[int]) -> Path:
    """A copy of test_msgs' `kind/base` definition with `EXTRA` in the parts numbered `parts`
    (0 = request/goal, 1 = response/result, 2 = feedback); the folder for DORA_ROS_MSG_PATH."""
    text = (SHARE / kind / f"{base}.{kind}").read_text()
    sections = text.split("---\n")
    for index in parts:
        sections[index] = sections[index].rstrip("\n") + "\n" + EXTRA
    target = folder / "test_msgs" / kind
    target.mkdir(parents=True)
    (target / f"{base}.{kind}").write_text("---\n".join(sections))
    return folder


def api_peer(role: str, ros_name: str, msg_path: Path) -> Peer:
    environ = {**ros_env(DOMAIN), "DORA_ROS_MSG_PATH": str(msg_path)}
    return Peer("drifted_api_peer.py", {"role": role, "name": ros_name}, DOMAIN, environ=environ)


def errors_of(running: Peer, ops: list[str], timeout: float = 40.0) -> dict[str, dict]:
    found = {}
    for op in ops:
        found[op] = running.wait(
            lambda e, op=op: e.get("event") == "error" and e["op"] == op, timeout
        )
    return found


def check(error: dict, *names: str) -> None:
    assert error["runtime"], f"{error['cls']} is not a RuntimeError: {error['message']}"
    assert "BridgeError" in error["bases"], error["bases"]
    for part in names:
        assert part in error["message"], error["message"]
    assert "malformed" in error["message"]


def test_malformed_service_response_is_a_runtime_error(tmp_path: Path) -> None:
    svc = name("/drift_svc")
    with peer("service_peer.py", {"role": "server", "name": svc}, DOMAIN):
        running = api_peer("service_client", svc, drifted(tmp_path, "srv", "BasicTypes", {1}))
        try:
            found = errors_of(running, ["call"])
        finally:
            running.stop()
    check(found["call"], f"response of service {svc}", f"{SERVICE}_Response")


def test_malformed_service_request_is_a_runtime_error(tmp_path: Path) -> None:
    svc = name("/drift_srv_server")
    running = api_peer("service_server", svc, drifted(tmp_path, "srv", "BasicTypes", {0}))
    try:
        running.ready()
        with peer(
            "service_peer.py",
            {"role": "client", "name": svc, "requests": [{"int32_value": 1}], "timeout": 20},
            DOMAIN,
        ):
            found = errors_of(running, ["take_request"])
    finally:
        running.stop()
    check(found["take_request"], f"on service {svc}", f"{SERVICE}_Request")


def test_malformed_feedback_and_result_are_runtime_errors(tmp_path: Path) -> None:
    fib = name("/drift_fib")
    with peer("action_peer.py", {"role": "server", "name": fib, "step": 0.3}, DOMAIN):
        running = api_peer("action_client", fib, drifted(tmp_path, "action", "Fibonacci", {1, 2}))
        try:
            found = errors_of(running, ["take_feedback", "take_result"])
        finally:
            running.stop()
    check(found["take_feedback"], f"on action {fib}", f"{ACTION}_Feedback", "feedback of goal")
    check(found["take_result"], f"on action {fib}", f"{ACTION}_Result", "result of goal")


def test_malformed_goal_is_a_runtime_error_and_the_goal_is_aborted(tmp_path: Path) -> None:
    fib = name("/drift_fib_server")
    running = api_peer("action_server", fib, drifted(tmp_path, "action", "Fibonacci", {0}))
    try:
        running.ready()
        with peer(
            "action_peer.py", {"role": "client", "name": fib, "goals": [{"order": 3}]}, DOMAIN
        ) as client:
            found = errors_of(running, ["take_goal"])
            result = client.wait(lambda e: e.get("event") == "result", 20)
    finally:
        running.stop()
    check(found["take_goal"], f"on action {fib}", f"{ACTION}_Goal")
    assert result["status"] == 6  # ABORTED: nobody can act on a goal that does not decode


#: Fibonacci's feedback (`int32[] sequence`) read as this: `a` is the count, `b`, `c` the first two
#: numbers, and `rest` counts the third (always 1) and holds the fourth. The first feedback of a
#: goal, [0, 1, 1], has no fourth number and does not decode; the next ones do ([0, 1, 1, 2]: a=4).
FEEDBACK_READ_AS = "int32 a\nint32 b\nint32 c\nint32[] rest\n"

GOAL_ONCE = """
    import pyarrow as pa
    from dora import Node

    node = Node()
    sent = False
    for event in node:
        if event["type"] != "INPUT":
            continue
        if event["id"] == "tick" and not sent:
            node.send_output("goal", pa.array([{"order": 5}]))
            sent = True
        elif event["id"] == "feedback":
            print("feedback a", event["value"][0].as_py()["a"], flush=True)
        elif event["id"] == "result":
            value = event["value"][0].as_py()["sequence"]
            print("result", event["metadata"]["goal_status"], value, flush=True)
"""


def test_yaml_bridge_goes_on_forwarding_a_goal_after_a_malformed_feedback(tmp_path: Path) -> None:
    text = (SHARE / "action" / "Fibonacci.action").read_text()
    goal, result, _feedback = text.split("---\n")
    folder = tmp_path / "msgs" / "test_msgs" / "action"
    folder.mkdir(parents=True)
    (folder / "Fibonacci.action").write_text("---\n".join([goal, result, FEEDBACK_READ_AS]))
    fib = name("/drift_yaml_fib")
    graph = f"""
        env:
          DORA_ROS_MSG_PATH: {tmp_path / "msgs"}
        nodes:
          - id: sender
            path: sender.py
            inputs:
              tick: dora/timer/millis/200
              feedback: fib/feedback
              result: fib/result
            outputs:
              - goal
          - id: fib
            ros2:
              action: {fib}
              action_type: test_msgs/action/Fibonacci
              role: client
            inputs:
              goal: sender/goal
            outputs:
              - feedback
              - result
    """
    server = {"role": "server", "name": fib, "step": 0.3, "start_delay": 1.5}
    with peer("action_peer.py", server, DOMAIN):
        logs = run_graph(tmp_path, graph, {"sender.py": GOAL_ONCE}, DOMAIN, lambda t: "result" in t)
    # The first feedback ([0, 1, 1]) reached the bridge and was dropped, once ...
    assert len(re.findall(r"ERROR .*: dropped a malformed feedback of goal", logs)) == 1, logs
    assert re.search(r"1 x action \S+: dropped a malformed feedback", logs), logs  # the summary
    # ... and the goal's later feedback and its result were still forwarded.
    assert re.findall(r"feedback a (\d+)", logs) == ["4", "5", "6"], logs
    assert "result succeeded [0, 1, 1, 2, 3, 5]" in logs, logs


HANDLER = """
    from dora import Node

    for event in Node():
        if event["type"] == "INPUT":
            print("handler got", event["id"], flush=True)
"""


def test_yaml_service_server_drops_malformed_requests_counted(tmp_path: Path) -> None:
    svc = name("/drift_yaml_svc")
    msgs = drifted(tmp_path / "msgs", "srv", "BasicTypes", {0})
    graph = f"""
        env:
          DORA_ROS_MSG_PATH: {msgs}
        nodes:
          - id: handler
            path: handler.py
            inputs:
              request: svc/request
          - id: svc
            ros2:
              service: {svc}
              service_type: test_msgs/srv/BasicTypes
              role: server
            outputs:
              - request
    """
    requests = [{"int32_value": 1}, {"int32_value": 2}]
    config = {"role": "client", "name": svc, "requests": requests, "timeout": 3, "wait": 60}
    with peer("service_peer.py", config, DOMAIN) as client:
        done = lambda _logs: client.events(lambda e: e.get("event") == "done")  # noqa: E731
        logs = run_graph(tmp_path, graph, {"handler.py": HANDLER}, DOMAIN, done)
        responses = client.events(lambda e: e.get("event") == "response")
    assert [r["value"] for r in responses] == [None, None]  # dropped: no response
    assert "handler got" not in logs, logs
    assert len(re.findall(r"ERROR .*on service \S+: dropped, malformed", logs)) == 1, logs
    assert re.search(r"2 x request \d+ on service \S+: dropped, malformed", logs), logs


def test_yaml_action_server_aborts_a_malformed_goal(tmp_path: Path) -> None:
    fib = name("/drift_yaml_fib_server")
    msgs = drifted(tmp_path / "msgs", "action", "Fibonacci", {0})
    graph = f"""
        env:
          DORA_ROS_MSG_PATH: {msgs}
        nodes:
          - id: handler
            path: handler.py
            inputs:
              goal: fib/goal
          - id: fib
            ros2:
              action: {fib}
              action_type: test_msgs/action/Fibonacci
              role: server
            outputs:
              - goal
    """
    config = {"role": "client", "name": fib, "goals": [{"order": 3}], "wait": 60}
    with peer("action_peer.py", config, DOMAIN) as client:
        done = lambda _logs: client.events(lambda e: e.get("event") == "done")  # noqa: E731
        logs = run_graph(tmp_path, graph, {"handler.py": HANDLER}, DOMAIN, done)
        results = client.events(lambda e: e.get("event") == "result")
    assert [r["status"] for r in results] == [6], results  # ABORTED
    assert "handler got" not in logs, logs
    assert re.search(r"ERROR .*goal \S+ on action \S+: aborted, malformed", logs), logs


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q"])
