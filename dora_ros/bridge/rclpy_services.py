"""Services on the rclpy backend: a client and a server moving CDR requests and responses.

rclpy's `Client`/`Service` pair replies with requests the way Fast DDS expects; these classes
wrap them for the bridge's threads. A request arriving at the server is re-serialized and queued
as CDR; the handler coroutine awaits an rclpy future that `send_response` completes from the
user's thread, so a pending request never holds the executor thread.

One overflow rule, for the Python API and the YAML bridge alike: a server holds at most
`max_pending` requests (the core's `endpoints.MAX_PENDING_REQUESTS`) without a response (taken or not); a newer one drops the *oldest*
(fresh data wins on a robot), whose client gets no response and times out on its own. Drops are
counted (`evicted`) and reported through the backend's `CountedLog`.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import BridgeError
from .qos import Ros2QosPolicies
from .ready_queue import ReadyQueue

if TYPE_CHECKING:
    from .rclpy_backend import RclpyBackend

__all__ = ["RclpyServiceClient", "RclpyServiceServer"]

#: Polling step while waiting for a service server to be matched.
_MATCH_POLL = 0.005


def wait_for_match(
    ready: Callable[[], bool | None], timeout: float | None, stop: threading.Event | None
) -> bool:
    """Poll `ready` (None: the endpoint was closed) until True, `timeout` s (None = forever) or
    `stop`; rclpy has no wait for a match, only these polls (services and actions share it)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        state = ready()
        if state is None or (stop is not None and stop.is_set()):
            return False
        if state:
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(_MATCH_POLL)


class RclpyServiceClient:
    """Calls a ROS 2 service with CDR requests, giving CDR responses."""

    def __init__(self, backend: RclpyBackend, name: str, type_name: str, qos: Ros2QosPolicies):
        from .rclpy_backend import import_interface, to_qos_profile

        self.name = name
        self.type_name = type_name
        self._backend = backend
        self._srv = import_interface(type_name)
        self._client: Any = backend.node.create_client(
            self._srv, name, qos_profile=to_qos_profile(qos), callback_group=backend.group
        )

    def wait_for_service(
        self, timeout: float | None = None, stop: threading.Event | None = None
    ) -> bool:
        """Whether a server is matched, waiting up to `timeout` s (None = forever) or until
        `stop` is set."""
        return wait_for_match(
            lambda: (client := self._client) and client.service_is_ready(),
            timeout,
            stop,
        )

    def call(
        self, request: bytes, timeout: float | None, stop: threading.Event | None = None
    ) -> bytes:
        """Send one request once a server is matched and wait for its response.

        Raises:
            BridgeError: no server within `timeout` s (the request is not sent: one sent before
                the match would be lost), no response within `timeout` s, or `stop` was set.
        """
        from rclpy.serialization import deserialize_message, serialize_message

        message = deserialize_message(request, self._srv.Request)
        started = time.monotonic()
        if not self.wait_for_service(timeout, stop):
            if stop is not None and stop.is_set():
                raise BridgeError(f"service {self.name}: call abandoned, the bridge is stopping")
            raise BridgeError(
                f"no service server {self.name} ({self.type_name}) within {timeout:g} s"
            )
        remaining = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
        done = threading.Event()
        future = self._client.call_async(message)
        future.add_done_callback(lambda _f: done.set())
        self._backend.executor.wake()
        deadline = None if remaining is None else time.monotonic() + remaining
        while not done.wait(0.05 if stop is not None else remaining):
            stopped = stop is not None and stop.is_set()
            if stopped or (deadline is not None and time.monotonic() >= deadline):
                self._client.remove_pending_request(future)
                raise BridgeError(
                    f"service {self.name}: call abandoned, the bridge is stopping"
                    if stopped
                    else f"service {self.name} ({self.type_name}): no response within "
                    f"{timeout:g} s (the server is matched)"
                )
        return bytes(serialize_message(future.result()))

    def close(self) -> None:
        if self._client is not None:
            self._backend._destroy(self._client)
            self._client = None


class Unanswered(Exception):
    """Raised by a service handler whose request was dropped: rclpy then sends no response.

    It propagates out of `executor.spin_once`, where `RclpyBackend._spin` expects it.
    """


