"""A dora-ros Python-API action server in its own process, written as for dora-rs 1.1.

{"name": "/fib", "domain": 17, "linger": 0}: serves one test_msgs/action/Fibonacci goal
(feedback once, then the full sequence as result with `send_result(..., timeout_s=8)`), closes
its context and exits at once: what a dora node does before STOP. Prints "ready", "goal", "sent"
(with the seconds `send_result` took) as JSON lines.
"""

from __future__ import annotations

import time

import pyarrow as pa
from _peer import config, emit

from dora_ros.bridge import Ros2Context, Ros2NodeOptions, Ros2QosPolicies


def main() -> None:
    cfg = config()
    context = Ros2Context(domain_id=cfg["domain"])
    node = context.new_node("dora_fib_server", "/", Ros2NodeOptions())
    server = node.create_action_server(cfg["name"], "test_msgs/Fibonacci", Ros2QosPolicies())
    emit(event="ready")
    taken = server.take_goal(timeout_s=30)
    if taken is None:
        emit(event="error", message="no goal")
        return
    goal_id, goal = taken
    order = goal[0].as_py()["order"]
    emit(event="goal", goal_id=goal_id, order=order)
    sequence = [0, 1]
    while len(sequence) <= order:
        sequence.append(sequence[-1] + sequence[-2])
    started = time.monotonic()
    server.send_result(goal_id, pa.array([{"sequence": sequence}]), status="succeeded", timeout_s=8)
    emit(event="sent", seconds=round(time.monotonic() - started, 3))
    context.close()


if __name__ == "__main__":
    main()
