"""Actions on the rclpy backend: a server and a client moving CDR goals, feedback and results.

The client is rclpy's `ActionClient` with queues and per-goal records around it, so the bridge can
drive it from its own threads with CDR bytes (msgconv converts to and from Arrow). The server
implements the action protocol itself, as rcl_action does, on rclpy's public services and
publishers (`RclpyActionServer`): rclpy's `ActionServer` tells its callbacks neither a goal's id
before it is decided nor when a result has been sent, and learning them meant overriding its
private methods.

What a goal costs and how long: a client holds at most `MAX_CONCURRENT_GOALS` goals in flight
(sent and not yet ended, as dora-rs 1.1); it asks for each accepted goal's result at once, so a
result is there when the user takes it, even if the server has exited since. A result nobody takes
is kept `RESULT_KEEP` s (ROS 2's default `result_timeout`: the server forgets it then too), and at
most `MAX_UNTAKEN_RESULTS` of them; beyond, the oldest is released and counted. A goal holds no
file descriptor (its feedback queue makes none unless asked for `fileno()`).

A server's `send_result` returns an event set once the result has been sent in answer to a
client's get-result request: dora-rs's `send_result` waits for that, so that a server which sends
its result and exits does not take the result with it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import BridgeError
from .qos import Ros2QosPolicies
from .rclpy_services import Unanswered, wait_for_match
from .ready_queue import ReadyQueue
from .reporting import CountedLog

if TYPE_CHECKING:
    from .rclpy_backend import RclpyBackend

log = logging.getLogger("dora_ros.bridge")

__all__ = [
    "GOAL_STATUS_NAMES",
    "MAX_CONCURRENT_GOALS",
    "MAX_PENDING_GOALS",
    "MAX_UNTAKEN_RESULTS",
    "RESULT_KEEP",
    "RclpyActionClient",
    "RclpyActionServer",
    "uuid_str",
]

#: Goals one client has in flight at once (sent, not yet ended or canceled): dora-rs 1.1's bound.
MAX_CONCURRENT_GOALS = 8
#: Seconds an ended goal's result is kept for `take_result` (ROS 2's default `result_timeout`).
RESULT_KEEP = 900.0
#: Ended goals whose result nobody took yet, per client; beyond, the oldest is released.
MAX_UNTAKEN_RESULTS = 256
#: Feedback messages kept per goal until taken; beyond, the oldest is dropped.
FEEDBACK_DEPTH = 100
#: Goals (and cancel requests) a server holds for `take_goal` (`take_cancel`); beyond, the oldest
#: goal is aborted (rejected while it waits for a decision) and counted.
MAX_PENDING_GOALS = 64
#: Seconds without an answer before a goal request is sent again (same goal id), doubling after.
GOAL_RESEND_AFTER = 2.0
#: Seconds a goal sent again and answered "rejected" waits for the server to say it does not
#: track the goal (`RclpyActionClient._probe_resent`); a server that does track it stays silent.
RESENT_GOAL_PROBE = 2.0
#: How long a goal's first feedback waits for the client's feedback subscription to be discovered.
FEEDBACK_SUBSCRIBER_WAIT = 2.0

GOAL_STATUS_NAMES = {
    0: "unknown",
    1: "accepted",
    2: "executing",
    3: "canceling",
    4: "succeeded",
    5: "canceled",
    6: "aborted",
}


def uuid_str(raw: Any) -> str:
    """The canonical string of a `unique_identifier_msgs/UUID` byte array."""
    return str(uuid.UUID(bytes=bytes(bytearray(raw))))


def _wait(
    backend: RclpyBackend, future: Any, timeout: float | None, stop: threading.Event | None = None
) -> bool:
    """Wait up to `timeout` s (or until `stop` is set) for an rclpy future completed by the
    executor thread; whether it completed."""
    return _wait_any(backend, [future], timeout, stop) is not None


def _wait_any(
    backend: RclpyBackend, futures: list[Any], timeout: float | None, stop: threading.Event | None
) -> Any:
    """The first of `futures` (rclpy futures completed by the executor thread) done within
    `timeout` s; None if none is, or once `stop` is set."""
    done = threading.Event()
    for future in futures:
        future.add_done_callback(lambda _f: done.set())
    backend.executor.wake()
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        for future in futures:
            if future.done():
                return future
        if stop is not None and stop.is_set():
            return None
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return None
        done.wait(0.05 if left is None else min(0.05, left))


# --- server --------------------------------------------------------------------------------------

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
        result_timeout: int = int(RESULT_KEEP),
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
        self._result_timeout = float(result_timeout)
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
            period = max(0.05, min(EXPIRY_PERIOD, self._result_timeout / 2))
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
            # A goal id already tracked is rejected, as rcl_action does (the response's defaults:
            # not accepted, zero stamp): the bridge's client sends a goal whose answer it lost
            # again with the same id (`RclpyActionClient._request_goal`) and relies on it.
            if self._closed or key in self._goals:
                return response
            self._goals[key] = entry
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
        stamp = self._backend.node.get_clock().now().to_msg()
        with self._lock:
            if self._goals.get(key) is not entry:  # closed meanwhile
                return response
            entry.stamp, entry.stamp_ns = stamp, _nanoseconds(stamp)
            # Accepted and executing at once, as rclpy's default handle_accepted_callback does.
            entry.status = _EXECUTING
        response.accepted = True
        response.stamp = stamp
        # rclpy sends this response as soon as the coroutine returns, on this thread; the task
        # runs on a later turn of the (single-threaded) executor, so a client hears that its goal
        # was accepted before the status array, the user's feedback or its result mention it.
        self._backend.executor.create_task(self._start, entry, goal)
        return response

    def _start(self, entry: _ServerGoal, goal: bytes) -> None:
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
        self._backend.executor.create_task(self._delivered, entry.goal_id)
        return answer

    def _expire(self) -> None:
        """Forget goals that ended `result_timeout` s ago (a timer on the executor thread)."""
        now = time.monotonic()
        expired = False
        with self._lock:
            for key in list(self._ended):
                goal = self._goals.get(key)
                if goal is not None and now - goal.ended_at < self._result_timeout:
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

    def _delivered(self, goal_id: str) -> None:
        with self._lock:
            event = self._deliveries.pop(goal_id, None)
        if event is not None:
            event.set()

    # --- the user's side -------------------------------------------------------------------------

    def decide(self, goal_id: str, accept: bool) -> None:
        """Accept or reject a goal taken with `auto_accept=False`."""
        key = _goal_key(goal_id)
        with self._lock:
            entry = self._goals.get(key) if key is not None else None
        if entry is None or entry.decision is None or entry.decision.done():
            raise BridgeError(f"action {self.name}: goal {goal_id} is not waiting for a decision")
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


# --- client --------------------------------------------------------------------------------------


@dataclass
class _ClientGoal:
    goal_id: str
    feedback: ReadyQueue[bytes]
    handle: Any = None  # rclpy ClientGoalHandle once accepted
    ended: threading.Event = field(default_factory=threading.Event)
    outcome: tuple[str, bytes] | None = None  # (status, result CDR) once ended
    ended_at: float = 0.0


class RclpyActionClient:
    """Calls a ROS 2 action with CDR goals; feedback is queued per goal, results kept per goal."""

    def __init__(self, backend: RclpyBackend, name: str, type_name: str, qos: Ros2QosPolicies):
        from rclpy.action import ActionClient
        from rclpy.qos import qos_profile_action_status_default

        from .rclpy_backend import import_interface, to_qos_profile

        self.name = name
        self.type_name = type_name
        self.released = 0  # ended goals whose results nobody took, released
        self._backend = backend
        self._report: CountedLog = backend.report
        self._action = import_interface(type_name)
        self._goals: dict[str, _ClientGoal] = {}  # every goal known, in sending order
        self._in_flight: set[str] = set()  # sent and not yet ended (nor canceled)
        self._lock = threading.Lock()
        profile = to_qos_profile(qos)
        # Feedback comes through a subscription of our own, not through rclpy's per-goal feedback
        # callbacks: rclpy keeps a goal's callback until the goal's result arrives, so the callback
        # of a goal rejected or never answered stayed for ever, and rclpy has no public way to
        # drop it. Ours is created before the ActionClient's own feedback subscription, so it is
        # announced first: a server that has discovered the client's (announced after ours, by
        # the same reliable discovery writer, delivered in order) has discovered ours too.
        self._feedback_reader: Any = backend.node.create_subscription(
            self._action.Impl.FeedbackMessage,
            backend.node.resolve_topic_name(name) + "/_action/feedback",
            self._on_feedback,
            profile,
            callback_group=backend.group,
            raw=True,
        )
        self._client: Any = ActionClient(
            backend.node,
            self._action,
            name,
            callback_group=backend.group,
            goal_service_qos_profile=profile,
            result_service_qos_profile=profile,
            cancel_service_qos_profile=profile,
            feedback_sub_qos_profile=profile,
            status_sub_qos_profile=qos_profile_action_status_default,
        )

    def wait_for_server(
        self, timeout: float | None = None, stop: threading.Event | None = None
    ) -> bool:
        """Whether the action server is matched, waiting up to `timeout` s (None = forever) or
        until `stop` is set."""
        return wait_for_match(
            lambda: (client := self._client) and client.server_is_ready(),
            timeout,
            stop,
        )

    def send_goal(
        self, goal: bytes, timeout: float | None, stop: threading.Event | None = None
    ) -> str | None:
        """Send a goal once the server is matched; its id if accepted, None if rejected.

        Raises:
            BridgeError: `MAX_CONCURRENT_GOALS` in flight already; no server within `timeout`;
                no answer within `timeout`; `stop` was set meanwhile.
        """
        from rclpy.serialization import deserialize_message
        from unique_identifier_msgs.msg import UUID

        message = deserialize_message(goal, self._action.Goal)
        started = time.monotonic()
        goal_uuid = uuid.uuid4()
        goal_id = str(goal_uuid)
        entry = _ClientGoal(
            goal_id, ReadyQueue(FEEDBACK_DEPTH, f"action {self.name} feedback", self._report)
        )
        with self._lock:
            self._release_old()
            if len(self._in_flight) >= MAX_CONCURRENT_GOALS:
                raise BridgeError(
                    f"action {self.name}: max concurrent goals ({MAX_CONCURRENT_GOALS}) reached; "
                    "wait for a goal to end (take_result) or cancel one"
                )
            self._in_flight.add(goal_id)
            self._goals[goal_id] = entry
        try:
            # A goal request sent before the server's goal service is matched is lost (services
            # are volatile): wait for the match first, within the same timeout.
            if not self.wait_for_server(timeout, stop):
                if stop is not None and stop.is_set():
                    raise BridgeError(f"action {self.name}: goal abandoned, the bridge is stopping")
                raise BridgeError(
                    f"no action server {self.name} ({self.type_name}) within {timeout:g} s"
                )
            goal_uuid_msg = UUID(uuid=list(goal_uuid.bytes))
            future, resent = self._request_goal(message, goal_uuid_msg, started, timeout, stop)
        except BaseException:
            self._forget(goal_id)
            raise
        handle: Any = future.result()
        result: Any = None
        if not handle.accepted and resent:
            handle, result = self._probe_resent(goal_uuid_msg, stop)
        if handle is None or not handle.accepted:
            self._forget(goal_id)
            return None
        entry.handle = handle
        # Ask for the result now: it is kept here when the goal ends, whenever the user takes it
        # and whether or not the server is still there then.
        if result is None:
            result = handle.get_result_async()
        result.add_done_callback(lambda f: self._on_result(entry, f))
        self._backend.executor.wake()
        return goal_id

    def _request_goal(
        self,
        message: Any,
        goal_uuid: Any,
        started: float,
        timeout: float | None,
        stop: threading.Event | None,
    ) -> tuple[Any, bool]:
        """Send the goal request until one is answered: (its rclpy future, whether it was sent
        more than once).

        A goal request whose answer is lost is sent again with the same goal id, after
        `GOAL_RESEND_AFTER` s, then twice as long each time: a server answers a request before it
        has discovered the client's response reader when the two processes start together on a
        loaded machine (rmw_fastrtps then waits 100 ms for that reader and drops the answer), and
        the answer never comes. The same goal id makes it safe: a server that accepted the first
        request rejects the repeat (rclpy and rclcpp reject an id they track); `send_goal` tells
        that apart from a real rejection (`_probe_resent`).
        """
        futures: list[Any] = []
        resend_after = GOAL_RESEND_AFTER
        try:
            while True:
                left = None if timeout is None else timeout - (time.monotonic() - started)
                if left is not None and left <= 0:
                    break
                futures.append(self._send_goal_request(message, goal_uuid, left, stop))
                wait = resend_after if left is None else min(resend_after, left)
                answered = _wait_any(self._backend, futures, wait, stop)
                if answered is not None:
                    return answered, len(futures) > 1
                if stop is not None and stop.is_set():
                    raise BridgeError(f"action {self.name}: goal abandoned, the bridge is stopping")
                resend_after *= 2
                log.debug("action %s: goal request not answered; sending it again", self.name)
            raise BridgeError(
                f"action {self.name} ({self.type_name}): goal not answered within {timeout:g} s "
                f"(the server is matched; sent {len(futures)} times)"
            )
        finally:
            for future in futures:
                if not future.done():
                    future.cancel()  # rclpy forgets the pending request

    def _send_goal_request(
        self, message: Any, goal_uuid: Any, timeout: float | None, stop: threading.Event | None
    ) -> Any:
        """Send one goal request; its rclpy future."""
        # Sent from the executor thread: rclpy 9's `send_goal_async` registers the goal's future a
        # second time after releasing its lock, so a response the executor takes in between (a
        # sending thread preempted there, as under load) completes a future nobody holds and the
        # goal is never answered. On the executor thread nothing is taken in between.
        sending = self._backend.executor.create_task(
            self._client.send_goal_async,
            message,
            goal_uuid=goal_uuid,
        )
        if not _wait(self._backend, sending, timeout, stop):
            sending.cancel()
            raise BridgeError(
                f"action {self.name} ({self.type_name}): the bridge's executor did not send "
                f"the goal within {timeout:g} s"
            )
        if sending.exception() is not None:
            raise BridgeError(
                f"action {self.name} ({self.type_name}): goal not sent: {sending.exception()}"
            ) from sending.exception()
        return sending.result()

    def _probe_resent(self, goal_uuid: Any, stop: threading.Event | None) -> tuple[Any, Any]:
        """A goal sent again was answered "rejected": was the first request accepted (its answer
        lost, the repeat rejected as a known id) or is it a real rejection? Ask for the goal's
        result: a server answers at once with status UNKNOWN for a goal it does not track, and
        only when it ends for one it does. (accepted handle, result future) or (None, None)."""
        from action_msgs.msg import GoalStatus
        from rclpy.action.client import ClientGoalHandle

        response = self._action.Impl.SendGoalService.Response(accepted=True)
        handle = ClientGoalHandle(self._client, goal_uuid, response)
        result = handle.get_result_async()
        if _wait(self._backend, result, RESENT_GOAL_PROBE, stop):
            answer: Any = result.result()
            if answer.status == GoalStatus.STATUS_UNKNOWN:
                return None, None
        return handle, result

    def _forget(self, goal_id: str) -> None:
        with self._lock:
            self._in_flight.discard(goal_id)
            entry = self._goals.pop(goal_id, None)
        if entry is not None:
            entry.feedback.close()

    def _on_feedback(self, message: bytes) -> None:
        # A FeedbackMessage is {goal_id: uint8[16], feedback: Feedback}: after the 4-byte
        # encapsulation header, 16 bytes of goal id, then the feedback at body offset 16, a
        # multiple of every CDR alignment; so header + the rest is the feedback's own CDR, byte
        # for byte (the end padding the header's options count included). Nothing is decoded here.
        if len(message) < 20:
            self._report.warning(
                f"action {self.name}: dropped a feedback message of {len(message)} bytes "
                "(too short for a goal id)",
                key=f"short-feedback:{self.name}",
            )
            return
        goal_id = uuid_str(message[4:20])
        with self._lock:
            entry = self._goals.get(goal_id)
        if entry is not None:
            entry.feedback.put(bytes(message[:4]) + bytes(message[20:]))

    def _on_result(self, entry: _ClientGoal, future: Any) -> None:
        from rclpy.serialization import serialize_message

        if not future.done():  # cancelled: the client is closing
            entry.ended.set()
            return
        response = future.result()
        status = GOAL_STATUS_NAMES.get(int(response.status), "unknown")
        entry.outcome = (status, bytes(serialize_message(response.result)))
        entry.ended_at = time.monotonic()
        with self._lock:
            self._in_flight.discard(entry.goal_id)
        entry.ended.set()

    def _release_old(self) -> None:
        """Release ended goals whose results nobody took: after `RESULT_KEEP` s, and the oldest
        beyond `MAX_UNTAKEN_RESULTS` (called with the lock held)."""
        ended = [e for e in self._goals.values() if e.outcome is not None]
        now = time.monotonic()
        excess = len(ended) - MAX_UNTAKEN_RESULTS
        for index, entry in enumerate(ended):
            if index >= excess and now - entry.ended_at < RESULT_KEEP:
                continue
            del self._goals[entry.goal_id]
            entry.feedback.close()
            self.released += 1
            self._report.warning(
                f"action {self.name}: results nobody took were released (kept {RESULT_KEEP:g} s, "
                f"at most {MAX_UNTAKEN_RESULTS})",
                key=f"released:{self.name}",
            )

    def _goal(self, goal_id: str) -> _ClientGoal:
        with self._lock:
            entry = self._goals.get(goal_id)
        if entry is None or (entry.handle is None and entry.outcome is None):
            raise BridgeError(
                f"action {self.name}: unknown goal_id {goal_id!r} (never accepted, result "
                "already taken, or released)"
            )
        return entry

    def ended(self, goal_id: str) -> bool:
        """Whether `goal_id` has ended (its result is here, for `take_result`)."""
        return self._goal(goal_id).ended.is_set()

    def feedback_queue(self, goal_id: str) -> ReadyQueue[bytes]:
        return self._goal(goal_id).feedback

    def take_result(self, goal_id: str, timeout: float | None) -> tuple[str, bytes] | None:
        """`(status, result CDR)` once the goal ends (None after `timeout` s; the goal is kept)."""
        entry = self._goal(goal_id)
        if not entry.ended.wait(timeout):
            return None
        self._forget(goal_id)
        if entry.outcome is None:
            raise BridgeError(f"action {self.name}: client closed before goal {goal_id} ended")
        return entry.outcome

    def cancel(self, goal_id: str | None, timeout: float | None) -> int:
        """Cancel one goal (or every goal in flight); the CancelGoal return code (0 = accepted).

        An accepted cancel frees the goal's in-flight slot at once; so does an unanswered one when
        the server is gone (its result will never come).
        """
        if goal_id is not None:
            targets = [self._goal(goal_id)]
        else:
            with self._lock:
                targets = [
                    e for e in self._goals.values() if e.handle is not None and e.outcome is None
                ]
        code = 0
        for entry in targets:
            future = entry.handle.cancel_goal_async()
            if not _wait(self._backend, future, timeout):
                future.cancel()
                gone = self._client is not None and not self._client.server_is_ready()
                if gone:  # its result will never come: do not let it hold a slot for ever
                    with self._lock:
                        self._in_flight.discard(entry.goal_id)
                raise BridgeError(
                    f"action {self.name}: cancel of goal {entry.goal_id} not answered within "
                    f"{timeout:g} s"
                    + (
                        "; no action server is matched any more, the goal's slot is freed"
                        if gone
                        else ""
                    )
                )
            answer = int(future.result().return_code)
            if answer == 0:
                with self._lock:
                    self._in_flight.discard(entry.goal_id)
            code = code or answer
        return code

    def in_flight(self) -> int:
        """Goals sent and not yet ended (nor canceled)."""
        with self._lock:
            return len(self._in_flight)

    def close(self) -> None:
        with self._lock:
            goals, self._goals = self._goals, {}
            self._in_flight.clear()
        for entry in goals.values():
            entry.feedback.close()
            entry.ended.set()
        if self._feedback_reader is not None:
            self._backend._destroy(self._feedback_reader)
            self._feedback_reader = None
        if self._client is not None:
            self._backend._destroy(self._client)
            self._client = None
