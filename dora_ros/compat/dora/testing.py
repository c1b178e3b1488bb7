"""`dora.testing`: `MockNode`, a stand-in for `dora.Node` in unit tests (API of dora-rs 1.1's module).

    node = MockNode([("tick", pa.array([0]))])
    for event in node:
        if event["type"] == "INPUT":
            node.send_output("result", pa.array([42]))
    assert node.outputs["result"][0].to_pylist() == [42]

Events are given up front (tuples `(input_id, value)` or whole event dicts); a STOP
(`ALL_INPUTS_CLOSED`) ends them unless one was given. Outputs, logs and service traffic are recorded
for assertions. `send_output_raw` needs a runtime and raises `NotImplementedError`.
"""

from __future__ import annotations

import datetime
import uuid
from collections import deque
from collections.abc import Iterable
from typing import Any

__all__ = ["MockNode"]


class MockNode:
    """Replays given events and records what the node sends; no runtime needed."""

    def __init__(
        self,
        inputs: Iterable[tuple[str, Any] | dict[str, Any]],
        metadata: dict[str, Any] | None = None,
        *,
        dataflow_descriptor: dict[str, Any] | None = None,
        dataflow_id: str | None = None,
        node_config: dict[str, Any] | None = None,
        is_restart: bool = False,
        restart_count: int = 0,
        service_responses: dict[str, list[Any]] | None = None,
    ) -> None:
        self._events: deque[dict[str, Any]] = deque(
            dict(item) if isinstance(item, dict) else self._input(*item, metadata)
            for item in inputs
        )
        if not any(event.get("type") == "STOP" for event in self._events):
            self._events.append({"type": "STOP", "id": "ALL_INPUTS_CLOSED", "kind": "dora"})
        self._descriptor = dict(dataflow_descriptor or {})
        self._dataflow_id = dataflow_id or ""
        self._node_config = dict(node_config or {})
        self._is_restart = is_restart
        self._restart_count = restart_count
        self._responses = {k: deque(v) for k, v in (service_responses or {}).items()}
        self.outputs: dict[str, list[Any]] = {}
        self.logs: list[dict[str, Any]] = []
        self.service_requests: list[dict[str, Any]] = []
        self.service_responses_sent: list[dict[str, Any]] = []

    @staticmethod
    def _input(input_id: str, value: Any, metadata: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "type": "INPUT",
            "id": input_id,
            "kind": "dora",
            "value": value,
            "metadata": dict(metadata or {}),
        }

    # -- events --------------------------------------------------------------------------------
    def __iter__(self) -> MockNode:
        return self

    def __next__(self) -> dict[str, Any]:
        if not self._events:
            raise StopIteration
        return self._events.popleft()

    def next(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next event, or None when there are no more (`timeout` is ignored)."""
        return self._events.popleft() if self._events else None

    async def recv_async(self, timeout: float | None = None) -> dict[str, Any] | None:
        """Same as :meth:`next`."""
        return self.next(timeout)

    def try_recv(self) -> dict[str, Any] | None:
        """Same as :meth:`next`: a mock never waits."""
        return self.next()

    def drain(self) -> list[dict[str, Any]]:
        """Every remaining event."""
        events = list(self._events)
        self._events.clear()
        return events

    def is_empty(self) -> bool:
        """True when no events remain."""
        return not self._events

    # -- sending -------------------------------------------------------------------------------
    def send_output(
        self, output_id: str, data: Any, metadata: dict[str, Any] | None = None
    ) -> None:
        """Record `data` under `outputs[output_id]`."""
        self.outputs.setdefault(output_id, []).append(data)

    def send_output_raw(
        self, output_id: str, data_length: int, metadata: dict[str, Any] | None = None
    ) -> None:
        """Not available without a runtime (it hands out shared memory)."""
        raise NotImplementedError(
            "MockNode.send_output_raw needs a runtime; use send_output in unit tests"
        )

    def send_service_request(
        self, output_id: str, data: Any, metadata: dict[str, Any] | None = None
    ) -> str:
        """Record the request; if a response was given for `output_id`, queue it as the next INPUT."""
        request_id = str(uuid.uuid4())
        self.service_requests.append(
            {
                "output_id": output_id,
                "data": data,
                "metadata": dict(metadata or {}),
                "request_id": request_id,
            }
        )
        if self._responses.get(output_id):
            reply = self._input(
                output_id, self._responses[output_id].popleft(), {"request_id": request_id}
            )
            stop = len(self._events) and self._events[-1].get("type") == "STOP"
            # The reply comes before the final STOP, as it would from a live dataflow.
            self._events.insert(len(self._events) - 1 if stop else len(self._events), reply)
        return request_id

    def send_service_response(self, output_id: str, data: Any, metadata: dict[str, Any]) -> None:
        """Record the response (metadata normally carries the request's `request_id`)."""
        self.service_responses_sent.append(
            {
                "output_id": output_id,
                "data": data,
                "metadata": dict(metadata),
                "request_id": metadata.get("request_id"),
            }
        )

    # -- logging and introspection ---------------------------------------------------------------
    def log(
        self,
        level: str,
        message: str,
        target: str | None = None,
        fields: dict[str, str] | None = None,
    ) -> None:
        """Record a log entry in `logs`."""
        self.logs.append(
            {"level": level, "message": message, "target": target, "fields": dict(fields or {})}
        )

    def log_error(self, message: str) -> None:
        self.log("error", message)

    def log_warn(self, message: str) -> None:
        self.log("warn", message)

    def log_info(self, message: str) -> None:
        self.log("info", message)

    def log_debug(self, message: str) -> None:
        self.log("debug", message)

    def log_trace(self, message: str) -> None:
        self.log("trace", message)

    def dataflow_descriptor(self) -> dict[str, Any]:
        return dict(self._descriptor)

    def dataflow_id(self) -> str:
        return self._dataflow_id

    def node_config(self) -> dict[str, Any]:
        return dict(self._node_config)

    def is_restart(self) -> bool:
        return self._is_restart

    def restart_count(self) -> int:
        return self._restart_count

    def timestamp(self) -> datetime.datetime:
        """Now, in UTC."""
        return datetime.datetime.now(datetime.timezone.utc)

    def merge_external_events(self, subscription: Any) -> None:
        raise NotImplementedError("MockNode.merge_external_events needs a runtime")
