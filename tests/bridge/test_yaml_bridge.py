"""The `ros2:` node of a YAML graph run by `dora-ros run`, against rclpy peers in other processes.

Each test writes a graph and its dora nodes into a temporary folder, starts the rclpy peer(s), runs
`dora-ros run --stop-after N` and checks what the peer saw and what the nodes logged.
"""

from __future__ import annotations

import re
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from ros_peers import Peer, backends, name, peer, run_graph

from dora_ros.errors import DescriptorError
from dora_ros.runtime.descriptor import parse_dataflow

RELAY = """
    import pyarrow as pa
    from dora import Node

    node = Node()
    sent_bad = False
    for event in node:
        if event["type"] != "INPUT":
            continue
        if event["id"] == "chatter":
            text = event["value"][0].as_py()["data"]
            print("relay got", text, flush=True)
            if not sent_bad:  # one value that does not fit std_msgs/String first
                node.send_output("back", pa.array([{"data": 5}]))
                sent_bad = True
            node.send_output("back", pa.array([{"data": text.upper()}]))
        elif event["id"] == "pose":
            twist = event["value"][0].as_py()
            print("relay twist", twist["linear"]["x"], flush=True)
            node.send_output("cmd", pa.array([{"angular": {"z": twist["linear"]["x"] * 2}}]))
"""


def test_topics_both_directions_and_a_bad_value(tmp_path: Path) -> None:
    domain = 23
    graph = f"""
        nodes:
          - id: bridge
            ros2:
              topics:
                - topic: {name("/chatter")}
                  message_type: std_msgs/String
                - topic: {name("/chatter_back")}
                  message_type: std_msgs/String
                  direction: publish
                  input: back
                - topic: {name("/pose")}
                  message_type: geometry_msgs/Twist
                  output: pose
                  qos:
                    reliable: false
                - topic: {name("/cmd")}
                  message_type: geometry_msgs/Twist
                  direction: publish
              qos:
                reliable: true
                keep_last: 5
            inputs:
              back: relay/back
              {name("/cmd").strip("/").replace("/", "_")}: relay/cmd
          - id: relay
            path: relay.py
            inputs:
              chatter: bridge/{name("/chatter").strip("/").replace("/", "_")}
              pose: bridge/pose
            outputs:
              - back
              - cmd
    """
    config = {
        "publish": [
            {
                "topic": name("/chatter"),
                "type": "std_msgs/msg/String",
                "value": {"data": "hi"},
                "period": 0.3,
            },
            {
                "topic": name("/pose"),
                "type": "geometry_msgs/msg/Twist",
                "value": {"linear": {"x": 1.5}},
                "period": 0.3,
                "qos": {"reliable": False},
            },
        ],
        "listen": [
            {"topic": name("/chatter_back"), "type": "std_msgs/msg/String"},
            {"topic": name("/cmd"), "type": "geometry_msgs/msg/Twist"},
        ],
    }
    with peer("topic_peer.py", config, domain) as running:

        def done(logs: str) -> bool:
            return (
                "relay twist" in logs
                and "bridge: ERROR" in logs
                and bool(running.events(lambda e: e.get("topic") == name("/chatter_back")))
                and bool(running.events(lambda e: e.get("topic") == name("/cmd")))
            )

        logs = run_graph(tmp_path, graph, {"relay.py": RELAY}, domain, done)
        back = running.events(lambda e: e.get("topic") == name("/chatter_back"))
        cmd = running.events(lambda e: e.get("topic") == name("/cmd"))
    assert "relay got hi" in logs and "relay twist 1.5" in logs
    assert back and all(e["value"] == {"data": "HI"} for e in back)
    assert cmd and cmd[0]["value"]["angular"]["z"] == 3.0
    # The bad value: an error naming the input and the field, once; the bridge went on.
    errors = [line for line in logs.splitlines() if line.startswith("bridge:") and "ERROR" in line]
    assert len(errors) == 1, logs
    assert "input 'back'" in errors[0] and "std_msgs/msg/String: field 'data'" in errors[0]


SERVICE_HANDLER = """
    import pyarrow as pa
    from dora import Node

    node = Node()
    waiting = []
    for event in node:
        if event["type"] == "INPUT" and event["id"] == "request":
            waiting.append(event)
            if len(waiting) == 2:  # answer the second request first
                for request in reversed(waiting):
                    value = request["value"][0].as_py()["int32_value"]
                    print("handler answers", value, flush=True)
                    node.send_output("response", pa.array([{"int32_value": value * 100}]), request["metadata"])
                waiting = []
"""


