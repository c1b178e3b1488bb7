"""Actions on the rclpy backend: the client, and what client and server share.

The client is rclpy's `ActionClient` with queues and per-goal records around it, so the bridge can
drive it from its own threads with CDR bytes (msgconv converts to and from Arrow). The server
(`rclpy_action_server.py`) implements the action protocol itself, as rcl_action does, on rclpy's
public services and publishers.

What a goal costs and how long: a client holds at most `MAX_CONCURRENT_GOALS` goals in flight
(sent and not yet ended, as dora-rs 1.1); it asks for each accepted goal's result at once, so a
result is there when the user takes it, even if the server has exited since. A result nobody takes
is kept `RESULT_KEEP` s (ROS 2's default `result_timeout`: the server forgets it then too), and at
most `MAX_UNTAKEN_RESULTS` of them; beyond, the oldest is released and counted. A goal holds no
file descriptor (its feedback queue makes none unless asked for `fileno()`).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import BridgeError
from .graph_config import DEFAULT_RESULT_TIMEOUT
from .qos import Ros2QosPolicies
from .rclpy_services import wait_for_match
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
    "uuid_str",
]

#: Goals one client has in flight at once (sent, not yet ended or canceled): dora-rs 1.1's bound.
MAX_CONCURRENT_GOALS = 8
#: Seconds an ended goal's result is kept for `take_result` (ROS 2's default `result_timeout`,
#: the servers' default too).
RESULT_KEEP = DEFAULT_RESULT_TIMEOUT
#: Ended goals whose result nobody took yet, per client; beyond, the oldest is released.
MAX_UNTAKEN_RESULTS = 256
#: Feedback messages kept per goal until taken; beyond, the oldest is dropped.
FEEDBACK_DEPTH = 100
#: Goals (and cancel requests) a server holds for `take_goal` (`take_cancel`); beyond, the oldest
#: goal is aborted (rejected while it waits for a decision) and counted.
MAX_PENDING_GOALS = 64
#: Seconds a probe (a cancel request for a goal id nobody has) waits for its answer before it
#: is sent again, doubling up to `PROBE_RETRY_MAX` (`RclpyActionClient._probe_server`).
PROBE_RETRY = 0.5
PROBE_RETRY_MAX = 2.0
#: Requests left unanswered that a client keeps waiting for: probes another one was answered
#: before, goals not answered in time and their cancel requests (answered late, a request whose
#: future was canceled makes rclpy warn of an unexpected response; a goal accepted late is
#: canceled then). Beyond, the oldest is dropped (rclpy forgets it).
MAX_UNANSWERED = 16
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


def _left(started: float, timeout: float | None) -> float | None:
    """Seconds left of `timeout` counted from `started` (monotonic); None: no timeout."""
    return None if timeout is None else timeout - (time.monotonic() - started)


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
        self._unanswered: list[Any] = []  # rclpy futures of requests kept (MAX_UNANSWERED)
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
        # Goals go through a service client of our own, not the ActionClient's `send_goal_async`:
        # rclpy 9.1 registers a first future per goal with the ActionClient's waitable and never
        # removes it (one more object per goal for ever, and the executor walks them all on each
        # wake-up: 300 goals, 300 futures). Made before the ActionClient, its answer reader is
        # announced before the ActionClient's cancel answer reader (`_probe_server`).
        self._goal_client: Any = backend.node.create_client(
            self._action.Impl.SendGoalService,
            backend.node.resolve_topic_name(name) + "/_action/send_goal",
            qos_profile=profile,
            callback_group=backend.group,
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
            lambda: (
                (client := self._client) is not None
                and (goals := self._goal_client) is not None
                and client.server_is_ready()
                and goals.service_is_ready()
            ),
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
            self._probe_server(started, timeout, stop)
            goal_uuid_msg = UUID(uuid=list(goal_uuid.bytes))
            future = self._request_goal(message, goal_uuid_msg, started, timeout, stop)
        except BaseException:
            self._forget(goal_id)
            raise
        from rclpy.action.client import ClientGoalHandle

        answer: Any = future.result()
        if answer is None or not answer.accepted:
            self._forget(goal_id)
            return None
        handle: Any = ClientGoalHandle(self._client, goal_uuid_msg, answer)
        entry.handle = handle
        # Ask for the result now: it is kept here when the goal ends, whenever the user takes it
        # and whether or not the server is still there then.
        result = handle.get_result_async()
        result.add_done_callback(lambda f: self._on_result(entry, f))
        self._backend.executor.wake()
        return goal_id

    def _probe_server(
        self, started: float, timeout: float | None, stop: threading.Event | None
    ) -> None:
        """Return once the server has answered this client: a cancel request for a goal id
        nobody has (and no stamp), sent again until answered. It has no effect on any server,
        and leaves no line in its log: rcl_action (rclpy, rclcpp) and ours answer it at once
        with UNKNOWN_GOAL_ID. It must be a request every server answers: a result request for
        such an id makes rclpy's server warn "unknown or expired goal ID" each time, and rclc
        (micro-ROS) never answers it.

        Matched on our side does not mean the server has discovered our answer readers: when both
        start together on a loaded machine, the server may know our participant but not yet our
        readers, and rmw_fastrtps then drops its answer (it takes the reader for gone). A goal
        request answered that way is lost, and sending it again (with the same goal id) let a
        multi-threaded rclpy server still deciding it (rclpy tracks a goal only once decided)
        decide the repeat too: its goal callback ran twice. A lost answer to this
        probe costs nothing. Once it is answered, the server has discovered our cancel answer
        reader (the ActionClient's), and so our goal answer reader, made before the ActionClient
        (`__init__`), announced before it by the same discovery writer and taken in order: the
        goal request, sent once, is answered.
        """
        from unique_identifier_msgs.msg import UUID

        retry = PROBE_RETRY
        probes: list[Any] = []
        try:
            while True:
                left = _left(started, timeout)
                if left is not None and left <= 0:
                    break
                probes.append(self._request_cancel(UUID(uuid=list(uuid.uuid4().bytes))))
                if len(probes) > MAX_UNANSWERED:  # a silent server and no timeout: bounded
                    probes.pop(0).cancel()
                wait = retry if left is None else min(retry, left)
                if _wait_any(self._backend, probes, wait, stop) is not None:
                    return
                if stop is not None and stop.is_set():
                    raise BridgeError(f"action {self.name}: goal abandoned, the bridge is stopping")
                retry = min(retry * 2, PROBE_RETRY_MAX)
                log.debug("action %s: server not answering yet; asking again", self.name)
            raise BridgeError(
                f"action {self.name} ({self.type_name}): the server did not answer within "
                f"{timeout:g} s (it is matched; asked {len(probes)} times)"
            )
        finally:
            self._keep_unanswered(probes)

    def _keep_unanswered(self, futures: list[Any]) -> None:
        """Keep waiting for `futures` not done yet, at most `MAX_UNANSWERED` in all: canceled,
        one answered late makes rclpy warn of an unexpected response; one lost in discovery is
        never answered."""
        with self._lock:
            kept = [f for f in self._unanswered + futures if not f.done()]
            while len(kept) > MAX_UNANSWERED:
                kept.pop(0).cancel()  # rclpy forgets the pending request
            self._unanswered = kept

    def _request_goal(
        self,
        message: Any,
        goal_uuid: Any,
        started: float,
        timeout: float | None,
        stop: threading.Event | None,
    ) -> Any:
        """Send the goal request once (the server is known to answer us: `_probe_server`) and
        wait for its answer; its rclpy future."""
        left = _left(started, timeout)
        if left is not None and left <= 0:
            raise BridgeError(
                f"action {self.name} ({self.type_name}): goal not sent within {timeout:g} s"
            )
        future = self._send_goal_request(message, goal_uuid)
        left = _left(started, timeout)
        if _wait(self._backend, future, left, stop):
            return future
        self._abandon(future, goal_uuid)
        if stop is not None and stop.is_set():
            raise BridgeError(f"action {self.name}: goal abandoned, the bridge is stopping")
        raise BridgeError(
            f"action {self.name} ({self.type_name}): goal not answered within {timeout:g} s "
            "(the server is matched and answers; a cancel was requested in case it runs)"
        )

    def _abandon(self, future: Any, goal_uuid: Any) -> None:
        """A goal given up unanswered must not run with nobody tracking it: the server may have
        accepted it and lost the answer (a best-effort QoS, an overflowing history), or decide
        it later. Its cancel is requested now, and again if the answer comes and says accepted
        (a goal still being decided cannot be canceled yet)."""

        def cancel() -> None:
            try:
                self._keep_unanswered([self._request_cancel(goal_uuid)])
            except Exception as err:  # a closing client
                log.warning("action %s: cannot cancel goal %s: %s", self.name, goal_uuid, err)

        def accepted_late(done: Any) -> None:
            answer = None if done.cancelled() or done.exception() else done.result()
            if answer is not None and answer.accepted:
                cancel()

        cancel()
        future.add_done_callback(accepted_late)
        self._keep_unanswered([future])
        self._backend.executor.wake()

    def _request_cancel(self, goal_uuid: Any) -> Any:
        """Ask the server to cancel goal `goal_uuid` alone (no stamp); the rclpy future of its
        answer. rclpy's ActionClient sends cancel requests only for a goal handle; the handle's
        own answer is not read, so any stands in."""
        from rclpy.action.client import ClientGoalHandle

        stand_in = self._action.Impl.SendGoalService.Response(accepted=True)
        return ClientGoalHandle(self._client, goal_uuid, stand_in).cancel_goal_async()

    def _send_goal_request(self, message: Any, goal_uuid: Any) -> Any:
        """Send one goal request; its rclpy future (the SendGoal service's response)."""
        request = self._action.Impl.SendGoalService.Request(goal_id=goal_uuid, goal=message)
        future = self._goal_client.call_async(request)  # registered under the client's lock
        self._backend.executor.wake()
        return future

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
        if self._goal_client is not None:
            self._backend._destroy(self._goal_client)
            self._goal_client = None
        if self._client is not None:
            self._backend._destroy(self._client)
            self._client = None
