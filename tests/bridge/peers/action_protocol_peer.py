"""rclpy peer: an ActionClient that drives a Fibonacci action server through the protocol's rules.

{"name": "/fib"}: sends goals A and B (order 2, 3), then, 0.3 s later, C (order 4), and prints
"accepted" with each goal's id and acceptance stamp (ns). Then, through the action's cancel
service (rclpy's ActionClient cancels one goal id only, `ros2 action` style tools send the rest):
- zero id + B's stamp: every goal accepted at or before B ("cancel", what "before_b");
- after the three results (printed with their status, and the status the client's goal handle
  learnt from the status topic): C's id + zero stamp (C ended: GOAL_TERMINATED), an unknown id
  + zero stamp (UNKNOWN_GOAL_ID), zero id + zero stamp (all goals: none left to cancel);
- the result of a goal id the server never saw, asked through the ActionClient ("unknown_result",
  with the status and the seconds the answer took);
- A sent again with A's goal id ("repeat": accepted or not).
"""

from __future__ import annotations

import time
import uuid

from _peer import config, emit, init, spin_in_thread
from action_msgs.srv import CancelGoal
from rclpy.action import ActionClient
from rclpy.action.client import ClientGoalHandle
from test_msgs.action import Fibonacci
from unique_identifier_msgs.msg import UUID


def wait(future, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not future.done():
        if time.monotonic() > deadline:
            raise TimeoutError("no answer")
        time.sleep(0.01)
    return future.result()


def nanoseconds(stamp) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def main() -> None:
    cfg = config()
    node = init("action_protocol_peer")
    client = ActionClient(node, Fibonacci, cfg["name"])
    cancel = node.create_client(CancelGoal, f"{cfg['name']}/_action/cancel_goal")
    spin_in_thread(node)
    emit(event="ready")
    if not client.wait_for_server(timeout_sec=20) or not cancel.wait_for_service(timeout_sec=20):
        emit(event="error", message="no action server")
        return

    handles = {}
    for label, order in (("A", 2), ("B", 3), ("C", 4)):
        if label == "C":
            time.sleep(0.3)
        handle = wait(client.send_goal_async(Fibonacci.Goal(order=order)))
        handles[label] = handle
        emit(
            event="accepted" if handle.accepted else "rejected",
            goal=label,
            goal_id=str(uuid.UUID(bytes=bytes(handle.goal_id.uuid))),
            stamp=nanoseconds(handle.stamp),
        )

    def cancel_request(what: str, goal_id: bytes, stamp: int) -> None:
        request = CancelGoal.Request()
        request.goal_info.goal_id.uuid = list(goal_id)
        request.goal_info.stamp.sec, request.goal_info.stamp.nanosec = divmod(stamp, 1_000_000_000)
        response = wait(cancel.call_async(request))
        emit(
            event="cancel",
            what=what,
            code=int(response.return_code),
            goals=[str(uuid.UUID(bytes=bytes(g.goal_id.uuid))) for g in response.goals_canceling],
            stamps=[nanoseconds(g.stamp) for g in response.goals_canceling],
        )

    cancel_request("before_b", bytes(16), nanoseconds(handles["B"].stamp))
    results = {label: h.get_result_async() for label, h in handles.items()}
    for label, future in results.items():
        result = wait(future, 30)
        emit(
            event="result",
            goal=label,
            status=int(result.status),
            sequence=list(result.result.sequence),
        )
    time.sleep(0.5)  # the last status array reaches the goal handles
    emit(event="handle_status", **{label: h.status for label, h in handles.items()})

    cancel_request("ended_c", bytes(handles["C"].goal_id.uuid), 0)
    cancel_request("unknown", uuid.uuid4().bytes, 0)
    cancel_request("all", bytes(16), 0)

    unknown = ClientGoalHandle(
        client,
        UUID(uuid=list(uuid.uuid4().bytes)),
        Fibonacci.Impl.SendGoalService.Response(accepted=True),
    )
    started = time.monotonic()
    result = wait(unknown.get_result_async())
    emit(event="unknown_result", status=int(result.status), seconds=time.monotonic() - started)

    repeat = wait(client.send_goal_async(Fibonacci.Goal(order=2), goal_uuid=handles["A"].goal_id))
    emit(event="repeat", accepted=bool(repeat.accepted))
    emit(event="done")
    time.sleep(cfg.get("linger", 1))


if __name__ == "__main__":
    main()
