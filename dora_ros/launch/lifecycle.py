"""Lifecycle nodes at run time: transitions asked through `lifecycle_msgs` services, and the
nodes' transition events turned into launch events.

One :class:`LifecycleManager` per launch, made when the first lifecycle step runs: an rclpy node
of its own (own `rclpy.Context`, no signal handlers, no rosout) spun in a thread. It subscribes to
each lifecycle node's `<node>/transition_event` and calls `<node>/change_state`; events reach the
launch's asyncio loop through `emit`, a thread-safe callback. ROS 2's launch_ros does the same
with its own rclpy node.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import LaunchError

__all__ = [
    "TRANSITIONS",
    "ChangeState",
    "LifecycleManager",
    "LifecycleRequest",
    "LifecycleWatch",
    "StateTransition",
    "matches_action",
]

# lifecycle_msgs/msg/Transition ids by label, for messages and --print.
TRANSITIONS = {
    1: "configure",
    2: "cleanup",
    3: "activate",
    4: "deactivate",
    5: "unconfigured_shutdown",
    6: "inactive_shutdown",
    7: "active_shutdown",
}

SERVICE_WAIT_S = 30.0  # a node process takes a while to start; ROS 2 waits without a bound
CALL_TIMEOUT_S = 30.0


def matches_action(action: Any) -> Callable[[Any], bool]:
    """launch.events.matches_action: a matcher for events about `action`."""
    return lambda other: other is action


@dataclass
class StateTransition:
    """A lifecycle node changed state (`launch_ros.events.lifecycle.StateTransition`)."""

    action: Any
    msg: Any
    transition: str
    start_state: str
    goal_state: str


class ChangeState:
    """Ask lifecycle nodes for a transition (`launch_ros.events.lifecycle.ChangeState`)."""

    def __init__(
        self, *, lifecycle_node_matcher: Callable[[Any], bool], transition_id: int
    ) -> None:
        self.lifecycle_node_matcher = lifecycle_node_matcher
        self.transition_id = int(transition_id)

    def visit_event(self, context: Any) -> list[Any]:
        """Called by EmitEvent: a LifecycleRequest step for each lifecycle node it matches."""
        from .errors import LaunchFileError

        matched = [
            fqn
            for action, fqn in context.shared.lifecycle_nodes
            if self.lifecycle_node_matcher(action)
        ]
        if not matched:
            raise LaunchFileError(
                f"ChangeState({TRANSITIONS.get(self.transition_id, self.transition_id)}): no "
                "lifecycle node started so far matches (emit it after the LifecycleNode)"
            )
        for fqn in matched:
            context.emit(LifecycleRequest(fqn, (self.transition_id,)))
        return []


@dataclass(frozen=True)
class LifecycleWatch:
    """Plan step: follow the transition events of lifecycle node `fqn` (started by `action`)."""

    fqn: str
    action: Any = None


@dataclass(frozen=True)
class LifecycleRequest:
    """Plan step: ask the node `fqn` for these transitions, in order, once it serves them."""

    fqn: str
    transitions: tuple[int, ...]

    def describe(self) -> str:
        names = ", then ".join(TRANSITIONS.get(t, str(t)) for t in self.transitions)
        return f"lifecycle {self.fqn}: {names}"


class LifecycleManager:
    """The launch's rclpy side for lifecycle nodes (see the module docstring)."""

    def __init__(self, emit: Callable[[Any], None]) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.signals import SignalHandlerOptions

        self._emit = emit
        self._context = rclpy.Context()
        rclpy.init(context=self._context, signal_handler_options=SignalHandlerOptions.NO)
        self._node = rclpy.create_node(
            f"launch_ros_{os.getpid()}",
            context=self._context,
            enable_rosout=False,
            start_parameter_services=False,
        )
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self._node)
        self._watched: set[str] = set()
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.closing = threading.Event()  # set at shutdown: pending requests give up
        self._thread = threading.Thread(target=self._spin, name="lifecycle", daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException

        try:
            while self._context.ok():
                self._executor.spin_once(timeout_sec=0.1)
        except ExternalShutdownException:
            pass

    def watch(self, fqn: str, action: Any) -> None:
        """Turn the node's transition events into StateTransition launch events."""
        from lifecycle_msgs.msg import TransitionEvent

        with self._lock:
            if fqn in self._watched:
                return
            self._watched.add(fqn)

            def on_event(msg: Any) -> None:
                self._emit(
                    StateTransition(
                        action=action,
                        msg=msg,
                        transition=msg.transition.label,
                        start_state=msg.start_state.label,
                        goal_state=msg.goal_state.label,
                    )
                )

            self._node.create_subscription(
                TransitionEvent, f"{fqn.rstrip('/')}/transition_event", on_event, 10
            )

    def change_state(self, fqn: str, transition_id: int) -> None:
        """Ask for one transition and wait for the answer (blocking; run it in a thread)."""
        from lifecycle_msgs.srv import ChangeState as ChangeStateSrv

        label = TRANSITIONS.get(transition_id, str(transition_id))
        with self._lock:
            client = self._clients.get(fqn)
            if client is None:
                client = self._node.create_client(ChangeStateSrv, f"{fqn.rstrip('/')}/change_state")
                self._clients[fqn] = client
        waited = 0.0
        while not client.wait_for_service(timeout_sec=0.2):
            waited += 0.2
            if self.closing.is_set():
                return
            if waited >= SERVICE_WAIT_S:
                raise LaunchError(
                    f"lifecycle node {fqn}: no {fqn.rstrip('/')}/change_state service after "
                    f"{SERVICE_WAIT_S:g} s, cannot {label}"
                )
        request = ChangeStateSrv.Request()
        request.transition.id = transition_id
        done = threading.Event()
        future = client.call_async(request)
        future.add_done_callback(lambda _: done.set())
        if not done.wait(CALL_TIMEOUT_S):
            raise LaunchError(
                f"lifecycle node {fqn}: {label} got no answer in {CALL_TIMEOUT_S:g} s"
            )
        response = future.result()
        if response is None or not response.success:
            raise LaunchError(f"lifecycle node {fqn}: transition {label} failed")

    def close(self) -> None:
        import rclpy

        self.closing.set()
        rclpy.try_shutdown(context=self._context)
        self._thread.join(timeout=5)
        self._executor.shutdown()
        self._node.destroy_node()