def server_graph(service: str, response_timeout: float | None = None) -> str:
    """A YAML service server bridge for test_msgs/BasicTypes and its dora handler (handler.py)."""
    timeout = f"\n              response_timeout: {response_timeout}" if response_timeout else ""
    return f"""
        nodes:
          - id: server
            ros2:
              service: {name(service)}
              service_type: test_msgs/BasicTypes
              role: server{timeout}
            inputs:
              response: handler/response
          - id: handler
            path: handler.py
            inputs:
              request: server/request
            outputs:
              - response
    """


def test_service_server_answers_in_any_order(tmp_path: Path) -> None:
    domain = 24
    graph = server_graph("/times100")
    clients = [
        Peer(
            "service_peer.py",
            {
                "role": "client",
                "name": name("/times100"),
                "requests": [{"int32_value": i}],
                "node": f"c{i}",
                "linger": 8,
            },
            domain,
        )
        for i in (1, 2)
    ]
    try:
        logs = run_graph(
            tmp_path,
            graph,
            {"handler.py": SERVICE_HANDLER},
            domain,
            lambda _logs: all(c.events(lambda e: e.get("event") == "response") for c in clients),
        )
        answers = [
            c.wait(lambda e: e.get("event") == "response", 1)["value"]["int32_value"]
            for c in clients
        ]
    finally:
        for client in clients:
            client.stop()
    assert answers == [100, 200]
    assert logs.count("handler answers") == 2


FORGETFUL_HANDLER = """
    import pyarrow as pa
    from dora import Node

    node = Node()
    unanswered = None
    for event in node:
        if event["type"] != "INPUT" or event["id"] != "request":
            continue
        value = event["value"][0].as_py()["int32_value"]
        print("handler got", value, event["metadata"]["request_id"], flush=True)
        if value == 2:
            unanswered = event  # answered only once request 3 comes, long after the timeout
            continue
        if unanswered is not None:
            node.send_output("response", pa.array([{"int32_value": 200}]), unanswered["metadata"])
            unanswered = None
        node.send_output("response", pa.array([{"int32_value": value * 100}]), event["metadata"])
"""


def test_service_server_drops_an_unanswered_request_after_response_timeout(
    tmp_path: Path,
) -> None:
    domain = 44
    graph = server_graph("/forgetful", response_timeout=1)
    # The client waits 4 s per request: request 2 is dropped by the bridge after 1 s and the
    # client then times out on its own, before it sends request 3.
    client = Peer(
        "service_peer.py",
        {
            "role": "client",
            "name": name("/forgetful"),
            "requests": [{"int32_value": i} for i in (1, 2, 3)],
            "timeout": 4,
            "linger": 8,
        },
        domain,
    )
    seen: dict[str, float] = {}

    def done(logs: str) -> bool:
        now = time.monotonic()
        if "no response to request_id" in logs:
            seen.setdefault("dropped", now)
        if len(client.events(lambda e: e.get("event") == "response")) >= 2:
            seen.setdefault("client timed out", now)
        return "late response" in logs and bool(client.events(lambda e: e.get("event") == "done"))

    try:
        logs = run_graph(tmp_path, graph, {"handler.py": FORGETFUL_HANDLER}, domain, done)
        responses = [e["value"] for e in client.events(lambda e: e.get("event") == "response")]
    finally:
        client.stop()
    assert [r and r["int32_value"] for r in responses] == [100, None, 300]
    # Dropped at the timeout (while the client still waited), not when the next request came.
    assert seen["dropped"] < seen["client timed out"], seen
    request_id = re.search(r"handler got 2 (\S+)", logs)
    assert request_id, logs
    bridge = [line for line in logs.splitlines() if line.startswith("server:")]
    dropped = [line for line in bridge if "WARNING" in line and "during this run" not in line]
    assert dropped == [
        f"server: WARNING dora_ros.bridge: service {name('/forgetful')}: no response to "
        f"request_id {request_id[1]} within 1 s; request dropped (its ROS client gets no response)"
    ], logs
    late = [line for line in bridge if "ERROR" in line]
    assert len(late) == 1, logs
    assert (
        f"late response to request_id '{request_id[1]}' on service {name('/forgetful')}" in late[0]
    )
    assert "after 1 s" in late[0] and "response_timeout" in late[0]


SILENT_HANDLER = """
    from dora import Node

    for event in Node():
        if event["type"] == "INPUT" and event["id"] == "request":
            print("handler got", event["value"][0].as_py()["int32_value"], flush=True)
"""


