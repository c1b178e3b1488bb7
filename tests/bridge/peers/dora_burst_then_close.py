"""A dora-ros Python-API publisher in its own process: a burst, then close at once.

{"topic": "/flush", "domain": 87, "count": 300, "size": 200000, "go_file": null}: waits for a
subscriber (and for `go_file` to exist, when given), publishes
`count` std_msgs/String messages of `size` bytes (reliable, keep_last = count), closes its
context right away and exits: the last samples before a dora STOP. Prints "ready", "closed".
"""

from __future__ import annotations

import os
import time

import pyarrow as pa
from _peer import config, emit

from dora_ros.bridge import Ros2Context, Ros2NodeOptions, Ros2QosPolicies


def main() -> None:
    cfg = config()
    context = Ros2Context(domain_id=cfg["domain"])
    node = context.new_node("burst_then_close", "/", Ros2NodeOptions())
    qos = Ros2QosPolicies(keep_last=cfg["count"])
    publisher = node.create_publisher(node.create_topic(cfg["topic"], "std_msgs/String", qos))
    emit(event="ready")
    while publisher.matched_count() == 0:
        time.sleep(0.01)
    if cfg.get("go_file"):  # the test says when the subscriber's side has matched too
        while not os.path.exists(cfg["go_file"]):
            time.sleep(0.01)
    else:
        time.sleep(0.5)  # the subscriber's side of the match too
    filler = "x" * cfg["size"]
    for i in range(cfg["count"]):
        publisher.publish(pa.array([{"data": f"{i}:{filler}"}]))
    context.close()
    emit(event="closed")


if __name__ == "__main__":
    main()
