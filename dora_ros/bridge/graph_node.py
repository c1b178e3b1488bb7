"""The `ros2:` node kind: a dataflow node that is a ROS 2 bridge, and the process that runs it.

`NODE_KIND` is registered for the YAML key `ros2` through the `dora_ros.node_kinds` entry point.
The runtime asks it to validate the key (`graph_config.py`), for the outputs the node has without
listing them (one per subscribed topic, `response`/`request` for services, `feedback`/`result` or
`goal`/`cancel` for actions) and for the command to start; that command runs
`python -m dora_ros.bridge.bridge_node --config <json>`, an ordinary dora-ros node (see
`bridge_node.py`):

- topics: each ROS message goes out as a one-row struct array on its output; each input value is
  published (every row one message).
- service client: each input value is a request; the response goes out on `response` with the
  request's metadata; calls run concurrently. Server: each request goes out on `request` with a
  `request_id` metadata parameter; a value on any input with that `request_id` answers it.
- action client: each input value is a goal (except input `cancel`, whose `goal_id` metadata or
  string value cancels a goal); `feedback` and `result` go out with `goal_id` and, on the result,
  `goal_status` metadata. Server: each goal goes out on `goal` with `goal_id`; inputs `feedback`
  and `result` (with `goal_id`, optional `goal_status`) answer it; cancel requests go out on
  `cancel` (value and `goal_id` = the goal id).

A value that does not fit the ROS type is logged as an error naming the input and the field, and
the bridge goes on; so is a malformed sample from the network.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from .graph_config import parse_bridge_config

__all__ = ["NODE_KIND", "Ros2NodeKind"]


class Ros2NodeKind:
    """The `NodeKind` for `ros2:` nodes (see `dora_ros/runtime/extensions.py`)."""

    def validate(self, config: Mapping[str, Any], node_id: str, location: Any) -> None:
        parse_bridge_config(config, node_id, location)

    def implied_outputs(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        return parse_bridge_config(config, "?").implied_outputs()

    def implied_inputs(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        return parse_bridge_config(config, "?").implied_inputs()

    def command(self, node: Any, dataflow: Any) -> list[str]:
        raw = dict(node.raw) if node.raw else {}
        declared = raw.get("outputs") or []
        payload = {
            "node_id": node.id,
            "ros2": dict(node.extension[1]) if node.extension else raw.get("ros2"),
            "declared_outputs": [str(o) for o in declared],
            "inputs": [i.id for i in node.inputs],
        }
        return [
            sys.executable,
            "-m",
            "dora_ros.bridge.bridge_node",
            "--config",
            json.dumps(payload),
        ]


NODE_KIND = Ros2NodeKind()