HOARDING_HANDLER = """
    import pyarrow as pa
    from dora import Node

    node = Node()
    waiting = []
    for event in node:
        if event["type"] == "INPUT" and event["id"] == "request":
            waiting.append(event)
            print("handler got", event["value"][0].as_py()["int32_value"], flush=True)
            if len(waiting) == 70:  # all in: answer every one, oldest first
                for request in waiting:
                    value = request["value"][0].as_py()["int32_value"]
                    node.send_output("response", pa.array([{"int32_value": value}]), request["metadata"])
"""


def test_service_server_keeps_at_most_64_requests_waiting(tmp_path: Path) -> None:
    """Past 64 unanswered requests, a new one drops the oldest, as the Python API does (one rule,
    drop-oldest: fresh data wins). Old code dropped the newest here and the oldest there."""
    domain = 46
    # The handler answers 70 at once: its responses need a queue that holds them.
    graph = server_graph("/hoarded").replace(
        "response: handler/response",
        "response:\n                source: handler/response\n                queue_size: 100",
    )
    client = Peer(
        "service_peer.py",
        {
            "role": "client",
            "name": name("/hoarded"),
            "requests": [{"int32_value": i} for i in range(70)],
            "burst": 5,
            "timeout": 15,
            "qos": {"depth": 100},
        },
        domain,
    )
    try:
        logs = run_graph(
            tmp_path,
            graph,
            {"handler.py": HOARDING_HANDLER},
            domain,
            lambda logs: bool(client.events(lambda e: e.get("event") == "done")),
            timeout=60,
        )
        responses = [e["value"] for e in client.events(lambda e: e.get("event") == "response")]
    finally:
        client.stop()
    got = sorted(int(line.split()[-1]) for line in logs.splitlines() if "handler got" in line)
    assert got == list(range(70)), logs
    # The 6 oldest got no response; the 64 newest did.
    assert [r and r["int32_value"] for r in responses] == [None] * 6 + list(range(6, 70)), logs
    bridge = [line for line in logs.splitlines() if line.startswith("server:")]
    evicted = [line for line in bridge if "64 requests pending without a response" in line]
    # Logged once when it happened, and counted in the run's summary.
    assert len(evicted) == 2 and "6 x service" in evicted[1], logs
    # The 6 late responses: one error line (they differ only in their request_id), then counted.
    late = [line for line in bridge if "as the oldest of 64 waiting" in line]
    assert len(late) == 2 and "ERROR" in late[0] and "late response" in late[0], logs
    assert late[1].startswith("server:   6 x input 'response': late response"), logs


SERVICE_CALLER = """
    import pyarrow as pa
    from dora import Node

    node = Node()
    sent = 0
    for event in node:
        if event["type"] != "INPUT":
            continue
        if event["id"] == "tick" and sent < 3:
            sent += 1
            node.send_output("request", pa.array([{"int32_value": sent, "string_value": f"n{sent}"}]), {"n": sent})
        elif event["id"] == "response":
            row = event["value"][0].as_py()
            print("response", event["metadata"].get("n"), row["int32_value"], row["string_value"], flush=True)
"""


def caller_graph(service: str, extra: str = "") -> str:
    """`caller.py` (SERVICE_CALLER) sending requests through a client bridge of `service`;
    `extra` is one more `ros2:` line."""
    extra_line = f"\n              {extra}" if extra else ""
    return f"""
        nodes:
          - id: caller
            path: caller.py
            inputs:
              tick: dora/timer/millis/300
              response: client/response
            outputs:
              - request
          - id: client
            ros2:
              service: {service}
              service_type: test_msgs/BasicTypes
              role: client{extra_line}
            inputs:
              request: caller/request
    """


def test_service_client_calls_an_rclpy_server(tmp_path: Path) -> None:
    domain = 25
    graph = caller_graph(name("/add_one"))
    with peer("service_peer.py", {"role": "server", "name": name("/add_one")}, domain) as server:
        logs = run_graph(
            tmp_path,
            graph,
            {"caller.py": SERVICE_CALLER},
            domain,
            lambda logs: logs.count("caller: response") >= 3,
        )
        requests = server.events(lambda e: e.get("event") == "request")
    # The client bridge calls concurrently: the server may see them in any order.
    assert sorted(r["value"]["string_value"] for r in requests) == ["n1", "n2", "n3"]
    for n in (1, 2, 3):
        assert f"response {n} {n + 1} echo:n{n}" in logs


