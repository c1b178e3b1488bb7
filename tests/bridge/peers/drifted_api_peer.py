"""The bridge's Python API in a process whose msgconv reads drifted definitions of test_msgs types.

Config (argv[1]): {"role": "service_client" | "service_server" | "action_client" |
"action_server", "name": "/svc"}. Run with `DORA_ROS_MSG_PATH` naming a folder whose
`test_msgs/srv/BasicTypes.srv` or `test_msgs/action/Fibonacci.action` has an extra field in one
part, so that what a correct rclpy peer sends does not decode here (as a package rebuilt from an
edited .srv on one side only). Code written for dora-rs catches `RuntimeError`; each failure is
printed as {"event": "error", "op": ..., "cls": ..., "runtime": bool, "message": ...}.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any


def emit(**event: Any) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def failed(op: str, err: Exception) -> None:
    emit(
        event="error",
        op=op,
        cls=type(err).__name__,
        bases=[c.__name__ for c in type(err).__mro__],
        runtime=isinstance(err, RuntimeError),
        message=str(err),
    )


def main() -> None:
    cfg = json.loads(sys.argv[1])
    from dora_ros.bridge import Ros2Context, Ros2NodeOptions

    role, name = cfg["role"], cfg["name"]
    with Ros2Context(domain_id=int(os.environ["ROS_DOMAIN_ID"])) as context:
        node = context.new_node("drifted_api", "/", Ros2NodeOptions())
        if role == "service_client":
            client = node.create_service_client(name, "test_msgs/srv/BasicTypes")
            emit(event="ready")
            try:
                client.call({"int32_value": 1, "string_value": "x"}, timeout_s=10)
                emit(event="response")
            except Exception as err:  # what a dora-rs user's `except RuntimeError` would see
                failed("call", err)
        elif role == "action_client":
            client = node.create_action_client(name, "test_msgs/action/Fibonacci")
            emit(event="ready")
            goal_id = client.send_goal({"order": 4}, timeout_s=20)
            emit(event="accepted", goal_id=goal_id)
            try:
                client.take_feedback(goal_id, timeout_s=10)
                emit(event="feedback")
            except Exception as err:
                failed("take_feedback", err)
            try:
                client.take_result(goal_id, timeout_s=20)
                emit(event="result")
            except Exception as err:
                failed("take_result", err)
        else:
            server: Any = (
                node.create_service_server(name, "test_msgs/srv/BasicTypes")
                if role == "service_server"
                else node.create_action_server(name, "test_msgs/action/Fibonacci")
            )
            take = server.take_request if role == "service_server" else server.take_goal
            emit(event="ready")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if take(timeout_s=0.5) is not None:
                        emit(event="taken")
                        break
                except Exception as err:
                    failed(take.__name__, err)
                    break
        emit(event="done")
        time.sleep(cfg.get("linger", 0.5))


if __name__ == "__main__":
    main()
