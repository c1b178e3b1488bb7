"""rclpy action peer for test_msgs/action/Fibonacci (JSON config in argv[1]).

server: {"role": "server", "name": "/fib", "step": 0.05, "threads": 4, "start_delay": 0,
"lose_first_answer": false, "lose_first_cancel_answer": false, "decide_delay": 0} takes `decide_delay` s to decide each goal, rejects a
negative order, publishes the growing sequence as feedback
every `step` s (the first `start_delay` s after accepting), honours cancel (result so far,
CANCELED); with `lose_first_answer` it decides the first goal request but never answers it (what
a response lost in discovery looks like to a client), with `lose_first_cancel_answer` it never
answers its first cancel request (`lose_every_cancel_answer`: any).
client: {"role": "client", "name": "/fib", "goals": [{"order": 5, "cancel_after": null,
"result_delay": 0}]} prints "accepted"/"rejected", each feedback and the result with its status;
`result_delay` s after acceptance it asks for the result.
"""

from __future__ import annotations

import time

from _peer import config, emit, init, spin_in_thread
from rclpy.action import ActionClient, ActionServer, CancelResponse, GoalResponse
from test_msgs.action import Fibonacci


class _NoAnswer:
    """An rclpy action server handle that does not send the answers of one kind ("goal" or
    "cancel"; the rest goes through)."""

    def __init__(self, handle, kind):
        self._handle = handle
        self._kind = kind

    def send_goal_response(self, *args):
        if self._kind != "goal":
            return self._handle.send_goal_response(*args)
        emit(event="answer_lost")

    def send_cancel_response(self, *args):
        if self._kind != "cancel":
            return self._handle.send_cancel_response(*args)
        emit(event="cancel_answer_lost")

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self._handle.__enter__()

    def __exit__(self, *args):
        return self._handle.__exit__(*args)


class LosingServer(ActionServer):
    """Decides its first request of kind `lose` ("goal" or "cancel") but loses the answer;
    answers every later one."""

    lose = "goal"
    lose_every = False  # every answer of that kind, not only the first
    _lost = False

    async def _execute_goal_request(self, request_header_and_message):
        return await self._maybe_lose("goal", super()._execute_goal_request,
                                      request_header_and_message)  # fmt: skip

    async def _execute_cancel_request(self, request_header_and_message):
        return await self._maybe_lose("cancel", super()._execute_cancel_request,
                                      request_header_and_message)  # fmt: skip

    async def _maybe_lose(self, kind, execute, request_header_and_message):
        if self._lost or kind != self.lose:
            return await execute(request_header_and_message)
        self._lost = not self.lose_every
        handle = self._handle
        self._handle = _NoAnswer(handle, kind)
        try:
            return await execute(request_header_and_message)
        finally:
            self._handle = handle


def main() -> None:
    cfg = config()
    node = init(cfg.get("node", "action_peer"))
    if cfg["role"] == "server":

        def on_goal(goal):
            emit(event="goal", order=goal.order)
            time.sleep(cfg.get("decide_delay", 0))
            return GoalResponse.REJECT if goal.order < 0 else GoalResponse.ACCEPT

        def execute(handle):
            time.sleep(cfg.get("start_delay", 0))  # lets a client's feedback reader match first
            sequence = [0, 1]
            for _ in range(1, handle.request.order):
                if handle.is_cancel_requested:
                    handle.canceled()
                    emit(event="canceled")
                    return Fibonacci.Result(sequence=sequence)
                sequence.append(sequence[-1] + sequence[-2])
                handle.publish_feedback(Fibonacci.Feedback(sequence=sequence))
                time.sleep(cfg.get("step", 0.05))
            handle.succeed()
            return Fibonacci.Result(sequence=sequence)

        from rclpy.callback_groups import ReentrantCallbackGroup

        server_class = ActionServer
        if cfg.get("lose_first_answer") or cfg.get("lose_first_cancel_answer"):
            server_class = LosingServer
            LosingServer.lose = "goal" if cfg.get("lose_first_answer") else "cancel"
        if cfg.get("lose_every_cancel_answer"):
            server_class = LosingServer
            LosingServer.lose, LosingServer.lose_every = "cancel", True
        server_class(
            node,
            Fibonacci,
            cfg["name"],
            execute,
            goal_callback=on_goal,
            cancel_callback=lambda _h: CancelResponse.ACCEPT,
            callback_group=ReentrantCallbackGroup(),
        )
        if "threads" in cfg:  # each executing goal holds a thread: room for more goals at once
            import threading

            from rclpy.executors import MultiThreadedExecutor

            executor = MultiThreadedExecutor(num_threads=cfg["threads"])
            executor.add_node(node)
            threading.Thread(target=executor.spin, daemon=True).start()
        else:
            spin_in_thread(node)
        emit(event="ready")
        while True:
            time.sleep(1)
    client = ActionClient(node, Fibonacci, cfg["name"])
    spin_in_thread(node)
    emit(event="ready")
    if not client.wait_for_server(timeout_sec=cfg.get("wait", 20)):
        emit(event="error", message="no action server")
        return
    for goal in cfg["goals"]:
        feedbacks = []

        def on_feedback(message, feedbacks=feedbacks):
            feedbacks.append(list(message.feedback.sequence))
            emit(event="feedback", sequence=list(message.feedback.sequence))

        future = client.send_goal_async(
            Fibonacci.Goal(order=goal["order"]), feedback_callback=on_feedback
        )
        while not future.done():
            time.sleep(0.01)
        handle = future.result()
        if not handle.accepted:
            emit(event="rejected")
            continue
        emit(event="accepted")
        if goal.get("cancel_after") is not None:
            while len(feedbacks) < goal["cancel_after"]:
                time.sleep(0.01)
            cancel = handle.cancel_goal_async()
            while not cancel.done():
                time.sleep(0.01)
            emit(event="cancel_response", code=int(cancel.result().return_code))
        time.sleep(goal.get("result_delay", 0))
        result = handle.get_result_async()
        while not result.done():
            time.sleep(0.01)
        emit(
            event="result",
            status=int(result.result().status),
            sequence=list(result.result().result.sequence),
        )
    emit(event="done")
    time.sleep(cfg.get("linger", 1))


if __name__ == "__main__":
    main()
