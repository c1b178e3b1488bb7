"""Doubles what the talker sends (same machine: a shared-memory edge)."""

import pyarrow as pa

from dora_ros import Node


def main() -> None:
    node = Node()
    for event in node:
        if event["type"] == "INPUT":
            node.send_output("double", pa.array([2 * event["value"][0].as_py()], type=pa.int64()))


if __name__ == "__main__":
    main()
