"""A dora node: each std_msgs/String from ROS comes in as a one-row struct; send it upper-cased."""

from __future__ import annotations

import pyarrow as pa
from dora import Node


def main() -> None:
    node = Node()
    for event in node:
        if event["type"] == "INPUT" and event["id"] == "chatter":
            text = event["value"][0].as_py()["data"]
            node.send_output("shout", pa.array([{"data": text.upper()}]), event["metadata"])


if __name__ == "__main__":
    main()