STEADY_CALLER = """
    import pyarrow as pa
    from dora import Node

    node = Node()
    for event in node:
        if event["type"] != "INPUT":
            continue
        if event["id"] == "tick":
            node.send_output("request", pa.array([{"int32_value": 1}]))
        elif event["id"] == "response":
            print("response", event["value"][0].as_py()["int32_value"], flush=True)
"""


def test_service_client_response_timeout(tmp_path: Path) -> None:
    domain = 45
    graph = caller_graph(name("/slow"), "response_timeout: 0.5")
    timed_out = (
        f"client: ERROR dora_ros.bridge: service {name('/slow')} (test_msgs/srv/BasicTypes): "
        "no response within 0.5 s"
    )

    def done(logs: str) -> bool:
        requests = server.events(lambda e: e.get("event") == "request")
        return bool(requests) and timed_out in logs

    config = {"role": "server", "name": name("/slow"), "delay": 2}
    with peer("service_peer.py", config, domain) as server:
        logs = run_graph(tmp_path, graph, {"caller.py": STEADY_CALLER}, domain, done)
    # The same timeout, call after call: one line, then a running count.
    first = next(line for line in logs.splitlines() if timed_out in line)
    assert first.startswith(timed_out), logs
    assert "caller: response" not in logs  # the server answers after 2 s, too late


ACTION_HANDLER = """
    import pyarrow as pa
    from dora import Node

    node = Node()
    goals = {}  # goal_id -> [order, sequence, metadata]
    for event in node:
        if event["type"] != "INPUT":
            continue
        if event["id"] == "goal":
            goal_id = event["metadata"]["goal_id"]
            goals[goal_id] = [event["value"][0].as_py()["order"], [0, 1], event["metadata"]]
        elif event["id"] == "cancel":
            goal_id = event["metadata"]["goal_id"]
            order, sequence, meta = goals.pop(goal_id)
            node.send_output("result", pa.array([{"sequence": sequence}]), {**meta, "goal_status": "canceled"})
            print("handler canceled", goal_id, flush=True)
        elif event["id"] == "tick":
            for goal_id, (order, sequence, meta) in list(goals.items()):
                if len(sequence) > order:
                    node.send_output("result", pa.array([{"sequence": sequence}]), meta)
                    del goals[goal_id]
                else:
                    sequence.append(sequence[-1] + sequence[-2])
                    node.send_output("feedback", pa.array([{"sequence": sequence}]), meta)
"""


def _serve_fib_to_rclpy_client(
    tmp_path: Path, domain: int, action: str, goals: list[dict[str, Any]], extra: str = ""
) -> tuple[str, list[dict[str, Any]]]:
    """A YAML action server on `action` (`extra`: more lines under its `ros2:`) ended by
    ACTION_HANDLER, an rclpy client sending `goals` (action_peer.py): the run's logs and the
    client's events."""
    graph = f"""
        nodes:
          - id: fib
            ros2:
              action: {action}
              action_type: test_msgs/Fibonacci
              role: server{extra}
            inputs:
              feedback: handler/feedback
              result: handler/result
          - id: handler
            path: handler.py
            inputs:
              goal: fib/goal
              cancel: fib/cancel
              tick: dora/timer/millis/50
            outputs:
              - feedback
              - result
    """
    client = Peer(
        "action_peer.py", {"role": "client", "name": action, "goals": goals, "linger": 10}, domain
    )
    try:
        logs = run_graph(
            tmp_path,
            graph,
            {"handler.py": ACTION_HANDLER},
            domain,
            lambda _logs: client.events(lambda e: e.get("event") == "done"),
        )
        client.wait(lambda e: e.get("event") == "done", 1)
        return logs, client.events(lambda e: "event" in e)
    finally:
        client.stop()


def _of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("event") == kind]


def test_action_server_goals_feedback_result_cancel(tmp_path: Path) -> None:
    goals = [{"order": 4}, {"order": 500, "cancel_after": 2}]
    logs, events = _serve_fib_to_rclpy_client(tmp_path, 26, name("/fib"), goals)
    results, feedback = _of(events, "result"), _of(events, "feedback")
    assert results[0] == {"event": "result", "status": 4, "sequence": [0, 1, 1, 2, 3]}
    assert results[1]["status"] == 5 and len(results[1]["sequence"]) >= 4
    assert [f["sequence"] for f in feedback[:3]] == [[0, 1, 1], [0, 1, 1, 2], [0, 1, 1, 2, 3]]
    assert _of(events, "cancel_response") == [{"event": "cancel_response", "code": 0}]
    assert "handler canceled" in logs


