"""rclpy peer: a Fibonacci goal sent through the action's goal service, feedback subscribed later.

{"name": "/fib", "delay": 0.5}: sends one goal (order 3) through `<name>/_action/send_goal`,
prints "accepted", waits `delay` s, and only then subscribes to `<name>/_action/feedback`,
printing each feedback message. An ordinary rclpy ActionClient subscribes at once, but a server's
participant may still learn of that subscription after the goal arrived; this peer makes the gap
certain.
"""

from __future__ import annotations

import time
import uuid

from _peer import config, emit, init, spin_in_thread
from test_msgs.action import Fibonacci
from unique_identifier_msgs.msg import UUID


def main() -> None:
    cfg = config()
    node = init("late_feedback_peer")
    spin_in_thread(node)
    emit(event="ready")
    client = node.create_client(Fibonacci.Impl.SendGoalService, f"{cfg['name']}/_action/send_goal")
    if not client.wait_for_service(timeout_sec=20):
        emit(event="error", message="no goal service")
        return
    goal_id = uuid.uuid4()
    request = Fibonacci.Impl.SendGoalService.Request(
        goal_id=UUID(uuid=list(goal_id.bytes)), goal=Fibonacci.Goal(order=3)
    )
    response = client.call(request, timeout_sec=20)
    emit(event="accepted" if response is not None and response.accepted else "rejected")
    time.sleep(cfg.get("delay", 0.5))

    def on_feedback(message) -> None:
        emit(
            event="feedback",
            goal_id=str(uuid.UUID(bytes=bytes(message.goal_id.uuid))),
            sequence=list(message.feedback.sequence),
        )

    node.create_subscription(
        Fibonacci.Impl.FeedbackMessage, f"{cfg['name']}/_action/feedback", on_feedback, 10
    )
    emit(event="subscribed", goal_id=str(goal_id))
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
