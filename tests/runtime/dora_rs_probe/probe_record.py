"""Probe node: records every event it gets, as JSON, for the dora-rs reference fixture.

Run by `graph.yml` under a real `dora run` (see `tests/runtime/dora_rs_reference.py`). Writes
`$PROBE_OUT/<node id>.json`. Uses only the public node API, so it also runs under dora-ros.
"""

from __future__ import annotations

import datetime
import json
import os
import time

import pyarrow as pa
from dora import Node


def describe(value: object) -> object:
    """A JSON-able description of a Python value, with its exact type."""
    if isinstance(value, datetime.datetime):
        age = time.time() - value.timestamp()
        return {
            "py_type": "datetime",
            "tz": repr(value.tzinfo),
            # A fresh timestamp shows as "now", a user-sent datetime (2024's) as its exact value.
            # Fresh: within PROBE_NOW_S (5 s; the dora-rs reference check gives 60: CI saw dora-rs
            # on a loaded machine record a message more than 5 s after it was stamped).
            "value": "now"
            if abs(age) < float(os.environ.get("PROBE_NOW_S", "5"))
            else value.isoformat(),
        }
    if isinstance(value, pa.Array):
        data = value.to_pylist() if len(value) <= 8 else f"<{len(value)} items>"
        return {
            "py_type": type(value).__name__,
            "arrow_type": str(value.type),
            "len": len(value),
            "data": repr(data),
        }
    if isinstance(value, (list, tuple)):
        return {"py_type": type(value).__name__, "items": [describe(v) for v in value]}
    if isinstance(value, dict):
        return {"py_type": "dict", "items": {str(k): describe(v) for k, v in value.items()}}
    return {"py_type": type(value).__name__, "repr": repr(value)}


def describe_event(event: object) -> object:
    if not isinstance(event, dict):
        return describe(event)
    return {
        "keys": sorted(event),
        **{k: (v if isinstance(v, str) else describe(v)) for k, v in event.items()},
    }


def main() -> None:
    node = Node()
    record: dict[str, object] = {"events": []}
    if os.environ.get("PROBE_FIRST_TIMEOUT"):
        started = time.monotonic()
        try:
            first = node.next(timeout=float(os.environ["PROBE_FIRST_TIMEOUT"]))
            record["next_timeout"] = describe_event(first)
        except Exception as err:  # recording what the API raises
            record["next_timeout"] = {"raises": type(err).__name__, "message": str(err)}
        record["next_timeout_waited_s"] = round(time.monotonic() - started, 2)
    if os.environ.get("PROBE_DRAIN_FIRST"):
        record["drain_first"] = [describe_event(e) for e in node.drain()]
    record["dataflow_id"] = describe(node.dataflow_id())
    record["node_config"] = node.node_config()
    record["descriptor_keys"] = sorted(node.dataflow_descriptor())
    events: list[object] = record["events"]  # type: ignore[assignment]
    slow = float(os.environ.get("PROBE_SLOW", "0"))
    deadline = time.monotonic() + 30  # beyond the --stop-after of the runs
    while time.monotonic() < deadline:
        event = node.next(timeout=2.0)
        events.append(describe_event(event))
        if event is None:
            break
        if slow:
            time.sleep(slow)
            slow = 0.0
        if event["type"] == "STOP":
            # What follows a STOP: more events, or None?
            after = node.next(timeout=0.5)
            events.append({"after_stop": describe_event(after)})
            break
    record["is_empty_at_end"] = node.is_empty()
    record["try_recv_at_end"] = describe_event(node.try_recv())
    out = os.path.join(os.environ["PROBE_OUT"], os.environ.get("PROBE_NAME", "recorder") + ".json")
    with open(out, "w") as f:
        json.dump(record, f, indent=1, sort_keys=True, default=repr)


if __name__ == "__main__":
    main()