def test_action_server_keeps_results_result_timeout_seconds(tmp_path: Path) -> None:
    """`result_timeout: 2` on a YAML action server (rclpy's ActionServer option; ROS 2's default
    900 s before, with no key to change it): an rclpy client asking for an ended goal's result at
    once gets it, one asking 8 s after acceptance gets status UNKNOWN (forgotten, as an rclpy
    server answers for a goal it no longer tracks). The second goal ends about 0.2 s after its
    acceptance; it is forgotten 2-2.5 s later (the expiry timer looks every 0.5 s), well before
    it is asked for, even on a loaded machine. Without the key the result was kept 900 s."""
    goals = [{"order": 3}, {"order": 3, "result_delay": 8}]
    _, events = _serve_fib_to_rclpy_client(
        tmp_path, 97, name("/fib_expiring"), goals, "\n              result_timeout: 2"
    )
    results = _of(events, "result")
    assert results[0] == {"event": "result", "status": 4, "sequence": [0, 1, 1, 2]}
    assert results[1]["status"] == 0, results  # STATUS_UNKNOWN: expired after 2 s


GOAL_SENDER = """
    import pyarrow as pa
    from dora import Node

    node = Node()
    sent = False
    canceled = set()
    for event in node:
        if event["type"] != "INPUT":
            continue
        meta = event["metadata"]
        if event["id"] == "tick" and not sent:
            sent = True
            node.send_output("goal", pa.array([{"order": 5}]), {"tag": "short"})
            node.send_output("goal", pa.array([{"order": 300}]), {"tag": "long"})
            node.send_output("goal", pa.array([{"order": -1}]), {"tag": "refused"})
        elif event["id"] == "feedback":
            print("feedback", meta["tag"], event["value"][0].as_py()["sequence"][-1], flush=True)
            if meta["tag"] == "long" and meta["goal_id"] not in canceled:
                canceled.add(meta["goal_id"])
                node.send_output("cancel", pa.array([meta["goal_id"]]), {"goal_id": meta["goal_id"]})
        elif event["id"] == "result":
            print("result", meta["tag"], meta["goal_status"], (event["value"][0].as_py()["sequence"] or [None])[-1], flush=True)
"""


def test_action_client_feedback_result_and_cancel(tmp_path: Path) -> None:
    domain = 27
    graph = f"""
        nodes:
          - id: sender
            path: sender.py
            inputs:
              tick: dora/timer/millis/200
              feedback: fib/feedback
              result: fib/result
            outputs:
              - goal
              - cancel
          - id: fib
            ros2:
              action: {name("/fib")}
              action_type: test_msgs/action/Fibonacci
              role: client
            inputs:
              goal: sender/goal
              cancel: sender/cancel
    """
    with peer("action_peer.py", {"role": "server", "name": name("/fib"), "step": 0.05}, domain):
        logs = run_graph(
            tmp_path,
            graph,
            {"sender.py": GOAL_SENDER},
            domain,
            lambda logs: all(f"result {tag}" in logs for tag in ("short", "long", "refused")),
        )
    assert "result short succeeded 5" in logs
    assert "feedback short 5" in logs
    assert "result long canceled" in logs
    assert "result refused rejected" in logs  # the server refused a negative order