_DROPPED = object()  # completes a dropped request's future


class RclpyServiceServer:
    """Serves a ROS 2 service: requests come out of `take()`, responses go in by request id.

    At most `max_pending` requests are held without a response (taken or not); a newer one drops
    the oldest (see the module docstring). `take` is first in, first out, so the requests taken
    are always the oldest pending ones.
    """

    def __init__(
        self,
        backend: RclpyBackend,
        name: str,
        type_name: str,
        qos: Ros2QosPolicies,
        max_pending: int,
    ):
        from .rclpy_backend import import_interface, to_qos_profile

        self.name = name
        self.type_name = type_name
        self.max_pending = max_pending
        self.evicted = 0  # requests dropped over `max_pending`
        self._backend = backend
        self._report = backend.report
        self._srv = import_interface(type_name)
        # The queue drops its oldest item exactly when `_handle` drops the oldest pending request
        # untaken (it is full only when every pending request is untaken): reported once, here.
        self._queue: ReadyQueue[tuple[int, bytes]] = ReadyQueue(
            max_pending, f"service {name} requests", self._report
        )
        self._pending: dict[int, Any] = {}
        self._taken: set[int] = set()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._service: Any = backend.node.create_service(
            self._srv,
            name,
            self._handle,
            qos_profile=to_qos_profile(qos),
            callback_group=backend.group,
        )

    async def _handle(self, request: Any, response: Any) -> Any:
        from rclpy.serialization import deserialize_message, serialize_message

        future = self._backend.executor.create_future()
        evicted = None
        with self._lock:
            request_id = next(self._ids)
            if len(self._pending) >= self.max_pending:
                oldest = next(iter(self._pending))  # dicts keep arrival order
                evicted = (oldest, self._pending.pop(oldest), oldest in self._taken)
                self._taken.discard(oldest)
                self.evicted += 1
            self._pending[request_id] = future
        if evicted is not None:
            if evicted[2]:  # an untaken one is reported by the queue, which drops it too
                self._report.warning(
                    f"service {self.name}: {self.max_pending} requests pending without a "
                    "response; the oldest dropped (its client gets no response)",
                    key=f"evict:{self.name}",
                )
            self._backend._complete(evicted[1], _DROPPED)
        self._queue.put((request_id, bytes(serialize_message(request))))
        answer = await future
        if answer is _DROPPED:
            raise Unanswered(f"service {self.name}: request {request_id} dropped")
        if answer is None:
            return response  # the bridge gave up on this request (closed): default response
        return deserialize_message(answer, self._srv.Response)

    def fileno(self) -> int:
        return self._queue.fileno()

    def take(self, timeout: float | None = 0.0) -> tuple[int, bytes] | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            item = self._queue.take(remaining)
            if item is None:
                return None
            with self._lock:
                if item[0] in self._pending:
                    self._taken.add(item[0])
                    return item
            # dropped over `max_pending` before anyone took it: the next one

    def send_response(self, request_id: int, response: bytes) -> None:
        with self._lock:
            future = self._pending.pop(request_id, None)
            self._taken.discard(request_id)
        if future is None:
            raise BridgeError(
                f"service {self.name}: no pending request with id {request_id!r} (already "
                f"answered, never taken, or dropped as the oldest of {self.max_pending} "
                "pending requests)"
            )
        self._backend._complete(future, response)

    def drop(self, request_id: int) -> bool:
        """Give up on a pending request without answering it (its client gets no response).

        False if `request_id` is not pending (answered, dropped, or never taken).
        """
        with self._lock:
            future = self._pending.pop(request_id, None)
            self._taken.discard(request_id)
        if future is None:
            return False
        self._backend._complete(future, _DROPPED)
        return True

    def is_pending(self, request_id: int) -> bool:
        """Whether `request_id` still waits for a response (not answered, dropped or evicted)."""
        with self._lock:
            return request_id in self._pending

    def close(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            self._taken.clear()
        for future in pending.values():
            self._backend._complete(future, None)
        if self._service is not None:
            self._backend._destroy(self._service)
            self._service = None
            self._queue.close()
