"""The bridge's core: ROS 2 endpoints in Arrow values, behind both faces.

The Python API (`context.py`) and the YAML bridge (`bridge_node.py`) are two faces of these
classes: a face adapts its arguments (dora-rs's signatures and defaults; `ros2:` keys, inputs and
metadata) and reports errors its own way (raising; logging with a count and an `error` output),
and nothing else. What a ROS 2 endpoint does lives here once:

- creating it on a backend, asking for its role (`roles.require`) and the type's parts;
- encoding what goes out and decoding what comes in (`codec.py`): a value that does not fit is a
  `BridgeError` naming the field, a sample that does not decode a `MalformedSample` naming the
  endpoint and the type, counted in the endpoint's `malformed`; a malformed request is dropped
  (its client gets no answer), a malformed goal ended (aborted, or rejected while undecided);
- the bounds, which are the backend's queues' (`ready_queue.py`): a topic reader holds its QoS
  depth, a service server at most `MAX_PENDING_REQUESTS` requests with the oldest dropped, an
  action client at most 8 goals in flight, an action server `MAX_PENDING_GOALS` waiting goals;
- an action's end statuses (`result_status`).

Backend endpoints (`backend.TopicWriter`, `roles.ServiceClient`, ...) move CDR bytes; these hold
one and the interface type, and move Arrow.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pyarrow as pa

from ..errors import BridgeError
from .backend import Backend
from .codec import MalformedSample, decode_as, encode, encode_rows
from .graph_config import DEFAULT_RESULT_TIMEOUT
from .names import part_type
from .qos import Ros2QosPolicies
from .roles import require

log = logging.getLogger("dora_ros.bridge")

#: Requests a service server holds without a response, taken or not, before the oldest is dropped
#: (both faces; the backend is given it). dora-rs bounds its pending requests at 64 as well
#: (MAX_PENDING_REQUESTS in its Python API).
MAX_PENDING_REQUESTS = 64
#: Default waits of both faces, dora-rs's: a service call, and sending a goal (waiting for the
#: server's match, then its answer).
CALL_TIMEOUT = 30.0
#: Default wait for a cancel request's answer.
CANCEL_TIMEOUT = 10.0
#: Default wait for a goal's result, and `send_result`'s for its delivery (dora-rs's 300 s).
RESULT_TIMEOUT = 300.0

__all__ = [
    "CALL_TIMEOUT",
    "CANCEL_TIMEOUT",
    "END_STATUSES",
    "MAX_PENDING_REQUESTS",
    "RESULT_TIMEOUT",
    "ActionClientEndpoint",
    "ActionServerEndpoint",
    "MalformedSample",
    "ServiceClientEndpoint",
    "ServiceServerEndpoint",
    "TopicPublisher",
    "TopicSubscriber",
    "result_status",
]

#: How a goal can end, as a server says it (anything else is aborted, with a warning by the face).
END_STATUSES = ("succeeded", "aborted", "canceled")


def result_status(status: str | None) -> tuple[str, bool]:
    """The end status to send for `status` (None = `succeeded`), and whether it was one of
    `END_STATUSES` (if not, the goal is aborted and the face warns in its own way)."""
    name = (status or "succeeded").lower()
    if name in END_STATUSES:
        return name, True
    return "aborted", False


# --- topics --------------------------------------------------------------------------------------


class TopicPublisher:
    """Publishes Arrow values on one topic: every row of a struct array (or one dict) is one
    message."""

    def __init__(self, backend: Backend, topic: str, type_name: str, qos: Ros2QosPolicies) -> None:
        self.writer = backend.create_writer(topic, type_name, qos)
        self.topic = self.writer.topic
        self.type_name = type_name

    def publish(self, value: Any, what: str) -> None:
        """BridgeError naming `what` (`publish on /x`, `input 'a' -> /x`) and the field if a row
        does not fit the type."""
        for sample in encode_rows(self.type_name, value, what):
            self.writer.write(sample)

    def matched_count(self) -> int:
        return int(self.writer.matched_count())

    def close(self) -> None:
        self.writer.close()


class TopicSubscriber:
    """Receives one topic's messages as one-row struct arrays (the reader holds its QoS depth,
    dropping the oldest beyond)."""

    def __init__(self, backend: Backend, topic: str, type_name: str, qos: Ros2QosPolicies) -> None:
        self.reader = backend.create_reader(topic, type_name, qos)
        self.topic = self.reader.topic
        self.type_name = type_name
        self.malformed = 0  # samples that did not decode, dropped

    def fileno(self) -> int:
        return int(self.reader.fileno())

    def take(self, timeout: float | None = 0.0) -> pa.StructArray | None:
        """The next message, waiting up to `timeout` s (None = forever); None if none came.

        Raises:
            MalformedSample: the next sample did not decode; it is dropped and counted, and the
                one after it can be taken.
        """
        sample = self.reader.take(timeout)
        if sample is None:
            return None
        try:
            return decode_as(self.type_name, sample, f"topic {self.topic}")
        except MalformedSample:
            self.malformed += 1
            raise

    @property
    def dropped(self) -> int:
        """Messages dropped because the queue held its QoS depth (not counting `malformed`)."""
        return int(self.reader.dropped)

    def matched_count(self) -> int:
        return int(self.reader.matched_count())

    def close(self) -> None:
        self.reader.close()


# --- services ------------------------------------------------------------------------------------


class ServiceClientEndpoint:
    """Calls one service with Arrow requests."""

    def __init__(self, backend: Backend, name: str, type_name: str, qos: Ros2QosPolicies) -> None:
        self.client = require(backend, "service").create_service_client(name, type_name, qos)
        self.name = self.client.name
        self.type_name = type_name

    def wait_for_service(
        self, timeout: float | None = None, stop: threading.Event | None = None
    ) -> bool:
        return bool(self.client.wait_for_service(timeout, stop))

    def encode_request(self, value: Any, what: str) -> bytes:
        return encode(part_type(self.type_name, "Request"), value, what)

    def call(
        self, request: bytes, timeout: float | None, stop: threading.Event | None = None
    ) -> pa.StructArray:
        """Send an encoded request once a server is matched (within `timeout`) and wait for the
        response (BridgeError: no server, no response, `stop` set; MalformedSample)."""
        answer = self.client.call(request, timeout, stop)
        return decode_as(
            part_type(self.type_name, "Response"), answer, f"response of service {self.name}"
        )

    def close(self) -> None:
        self.client.close()


class ServiceServerEndpoint:
    """Serves one service: `take` gives `(request_id, request)`, `respond` answers by id.

    The server holds at most `MAX_PENDING_REQUESTS` requests without a response, taken or not;
    a newer one drops the oldest (its client gets no response), the one rule of both faces.
    """

    def __init__(self, backend: Backend, name: str, type_name: str, qos: Ros2QosPolicies) -> None:
        self.server = require(backend, "service").create_service_server(
            name, type_name, qos, MAX_PENDING_REQUESTS
        )
        self.name = self.server.name
        self.type_name = type_name
        self.malformed = 0

    def fileno(self) -> int:
        return int(self.server.fileno())

    def take(self, timeout: float | None = 0.0) -> tuple[int, pa.StructArray] | None:
        """The next request, waiting up to `timeout` s; None if none came.

        Raises:
            MalformedSample: the request did not decode; it is dropped (no response).
        """
        item = self.server.take(timeout)
        if item is None:
            return None
        request_id, data = item
        try:
            return request_id, decode_as(
                part_type(self.type_name, "Request"),
                data,
                f"request {request_id} on service {self.name}",
            )
        except MalformedSample:
            self.malformed += 1
            self.server.drop(request_id)  # nobody can answer it: its client gets no response
            raise

    def encode_response(self, value: Any, what: str) -> bytes:
        return encode(part_type(self.type_name, "Response"), value, what)

    def respond(self, request_id: int, response: bytes) -> None:
        """Answer a pending request with an encoded response (BridgeError if not pending)."""
        self.server.send_response(request_id, response)

    def drop(self, request_id: int) -> bool:
        return bool(self.server.drop(request_id))

    def is_pending(self, request_id: int) -> bool:
        return bool(self.server.is_pending(request_id))

    def close(self) -> None:
        self.server.close()


# --- actions -------------------------------------------------------------------------------------


class ActionClientEndpoint:
    """Calls one action: goals in Arrow, per-goal feedback and results out (at most 8 goals in
    flight, the backend's bound)."""

    def __init__(self, backend: Backend, name: str, type_name: str, qos: Ros2QosPolicies) -> None:
        self.client = require(backend, "action").create_action_client(name, type_name, qos)
        self.name = self.client.name
        self.type_name = type_name
        self.malformed = 0

    def wait_for_server(
        self, timeout: float | None = None, stop: threading.Event | None = None
    ) -> bool:
        return bool(self.client.wait_for_server(timeout, stop))

    def encode_goal(self, value: Any, what: str) -> bytes:
        return encode(part_type(self.type_name, "Goal"), value, what)

    def send_goal(
        self, goal: bytes, timeout: float | None, stop: threading.Event | None = None
    ) -> str | None:
        """The goal id if accepted, None if rejected; waits for the server's match first."""
        goal_id: str | None = self.client.send_goal(goal, timeout, stop)
        return goal_id

    def ended(self, goal_id: str) -> bool:
        return bool(self.client.ended(goal_id))

    def take_feedback(self, goal_id: str, timeout: float | None) -> pa.StructArray | None:
        """One feedback of `goal_id`, waiting up to `timeout` s; None if none came.

        Raises:
            BridgeError: unknown goal_id.
            MalformedSample: a feedback that did not decode (dropped; the goal goes on).
        """
        data = self.client.feedback_queue(goal_id).take(timeout)
        if data is None:
            return None
        try:
            return decode_as(
                part_type(self.type_name, "Feedback"),
                data,
                f"feedback of goal {goal_id} on action {self.name}",
            )
        except MalformedSample:
            self.malformed += 1
            raise

    def take_result(self, goal_id: str, timeout: float | None) -> tuple[str, pa.StructArray] | None:
        """`(status, result)` once `goal_id` ends, or None after `timeout` s."""
        outcome = self.client.take_result(goal_id, timeout)
        if outcome is None:
            return None
        status, data = outcome
        return status, decode_as(
            part_type(self.type_name, "Result"),
            data,
            f"result of goal {goal_id} on action {self.name}",
        )

    def cancel(self, goal_id: str | None, timeout: float | None) -> int:
        return int(self.client.cancel(goal_id, timeout))

    def close(self) -> None:
        self.client.close()


class ActionServerEndpoint:
    """Serves one action: goals and cancel requests out, feedback and results in, by goal id."""

    def __init__(
        self,
        backend: Backend,
        name: str,
        type_name: str,
        qos: Ros2QosPolicies,
        auto_accept: bool = True,
        result_timeout: float = DEFAULT_RESULT_TIMEOUT,
    ) -> None:
        self.server = require(backend, "action").create_action_server(
            name, type_name, qos, auto_accept=auto_accept, result_timeout=result_timeout
        )
        self.name = self.server.name
        self.type_name = type_name
        self.auto_accept = auto_accept
        self.goals = self.server.goals
        self.cancels = self.server.cancels
        self.malformed = 0

    def take_goal(self, timeout: float | None = 0.0) -> tuple[str, pa.StructArray] | None:
        """The next `(goal_id, goal)`, waiting up to `timeout` s; None if none came.

        Raises:
            MalformedSample: the goal did not decode; it is aborted (rejected while it waits for
                a decision), since nobody can act on it.
        """
        item = self.server.goals.take(timeout)
        if item is None:
            return None
        goal_id, data = item
        try:
            return goal_id, decode_as(
                part_type(self.type_name, "Goal"), data, f"goal {goal_id} on action {self.name}"
            )
        except MalformedSample:
            self.malformed += 1
            self._end_malformed(goal_id)
            raise

    def _end_malformed(self, goal_id: str) -> None:
        try:
            if self.auto_accept:
                self.server.send_result(goal_id, None, "aborted")
                self.server.forget_delivery(goal_id)
            else:
                self.server.decide(goal_id, False)
        except BridgeError as err:  # already ended (the server is closing): nothing left to end
            log.warning("action %s: malformed goal %s not ended: %s", self.name, goal_id, err)

    def decide(self, goal_id: str, accept: bool) -> None:
        self.server.decide(goal_id, accept)

    def send_feedback(self, goal_id: str, value: Any, what: str) -> None:
        data = encode(part_type(self.type_name, "Feedback"), value, what)
        self.server.send_feedback(goal_id, data)

    def encode_result(self, value: Any, what: str) -> bytes:
        return encode(part_type(self.type_name, "Result"), value, what)

    def send_result(self, goal_id: str, result: bytes, status: str) -> threading.Event:
        """End `goal_id` with an encoded result and one of `END_STATUSES`; the event is set once
        a client's get-result request has been answered (call `forget_delivery` when done)."""
        return self.server.send_result(goal_id, result, status)

    def forget_delivery(self, goal_id: str) -> None:
        self.server.forget_delivery(goal_id)

    def is_cancel_requested(self, goal_id: str) -> bool:
        return bool(self.server.is_cancel_requested(goal_id))

    def close(self) -> None:
        self.server.close()
