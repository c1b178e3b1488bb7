"""The action server of the rclpy backend: the ROS 2 action protocol on rclpy's public API.

It implements the protocol as rcl_action does, on rclpy's public services and publishers (the
action type's `Impl` types under `<name>/_action/`): rclpy's `ActionServer` tells its callbacks
neither a goal's id before it is decided nor when a result has been sent, and learning them meant
overriding its private methods. Goals and cancel requests come out of queues, by goal id string, so
the bridge drives the server from its own threads with CDR bytes (msgconv converts them). The
client side and what both share are in `rclpy_actions.py`.

A server's `send_result` returns an event set once the result has been sent in answer to a
client's get-result request: dora-rs's `send_result` waits for that, so that a server which sends
its result and exits does not take the result with it.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import BridgeError
from .graph_config import DEFAULT_RESULT_TIMEOUT
from .qos import Ros2QosPolicies
from .rclpy_actions import (
    FEEDBACK_SUBSCRIBER_WAIT,
    MAX_PENDING_GOALS,
    MAX_UNTAKEN_RESULTS,
    log,
    uuid_str,
)
from .rclpy_services import Unanswered
from .ready_queue import ReadyQueue
from .reporting import CountedLog

if TYPE_CHECKING:
    from .rclpy_backend import RclpyBackend

__all__ = ["MAX_ENDED_GOALS", "RclpyActionServer"]


# action_msgs/GoalStatus codes (rcl_action's goal states) and CancelGoal return codes.
_UNKNOWN, _ACCEPTED, _EXECUTING, _CANCELING = 0, 1, 2, 3
_SUCCEEDED, _CANCELED, _ABORTED = 4, 5, 6
_CANCELABLE = (_ACCEPTED, _EXECUTING)
_RUNNING = (_EXECUTING, _CANCELING)
_CANCEL_NONE, _CANCEL_UNKNOWN_GOAL_ID, _CANCEL_GOAL_TERMINATED = 0, 2, 3
_END_CODES = {"succeeded": _SUCCEEDED, "canceled": _CANCELED, "aborted": _ABORTED}
_FOREVER = 2**63 - 1  # nanoseconds: "at or before" this stamp is every goal

#: Ended goals a server keeps (status and result, for get-result requests) until they expire
#: `result_timeout` s after they ended; beyond, the one that ended first expires at once, counted.
MAX_ENDED_GOALS = 1024
#: Seconds between two looks for ended goals whose `result_timeout` has passed.
EXPIRY_PERIOD = 1.0
#: Seconds `send_feedback`/`send_result` wait for a goal accepted a moment ago to be started.
START_WAIT = 2.0


def _nanoseconds(stamp: Any) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def _goal_key(goal_id: str) -> bytes | None:
    """The 16 bytes of a goal id string; None if it is not a UUID."""
    try:
        return uuid.UUID(goal_id).bytes
    except (ValueError, TypeError, AttributeError):
        return None


@dataclass
class _ServerGoal:
    """A goal the server tracks, from its request until it expires (or is rejected)."""

    goal_id: str  # the canonical UUID string the user sees
    key: bytes  # its 16 bytes
    uuid: Any  # its unique_identifier_msgs/UUID, as the request carried it
    ended: Any  # rclpy Future: the GetResult response once it ends; None once rejected
    status: int = _UNKNOWN  # action_msgs/GoalStatus; UNKNOWN while it waits for a decision
    stamp: Any = None  # builtin_interfaces/Time of acceptance (the node's clock)
    stamp_ns: int = 0
    decision: Any = None  # rclpy Future: True (accept) / False (reject), without auto-accept
    settled: threading.Event = field(default_factory=threading.Event)  # started or rejected
    ended_at: float = 0.0  # time.monotonic() when it ended
    feedback_sent: bool = False
    delivered: threading.Event | None = None  # `send_result`'s event, set once a client has it


class RclpyActionServer:
    """Serves a ROS 2 action; goals and cancel requests come out of queues, by goal id string.

    The action protocol is implemented here on rclpy's public services and publishers, as
    rcl_action does it: the three services `<name>/_action/send_goal|cancel_goal|get_result` and
    the topics `<name>/_action/feedback|status`, with the generated action type's `Impl` types
    (so `ros2 action list/info` and every action client see an ordinary action server). rclpy's
    `ActionServer` hides what the bridge needs (a goal's id before it is decided, and when a
    result has been answered to a client), which it could only learn through private methods.

    Goal states follow rcl_action's state machine: accepted goals start executing at once (as
    rclpy's default `handle_accepted_callback` does), a cancel request moves a goal to CANCELING,
    and the user ends it SUCCEEDED, ABORTED or (when canceling) CANCELED. The status array of
    every goal tracked is published (reliable, transient_local) on each change. An ended goal's
    result is kept `result_timeout` s (monotonic time, whatever clock the node uses) and at most
    `MAX_ENDED_GOALS` of them; get-result requests are answered at once for an ended goal, when it
    ends for a running one, and with status UNKNOWN at once for a goal not tracked.
    """

    def __init__(
        self,
        backend: RclpyBackend,
        name: str,
        type_name: str,
        qos: Ros2QosPolicies,
        auto_accept: bool = True,
        result_timeout: float = DEFAULT_RESULT_TIMEOUT,
    ):
        from rclpy.clock import Clock, ClockType
        from rclpy.qos import qos_profile_action_status_default

        from .rclpy_backend import import_interface, to_qos_profile

        self.name = name
        self.type_name = type_name
        self.expired_early = 0  # ended goals expired beyond MAX_ENDED_GOALS
        self._backend = backend
        self._report: CountedLog = backend.report
        self._action = import_interface(type_name)
        self._auto_accept = auto_accept
        self.result_timeout = float(result_timeout)
        self.goals: ReadyQueue[tuple[str, bytes]] = ReadyQueue(
            MAX_PENDING_GOALS, f"action {name} goals", self._report, on_drop=self._drop_goal
        )
        self.cancels: ReadyQueue[str] = ReadyQueue(
            MAX_PENDING_GOALS, f"action {name} cancel requests", self._report
        )
        self._goals: dict[bytes, _ServerGoal] = {}  # every goal tracked, in arrival order
        self._ended: dict[bytes, None] = {}  # ended goals, in the order they ended
        self._deliveries: dict[str, threading.Event] = {}  # goal id -> set once result sent
        self._lock = threading.Lock()
        self._closed = False
        node = backend.node
        impl = self._action.Impl
        # rcl_action's names: the action name resolved (namespace, remapping), then the endpoint.
        base = node.resolve_topic_name(name) + "/_action/"
        self._feedback_topic = base + "feedback"
        profile = to_qos_profile(qos)
        group = backend.group
        self._entities: list[Any] = []
        try:
            for kind, endpoint, handler in (
                (impl.SendGoalService, "send_goal", self._on_send_goal),
                (impl.CancelGoalService, "cancel_goal", self._on_cancel),
                (impl.GetResultService, "get_result", self._on_get_result),
            ):
                self._entities.append(
                    node.create_service(
                        kind, base + endpoint, handler, qos_profile=profile, callback_group=group
                    )
                )
            self._feedback: Any = node.create_publisher(
                impl.FeedbackMessage, self._feedback_topic, profile, callback_group=group
            )
            self._entities.append(self._feedback)
            self._status: Any = node.create_publisher(
                impl.GoalStatusMessage,
                base + "status",
                qos_profile_action_status_default,
                callback_group=group,
            )
            self._entities.append(self._status)
            # A steady clock: with use_sim_time and no /clock, a ROS-time timer never fires.
            period = max(0.05, min(EXPIRY_PERIOD, self.result_timeout / 2))
            self._entities.append(
                node.create_timer(
                    period, self._expire, group, clock=Clock(clock_type=ClockType.STEADY_TIME)
                )
            )
        except BaseException:
            self._destroy_entities()
            raise

    # --- the protocol, on the executor thread ----------------------------------------------------

    async def _on_send_goal(self, request: Any, response: Any) -> Any:
        from rclpy.serialization import serialize_message

        key = bytes(request.goal_id.uuid)
        entry = _ServerGoal(
            uuid_str(key), key, request.goal_id, self._backend.executor.create_future()
        )
        with self._lock:
            known = self._goals.get(key)
            if known is None and not self._closed:
                self._goals[key] = entry
        if known is not None and known.decision is not None and not known.decision.done():
            # The same goal id again while the user decides the first (a client that sends an
            # unanswered goal again, as the bridge's did after 2 s): this request gets the same
            # answer as the first, once decided. A "rejected" answer to it would make such a
            # client take the repeat for a known id, and the goal for accepted when the decision
            # came later (a 5 s decision to reject).
            accepted = await known.decision
            with self._lock:  # `decide` stamped an accepted goal before completing the decision
                if accepted and not self._closed and self._goals.get(key) is known:
                    response.accepted = True
                    response.stamp = known.stamp
            return response
        if self._closed or known is not None:
            # A goal id already tracked is rejected, as rcl_action does (the response's defaults:
            # not accepted, zero stamp).
            return response
        goal = bytes(serialize_message(request.goal))
        if not self._auto_accept:
            entry.decision = self._backend.executor.create_future()
            self.goals.put((entry.goal_id, goal))
            accepted = await entry.decision
            if self._closed:
                raise Unanswered(f"action {self.name}: goal {entry.goal_id}: the server closed")
            if not accepted:
                self._forget_goal(entry)
                return response
        with self._lock:
            if self._goals.get(key) is not entry:  # closed meanwhile
                return response
            if entry.stamp is None:  # auto-accepted (`decide` stamps the others)
                entry.stamp = self._backend.node.get_clock().now().to_msg()
                entry.stamp_ns = _nanoseconds(entry.stamp)
            stamp = entry.stamp
            # Accepted; `_start` makes it executing at once, as rclpy's default
            # handle_accepted_callback does (a status array of each, as rclpy publishes).
            entry.status = _ACCEPTED
        response.accepted = True
        response.stamp = stamp
        # rclpy sends this response as soon as the coroutine returns, on this thread; the task
        # runs on a later turn of the (single-threaded) executor, so a client hears that its goal
        # was accepted before the status array, the user's feedback or its result mention it.
        self._backend.executor.create_task(self._start, entry, goal)
        return response

    def _start(self, entry: _ServerGoal, goal: bytes) -> None:
        self._publish_status()  # ACCEPTED
        with self._lock:
            executing = entry.status == _ACCEPTED  # else canceled meanwhile: CANCELING stays
            if executing:
                entry.status = _EXECUTING
        if executing:
            self._publish_status()
        entry.settled.set()
        if self._auto_accept:
            self.goals.put((entry.goal_id, goal))

    def _forget_goal(self, entry: _ServerGoal) -> None:
        """A goal rejected (or dropped before its decision): no longer tracked."""
        with self._lock:
            if self._goals.get(entry.key) is entry:
                del self._goals[entry.key]
        entry.settled.set()
        if not entry.ended.done():
            entry.ended.set_result(None)  # its get-result requests: UNKNOWN
        self._backend.executor.wake()

    def _on_cancel(self, request: Any, response: Any) -> Any:
        """rcl_action's rules: a zero id and a zero stamp cancel every goal; a zero id and a stamp
        every goal accepted at or before it; an id and a zero stamp that goal (UNKNOWN_GOAL_ID if
        not tracked, GOAL_TERMINATED if it cannot be canceled); an id and a stamp that goal and
        every goal at or before the stamp. Only ACCEPTED and EXECUTING goals can be canceled;
        each one listed moves to CANCELING and goes out on `cancels` for the user to end."""
        from action_msgs.msg import GoalInfo

        wanted = bytes(request.goal_info.goal_id.uuid)
        before = _nanoseconds(request.goal_info.stamp)
        with self._lock:
            if any(wanted) and before == 0:
                goal = self._goals.get(wanted)
                if goal is None or goal.status == _UNKNOWN:  # not accepted (yet): not tracked
                    chosen, code = [], _CANCEL_UNKNOWN_GOAL_ID
                elif goal.status in _CANCELABLE:
                    chosen, code = [goal], _CANCEL_NONE
                else:  # as rcl_action: ended, or already canceling
                    chosen, code = [], _CANCEL_GOAL_TERMINATED
            else:
                limit = before if before or any(wanted) else _FOREVER
                chosen = [
                    g
                    for g in self._goals.values()
                    if g.status in _CANCELABLE and (g.stamp_ns <= limit or g.key == wanted)
                ]
                code = _CANCEL_NONE
            for goal in chosen:
                goal.status = _CANCELING
        response.return_code = code
        response.goals_canceling = [GoalInfo(goal_id=g.uuid, stamp=g.stamp) for g in chosen]
        if chosen:
            self._publish_status()
            for goal in chosen:
                self.cancels.put(goal.goal_id)
        return response

    async def _on_get_result(self, request: Any, response: Any) -> Any:
        with self._lock:
            entry = self._goals.get(bytes(request.goal_id.uuid))
        if entry is None:
            return response  # status UNKNOWN: never tracked, rejected or expired
        answer = await entry.ended  # at once for an ended goal
        if self._closed:
            raise Unanswered(f"action {self.name}: result of goal {entry.goal_id}: closed")
        if answer is None:
            return response  # rejected while this request waited for its decision
        # rclpy sends the returned response as soon as this coroutine returns, in this turn of the
        # (single-threaded) executor; the task runs on a later turn, once it has been sent. Set
        # here, the event let a server that exits right after `send_result` close its node before
        # the response went out (test_result_of_a_server_that_exits_right_after_send_result).
        self._backend.executor.create_task(self._delivered, entry)
        return answer

    def _expire(self) -> None:
        """Forget goals that ended `result_timeout` s ago (a timer on the executor thread)."""
        now = time.monotonic()
        expired = False
        with self._lock:
            for key in list(self._ended):
                goal = self._goals.get(key)
                if goal is not None and now - goal.ended_at < self.result_timeout:
                    break  # ended in order: the rest ended later
                del self._ended[key]
                self._goals.pop(key, None)
                expired = True
        if expired:
            self._publish_status()

    def _publish_status(self) -> None:
        """Publish the status of every goal tracked (accepted, running or ended, not expired)."""
        from action_msgs.msg import GoalInfo, GoalStatus

        with self._lock:  # one array at a time, so they go out in the order of the changes
            if self._closed:
                return
            self._status.publish(
                self._action.Impl.GoalStatusMessage(
                    status_list=[
                        GoalStatus(
                            goal_info=GoalInfo(goal_id=g.uuid, stamp=g.stamp), status=g.status
                        )
                        for g in self._goals.values()
                        if g.status != _UNKNOWN
                    ]
                )
            )

    def _drop_goal(self, item: tuple[str, bytes]) -> None:
        """A goal pushed out of the full `goals` queue: nobody will see it, so end it now."""
        key = _goal_key(item[0])
        with self._lock:
            entry = self._goals.get(key) if key is not None else None
        if entry is None:
            return
        if entry.decision is not None and not entry.decision.done():
            self._backend._complete(entry.decision, False)
        elif entry.status in _RUNNING:
            try:
                self.send_result(entry.goal_id, None, "aborted")
                self.forget_delivery(entry.goal_id)
            except BridgeError:  # ended meanwhile
                log.debug("action %s: dropped goal %s had ended", self.name, entry.goal_id)

    def _delivered(self, entry: _ServerGoal) -> None:
        with self._lock:
            self._deliveries.pop(entry.goal_id, None)
        if entry.delivered is not None:
            entry.delivered.set()

    # --- the user's side -------------------------------------------------------------------------

    def decide(self, goal_id: str, accept: bool) -> None:
        """Accept or reject a goal taken with `auto_accept=False`."""
        key = _goal_key(goal_id)
        with self._lock:
            entry = self._goals.get(key) if key is not None else None
        if entry is None or entry.decision is None or entry.decision.done():
            raise BridgeError(f"action {self.name}: goal {goal_id} is not waiting for a decision")
        if accept:
            stamp = self._backend.node.get_clock().now().to_msg()
            with self._lock:
                entry.stamp, entry.stamp_ns = stamp, _nanoseconds(stamp)
        self._backend._complete(entry.decision, accept)

    def _running(self, goal_id: str) -> _ServerGoal:
        key = _goal_key(goal_id)
        with self._lock:
            entry = self._goals.get(key) if key is not None else None
        # Just accepted: the executor is about to start it; give it a moment.
        if entry is None or not entry.settled.wait(START_WAIT) or entry.status not in _RUNNING:
            raise BridgeError(
                f"action {self.name}: goal {goal_id} is not executing "
                "(unknown, rejected, or already finished)"
            )
        return entry

    def send_feedback(self, goal_id: str, feedback: bytes) -> None:
        from rclpy.serialization import deserialize_message

        entry = self._running(goal_id)
        message = self._action.Impl.FeedbackMessage(
            goal_id=entry.uuid, feedback=deserialize_message(feedback, self._action.Feedback)
        )
        if not entry.feedback_sent:
            entry.feedback_sent = True
            self._await_feedback_subscriber()
        from rclpy.exceptions import InvalidHandle

        # Not under the lock: a publisher of keep_all history may block while its history is full.
        try:
            self._feedback.publish(message)
        except InvalidHandle as err:  # destroyed by `close` from another thread meanwhile
            raise BridgeError(f"action {self.name}: the server is closed") from err

    def _await_feedback_subscriber(self) -> None:
        """Before a goal's first feedback, wait (at most `FEEDBACK_SUBSCRIBER_WAIT`) for a subscriber.

        A client subscribes to feedback when it is created, but this participant may learn of that
        subscription after the goal itself arrived (each endpoint is discovered on its own, and a
        lost discovery message is repaired later); feedback is volatile, so what is published before
        is lost to that client. rmw_fastrtps waits the same way before a service response. With
        other clients' subscriptions already known there is no wait (the graph does not say whose
        subscription is whose).
        """
        node = self._backend.node
        if node.count_subscribers(self._feedback_topic):
            return
        deadline = time.monotonic() + FEEDBACK_SUBSCRIBER_WAIT
        while time.monotonic() < deadline:
            time.sleep(0.005)
            if node.count_subscribers(self._feedback_topic):
                # Fast DDS updates the graph just before it pairs the reader with our writer (the
                # same thread, which a loaded machine can preempt in between).
                time.sleep(0.05)
                return
        log.debug(
            "action %s: no feedback subscriber after %g s", self.name, FEEDBACK_SUBSCRIBER_WAIT
        )

    def send_result(self, goal_id: str, result: bytes | None, status: str) -> threading.Event:
        """End `goal_id` (`status`: succeeded, canceled or aborted; canceled only for a goal a
        client asked to cancel, else aborted, as rcl_action allows); the returned event is set
        once a client's get-result request has been answered with the result (or the server is
        closed). Call `forget_delivery` when done."""
        from rclpy.serialization import deserialize_message

        entry = self._running(goal_id)
        value = (
            self._action.Result()
            if result is None
            else deserialize_message(result, self._action.Result)
        )
        delivered = threading.Event()
        with self._lock:
            if self._goals.get(entry.key) is not entry or entry.status not in _RUNNING:
                raise BridgeError(f"action {self.name}: goal {goal_id} is not executing (ended)")
            code = _END_CODES.get(status, _ABORTED)
            if code == _CANCELED and entry.status != _CANCELING:
                code = _ABORTED
            entry.status = code
            entry.ended_at = time.monotonic()
            self._ended[entry.key] = None
            early = len(self._ended) - MAX_ENDED_GOALS
            for key in list(self._ended)[: max(0, early)]:
                del self._ended[key]
                self._goals.pop(key, None)
            # The goal holds its event (a `send_result` waits on it however many others wait);
            # `_deliveries` lists the undelivered ones for a closing backend to wait on, at most
            # MAX_UNTAKEN_RESULTS (the YAML bridge never forgets its own).
            entry.delivered = delivered
            self._deliveries[goal_id] = delivered
            if len(self._deliveries) > MAX_UNTAKEN_RESULTS:  # results no client asked for
                del self._deliveries[next(iter(self._deliveries))]
        if early > 0:
            self.expired_early += early
            self._report.warning(
                f"action {self.name}: more than {MAX_ENDED_GOALS} ended goals kept; the oldest "
                "expired before its result_timeout",
                key=f"expired:{self.name}",
            )
        self._publish_status()
        self._backend._complete(
            entry.ended, self._action.Impl.GetResultService.Response(status=code, result=value)
        )
        return delivered

    def forget_delivery(self, goal_id: str) -> None:
        """Stop tracking the delivery of `goal_id`'s result (its `send_result` stopped waiting)."""
        with self._lock:
            self._deliveries.pop(goal_id, None)

    def is_cancel_requested(self, goal_id: str) -> bool:
        key = _goal_key(goal_id)
        with self._lock:
            entry = self._goals.get(key) if key is not None else None
            return entry is not None and entry.status == _CANCELING

    def undelivered(self) -> list[threading.Event]:
        """The delivery events of results sent but not yet delivered."""
        with self._lock:
            return [e for e in self._deliveries.values() if not e.is_set()]

    def close(self) -> None:
        """Stop serving: goals waiting for a decision are rejected, requests still waiting for an
        answer get none (as from a server that exited), `send_result`s waiting return."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            goals, self._goals = self._goals, {}
            self._ended.clear()
            deliveries, self._deliveries = self._deliveries, {}
        for entry in goals.values():
            entry.settled.set()
            if entry.decision is not None and not entry.decision.done():
                self._backend._complete(entry.decision, False)
            if not entry.ended.done():
                self._backend._complete(entry.ended, None)
        for event in deliveries.values():
            event.set()
        self._destroy_entities()
        self.goals.close()
        self.cancels.close()

    def _destroy_entities(self) -> None:
        entities, self._entities = self._entities, []
        for entity in entities:
            self._backend._destroy(entity)
