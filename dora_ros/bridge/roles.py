"""What a backend does beyond topics, one protocol per role: services, actions, parameters.

`backend.Backend` covers topics, which every backend moves. The other roles are protocols of
their own: a backend implements a role's protocol or does not have it, and `require` turns "does
not have it" into one clear `UnsupportedRoleError` (the backend's own reason when `check_role`
gives one). So the Python API (`context.py`) and the YAML bridge (`bridge_node.py`) ask for a role,
never for a backend by name.

Endpoints move CDR bytes, as topic writers and readers do; the core (`endpoints.py`, through
`codec.py`) converts them to and from Arrow for both faces. The rclpy backend implements every role (`rclpy_services.py`,
`rclpy_actions.py`, `rclpy_action_server.py`, `rclpy_backend.py` for parameters); the Cyclone backend none of them.
"""

from __future__ import annotations

import threading
from typing import Any, Literal, Protocol, overload, runtime_checkable

from .backend import UnsupportedRoleError
from .graph_config import DEFAULT_RESULT_TIMEOUT
from .qos import Ros2QosPolicies
from .ready_queue import ReadyQueue

__all__ = [
    "ActionClient",
    "ActionRole",
    "ActionServer",
    "ParameterRole",
    "ServiceClient",
    "ServiceRole",
    "ServiceServer",
    "require",
]


class ServiceClient(Protocol):
    """Calls one service: `call` waits (within its timeout) for a server, then for the answer."""

    name: str
    type_name: str

    def wait_for_service(
        self, timeout: float | None = None, stop: threading.Event | None = None
    ) -> bool: ...

    def call(
        self, request: bytes, timeout: float | None, stop: threading.Event | None = None
    ) -> bytes: ...

    def close(self) -> None: ...


class ServiceServer(Protocol):
    """Serves one service: requests out of `take`, responses in by request id (drop-oldest)."""

    name: str
    type_name: str

    def fileno(self) -> int: ...

    def take(self, timeout: float | None = 0.0) -> tuple[int, bytes] | None: ...

    def send_response(self, request_id: int, response: bytes) -> None: ...

    def drop(self, request_id: int) -> bool: ...

    def is_pending(self, request_id: int) -> bool: ...

    def close(self) -> None: ...


class ActionClient(Protocol):
    """Calls one action: goals, per-goal feedback and results, cancel."""

    name: str
    type_name: str

    def wait_for_server(
        self, timeout: float | None = None, stop: threading.Event | None = None
    ) -> bool: ...

    def send_goal(
        self, goal: bytes, timeout: float | None, stop: threading.Event | None = None
    ) -> str | None: ...

    def ended(self, goal_id: str) -> bool: ...

    def feedback_queue(self, goal_id: str) -> ReadyQueue[bytes]: ...

    def take_result(self, goal_id: str, timeout: float | None) -> tuple[str, bytes] | None: ...

    def cancel(self, goal_id: str | None, timeout: float | None) -> int: ...

    def close(self) -> None: ...


class ActionServer(Protocol):
    """Serves one action: goals and cancel requests out of queues, answers by goal id."""

    name: str
    type_name: str
    goals: ReadyQueue[tuple[str, bytes]]
    cancels: ReadyQueue[str]
    result_timeout: float  # seconds an ended goal's result is kept for clients

    def decide(self, goal_id: str, accept: bool) -> None: ...

    def send_feedback(self, goal_id: str, feedback: bytes) -> None: ...

    def send_result(self, goal_id: str, result: bytes | None, status: str) -> threading.Event: ...

    def forget_delivery(self, goal_id: str) -> None: ...

    def is_cancel_requested(self, goal_id: str) -> bool: ...

    def close(self) -> None: ...


@runtime_checkable
class ServiceRole(Protocol):
    """A backend that can call and serve ROS 2 services."""

    def create_service_client(
        self, name: str, type_name: str, qos: Ros2QosPolicies
    ) -> ServiceClient: ...

    def create_service_server(
        self, name: str, type_name: str, qos: Ros2QosPolicies, max_pending: int
    ) -> ServiceServer:
        """A server holding at most `max_pending` requests without a response (the oldest
        dropped beyond; the core passes `endpoints.MAX_PENDING_REQUESTS`)."""
        ...


@runtime_checkable
class ActionRole(Protocol):
    """A backend that can call and serve ROS 2 actions."""

    def create_action_client(
        self, name: str, type_name: str, qos: Ros2QosPolicies
    ) -> ActionClient: ...

    def create_action_server(
        self,
        name: str,
        type_name: str,
        qos: Ros2QosPolicies,
        auto_accept: bool = True,
        result_timeout: float = DEFAULT_RESULT_TIMEOUT,
    ) -> ActionServer: ...


@runtime_checkable
class ParameterRole(Protocol):
    """A backend whose node has ROS 2 parameters (served to `ros2 param`)."""

    def set_parameter(self, name: str, value: Any) -> None: ...

    def get_parameter(self, name: str) -> Any: ...

    def list_parameters(self) -> list[str]: ...

    def has_parameter(self, name: str) -> bool: ...


_ROLES: dict[str, type] = {
    "service": ServiceRole,
    "action": ActionRole,
    "parameters": ParameterRole,
}


@overload
def require(backend: Any, role: Literal["service"]) -> ServiceRole: ...
@overload
def require(backend: Any, role: Literal["action"]) -> ActionRole: ...
@overload
def require(backend: Any, role: Literal["parameters"]) -> ParameterRole: ...
def require(backend: Any, role: str) -> Any:
    """`backend` as the protocol of `role` (`service`, `action`, `parameters`).

    Raises:
        UnsupportedRoleError: the backend does not implement the role (its `check_role` reason
            when it gives one).
    """
    if isinstance(backend, _ROLES[role]):
        return backend
    check = getattr(backend, "check_role", None)
    if check is not None:
        check(role)  # the backend's own explanation, if it has one
    raise UnsupportedRoleError(
        f"{role} is not available on backend {getattr(backend, 'name', type(backend).__name__)!r}"
    )
