"""Probe node: sends payloads and metadata of every kind once, records what the API does.

Run by `graph.yml` under a real `dora run` (see `tests/runtime/dora_rs_reference.py`).
"""

from __future__ import annotations

import datetime
import json
import os
import time

import pyarrow as pa
from dora import Node

METADATA = {
    "b": True,
    "i": 7,
    "neg": -3,
    "big": 2**62,
    "f": 1.5,
    "s": "text",
    "li": [1, 2, 3],
    "lf": [1.0, 2.5],
    "ls": ["a", "b"],
    "empty": [],
    "tup": (4, 5),
    "dt": datetime.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.timezone.utc),
    "none": None,
    "nested": {"a": 1},
}


def main() -> None:
    node = Node()
    record: dict[str, object] = {"node_config": node.node_config()}
    time.sleep(0.5)  # lets `waiter` see next(timeout=...) time out
    for event in node:
        if event["type"] != "INPUT":
            continue
        record["tick"] = {
            "keys": sorted(event),
            "value_type": type(event["value"]).__name__,
            "arrow_type": str(event["value"].type),
            "len": len(event["value"]),
            "metadata": {k: type(v).__name__ for k, v in event["metadata"].items()},
        }
        try:
            node.send_output("data", pa.array([0]), {"mixed": [1, 2.5]})
            record["metadata_mixed_list"] = "no error"
        except Exception as err:  # recording what the API raises
            record["metadata_mixed_list"] = {"raises": type(err).__name__, "message": str(err)}
        node.send_output("data", pa.array([1, 2, 3]), METADATA)
        node.send_output("data", b"hello")
        node.send_output("data", pa.array([{"x": 1, "y": [1.5, None]}, None]))
        node.send_output("data", pa.array(["a", None, "c"]))
        node.send_output("data", pa.array([0] * 70000, pa.uint8()))
        try:
            node.send_output("undeclared", pa.array([1]))
            record["undeclared"] = "no error"
        except Exception as err:  # recording what the API raises
            record["undeclared"] = {"raises": type(err).__name__, "message": str(err)}
        try:
            node.send_output("data", [1, 2, 3])
            record["send_list"] = "no error"
        except Exception as err:
            record["send_list"] = {"raises": type(err).__name__, "message": str(err)}
        try:
            with node.send_output_raw("data", 16, {"raw": True}) as buf:
                memoryview(buf)[:] = bytes(range(16))
            record["send_output_raw"] = "ok"
        except Exception as err:
            record["send_output_raw"] = {"raises": type(err).__name__, "message": str(err)}
        for i in range(30):
            node.send_output("burst", pa.array([i]))
        rid = node.send_service_request("data", pa.array([9]), {"k": 1})
        record["service_request_id"] = {"type": type(rid).__name__, "len": len(rid)}
        break
    out = os.path.join(os.environ["PROBE_OUT"], "sender.json")
    with open(out, "w") as f:
        json.dump(record, f, indent=1, sort_keys=True, default=repr)


if __name__ == "__main__":
    main()