@pytest.mark.parametrize(
    ("ros2", "message"),
    [
        (
            "topic: /a\n      message_type: std_msgs/String\n      direction: sideways",
            "graph.yml:6: node 'b': ros2: direction 'sideways'",
        ),
        (
            "topic: /a\n      message_type: std_msgs/Strin",
            "graph.yml:5: node 'b': ros2: 'message_type'",
        ),
        ("topic: /a", "graph.yml:4: node 'b': ros2: 'topic' needs 'message_type'"),
        ("topic: /a\n      service: /b", "needs exactly one of"),
        (
            "service: /s\n      service_type: test_msgs/BasicTypes",
            "needs 'role: client' or 'role: server'",
        ),
        (
            "action: /f\n      action_type: test_msgs/Fibonacci\n      role: server\n      backend: cyclonedds",
            "graph.yml:7: node 'b': ros2: an action needs backend 'rclpy'",
        ),
        (
            # dora-rs's keep_last is an i32: 0 is a depth of 1 there and here, 2**31 an error
            "topic: /a\n      message_type: std_msgs/String\n      qos:\n        keep_last: 2147483648",
            "graph.yml:7: node 'b': ros2: qos 'keep_last': 2147483648",
        ),
        (
            "topic: /a\n      message_type: std_msgs/String\n      qos:\n        durability: forever",
            "graph.yml:7: node 'b': ros2: qos 'durability': 'forever' is not one of",
        ),
        (
            "topics:\n        - topic: /a\n          message_type: std_msgs/String\n          ouput: x",
            "graph.yml:7: node 'b': ros2: topics[0]: unknown key 'ouput'; did you mean 'output'?",
        ),
        (
            "topic: 'bad name'\n      message_type: std_msgs/String",
            "is not a valid ROS 2 topic name",
        ),
        (
            "topic: /a\n      message_type: std_msgs/String\n      transport:\n        kind: zenoh",
            "transport 'zenoh' is not supported",
        ),
        (
            "service: /s\n      service_type: test_msgs/BasicTypes\n      role: server\n"
            "      response_timeout: 0",
            "graph.yml:7: node 'b': ros2: response_timeout 0 must be a positive number of seconds",
        ),
        (
            "action: /f\n      action_type: test_msgs/Fibonacci\n      role: client\n"
            "      goal_timeout: -1",
            "graph.yml:7: node 'b': ros2: goal_timeout -1 must be a positive number of seconds",
        ),
        (
            "action: /f\n      action_type: test_msgs/Fibonacci\n      role: server\n"
            "      goal_timeout: 5",
            "ros2: 'goal_timeout' belongs to an action client, not to 'action'",
        ),
        (
            "action: /f\n      action_type: test_msgs/Fibonacci\n      role: server\n"
            "      result_timeout: 0",
            "graph.yml:7: node 'b': ros2: result_timeout 0 must be a positive number of seconds",
        ),
        (
            "action: /f\n      action_type: test_msgs/Fibonacci\n      role: client\n"
            "      result_timeout: 5",
            "ros2: 'result_timeout' belongs to an action server, not to 'action' (a client's goals"
            " end with 'goal_timeout')",
        ),
        (
            # the role is the mistake, not the key
            "action: /f\n      action_type: test_msgs/Fibonacci\n      role: sever\n"
            "      result_timeout: 5",
            "graph.yml:6: node 'b': ros2: 'action' needs 'role: client' or 'role: server' (got"
            " 'sever')",
        ),
        (
            "topic: /a\n      message_type: std_msgs/String\n      result_timeout: 5",
            "graph.yml:6: node 'b': ros2: 'result_timeout' belongs to an action server, not to"
            " 'topic'",
        ),
        (
            "topic: /a\n      message_type: std_msgs/String\n      response_timeout: 5",
            "graph.yml:6: node 'b': ros2: 'response_timeout' belongs to a service, not to 'topic'",
        ),
    ],
)
def test_config_mistakes_name_file_line_and_key(ros2: str, message: str) -> None:
    text = f"nodes:\n  - id: b\n    ros2:\n      {ros2}\n"
    text = text.replace("    ros2:\n      ", "    ros2:\n      ", 1)
    with pytest.raises(DescriptorError) as err:
        parse_dataflow(text, Path("graph.yml"))
    assert message in str(err.value)


def test_implied_outputs_use_topic_names() -> None:
    text = textwrap.dedent(
        """
        nodes:
          - id: b
            ros2:
              topics:
                - topic: /turtle1/pose
                  message_type: geometry_msgs/Pose
                - topic: /camera/image_raw
                  message_type: sensor_msgs/Image
                  output: image
                - topic: /turtle1/cmd_vel
                  message_type: geometry_msgs/Twist
                  direction: publish
          - id: s
            ros2:
              service: /add
              service_type: test_msgs/BasicTypes
              role: server
        """
    )
    flow = parse_dataflow(text, Path("graph.yml"))
    assert flow.node("b").outputs == ("turtle1_pose", "image")
    assert flow.node("s").outputs == ("request",)


FLOOD_CALLER = """
    import pyarrow as pa
    from dora import Node

    node = Node()
    sent = False
    for event in node:
        if event["type"] == "INPUT" and event["id"] == "tick" and not sent:
            sent = True
            for i in range(50):
                node.send_output("request", pa.array([{"int32_value": i}]))
            print("caller sent 50", flush=True)
"""


def test_stop_with_50_calls_in_flight_ends_within_the_grace_period(tmp_path: Path) -> None:
    """50 calls to a server that takes 30 s each: STOP ends the bridge at once, not after the
    calls (old code joined each call's thread for 1 s in turn, 50 s, and was SIGTERMed)."""
    domain = 47
    graph = f"""
        nodes:
          - id: caller
            path: caller.py
            inputs:
              tick: dora/timer/millis/300
            outputs:
              - request
          - id: client
            ros2:
              service: {name("/sluggish")}
              service_type: test_msgs/BasicTypes
              role: client
              response_timeout: 120
            inputs:
              request:
                source: caller/request
                queue_size: 100
    """
    stopped_at: list[float] = []

    def in_flight(logs: str) -> bool:
        if "caller sent 50" in logs and server.events(lambda e: e.get("event") == "request"):
            stopped_at.append(time.monotonic())
            return True
        return False

    config = {"role": "server", "name": name("/sluggish"), "delay": 30}
    with peer("service_peer.py", config, domain) as server:
        logs = run_graph(tmp_path, graph, {"caller.py": FLOOD_CALLER}, domain, in_flight)
        elapsed = time.monotonic() - stopped_at[0]
    supervisor = (tmp_path / "run.out").read_text()
    assert "still running" not in supervisor, supervisor + logs
    assert elapsed < 5.0, (elapsed, logs)  # the supervisor's grace period before SIGTERM
    # The calls still queued for a worker (up to 50 - 8: some may still have been on their way
    # to the bridge at STOP) were abandoned and counted, not reported one by one, and none as an
    # error.
    client = [line for line in logs.splitlines() if line.startswith("client:")]
    abandoned = re.search(
        r"client:   (\d+) x service calls abandoned: the bridge is stopping", logs
    )
    assert abandoned and 0 < int(abandoned[1]) <= 42, logs
    assert not [line for line in client if "ERROR" in line], logs


ERROR_LISTENER = """
    import pyarrow as pa
    from dora import Node

    node = Node()
    sent = 0
    for event in node:
        if event["type"] != "INPUT":
            continue
        if event["id"] == "tick" and sent < 3:
            sent += 1
            node.send_output("request", pa.array([{"int32_value": sent}]), {"n": sent})
        elif event["id"] == "error":
            print("caller error", event["metadata"].get("n"), event["value"][0].as_py(), flush=True)
"""


def test_failures_reach_the_dora_node_and_repeats_are_counted(tmp_path: Path) -> None:
    """A service client bridge with an `error` output: each failed call comes back there with
    its request's metadata; the log has the failure once, then a count, and a summary."""
    domain = 48
    graph = f"""
        nodes:
          - id: caller
            path: caller.py
            inputs:
              tick: dora/timer/millis/100
              error: client/error
            outputs:
              - request
          - id: client
            ros2:
              service: {name("/absent")}
              service_type: test_msgs/BasicTypes
              role: client
              response_timeout: 0.5
            inputs:
              request: caller/request
            outputs:
              - error
    """
    logs = run_graph(
        tmp_path,
        graph,
        {"caller.py": ERROR_LISTENER},
        domain,
        lambda logs: logs.count("caller error") >= 3,
    )
    failure = f"no service server {name('/absent')} (test_msgs/srv/BasicTypes) within 0.5 s"
    errors = sorted(line for line in logs.splitlines() if line.startswith("caller: caller error"))
    assert errors == [f"caller: caller error {n} {failure}" for n in (1, 2, 3)], logs
    client = [line for line in logs.splitlines() if line.startswith("client:")]
    assert [line for line in client if "ERROR" in line] == [
        f"client: ERROR dora_ros.bridge: {failure}"
    ], logs
    assert f"client:   3 x {failure}" in client, logs


EIGHT_GOALS = """
    import pyarrow as pa
    from dora import Node

    node = Node()
    sent = False
    running = {}
    canceled = False
    for event in node:
        if event["type"] != "INPUT":
            continue
        meta = event["metadata"]
        if event["id"] == "tick" and not sent:
            sent = True
            for n in range(8):
                node.send_output("goal", pa.array([{"order": 45}]), {"tag": f"g{n}"})
        elif event["id"] == "feedback":
            running[meta["tag"]] = meta["goal_id"]
            if len(running) == 8 and not canceled:
                canceled = True
                print("all 8 running", flush=True)
                node.send_output("cancel", pa.array([running["g3"]]), {"goal_id": running["g3"]})
        elif event["id"] == "result":
            print("result", meta["tag"], meta["goal_status"], flush=True)
"""


def test_cancel_while_eight_goals_run_is_not_starved(tmp_path: Path) -> None:
    """8 goals hold the 8 goal workers until their results (minutes here): a cancel still goes
    out at once (old code queued it behind them on the same pool, so it waited for a goal to end)."""
    domain = 91
    graph = f"""
        nodes:
          - id: sender
            path: sender.py
            inputs:
              tick: dora/timer/millis/200
              feedback: fib/feedback
              result: fib/result
            outputs:
              - goal
              - cancel
          - id: fib
            ros2:
              action: {name("/fib8")}
              action_type: test_msgs/action/Fibonacci
              role: client
            inputs:
              goal: sender/goal
              cancel: sender/cancel
    """
    config = {"role": "server", "name": name("/fib8"), "step": 1.0, "threads": 12}
    with peer("action_peer.py", config, domain):
        logs = run_graph(
            tmp_path,
            graph,
            {"sender.py": EIGHT_GOALS},
            domain,
            lambda logs: "result g3" in logs,
            timeout=40,
        )
    assert "all 8 running" in logs, logs
    assert "result g3 canceled" in logs, logs
    assert "result g0" not in logs, logs  # the others still run: nothing freed a worker


SINK = """
    from dora import Node

    for event in Node():
        pass
"""


@pytest.mark.parametrize("backend", backends())
def test_reader_overflow_is_in_the_end_of_run_summary(tmp_path: Path, backend: str) -> None:
    """A keep_last 1 subscription flooded by a 20,000-message burst drops samples; the bridge's
    end-of-run summary counts them on both backends (old code: the cyclonedds readers counted
    theirs in a private log nobody closed, so no summary)."""
    domain = 92 if backend == "rclpy" else 93
    graph = f"""
        nodes:
          - id: sink
            path: sink.py
            inputs:
              value: fast/value
          - id: fast
            ros2:
              topic: {name("/burst")}
              message_type: std_msgs/Int32
              direction: subscribe
              backend: {backend}
              qos:
                reliable: true
                keep_last: 1
            outputs:
              - value
    """
    # Whether the bridge's queue overflows depends on its executor thread taking two samples
    # before its forwarding thread takes one: on a loaded machine a whole run can go by without
    # (CI saw one), so a run without any drop is repeated, three runs at most.
    runs = []
    for _ in range(3):
        with peer("burst_peer.py", {"topic": name("/burst"), "count": 20000}, domain) as burst:
            logs = run_graph(
                tmp_path,
                graph,
                {"sink.py": SINK},
                domain,
                lambda _logs: burst.events(lambda e: e.get("event") == "sent"),
                timeout=60,
            )
        runs.append(logs)
        summary = re.search(
            rf"fast: WARNING .*: problems during this run:\n"
            rf"(?:fast:   .*\n)*?fast:   (\d+) x topic {name('/burst')}: 1 items waiting, "
            rf"the oldest dropped",
            logs,
        )
        if summary:
            break
    assert summary and int(summary[1]) > 0, "\n----\n".join(runs)


SLOW_GOAL = """
    import pyarrow as pa
    from dora import Node

    node = Node()
    sent = False
    for event in node:
        if event["type"] != "INPUT":
            continue
        if event["id"] == "tick" and not sent:
            sent = True
            node.send_output("goal", pa.array([{"order": 45}]), {"tag": "slow"})
        elif event["id"] == "error":
            print("goal error", event["metadata"].get("tag"), event["value"][0].as_py(), flush=True)
        elif event["id"] == "result":
            print("result", event["metadata"]["goal_status"], flush=True)
"""


def test_goal_timeout_cancels_a_goal_and_reports_it(tmp_path: Path) -> None:
    """`goal_timeout: 8` on a 45 s goal: after 8 s the bridge cancels it (the server sees the
    cancel) and the failure reaches the `error` output with the goal's metadata."""
    domain = 94
    graph = f"""
        nodes:
          - id: sender
            path: sender.py
            inputs:
              tick: dora/timer/millis/200
              result: fib/result
              error: fib/error
            outputs:
              - goal
          - id: fib
            ros2:
              action: {name("/slowfib")}
              action_type: test_msgs/action/Fibonacci
              role: client
              goal_timeout: 8  # counted from sending, discovery included: 2 s was too short in CI
            inputs:
              goal: sender/goal
            outputs:
              - feedback
              - result
              - error
    """
    config = {"role": "server", "name": name("/slowfib"), "step": 1.0}
    with peer("action_peer.py", config, domain) as server:
        logs = run_graph(
            tmp_path,
            graph,
            {"sender.py": SLOW_GOAL},
            domain,
            lambda logs: (
                "goal error" in logs and server.events(lambda e: e.get("event") == "canceled")
            ),
            timeout=30,
        )
        assert server.events(lambda e: e.get("event") == "canceled"), logs
    assert re.search(
        r"goal error slow action \S+/slowfib: goal \S+ has no result after 8 s "
        r"\(ros2 key 'goal_timeout'\); canceled",
        logs,
    ), logs
