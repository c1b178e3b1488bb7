"""Sends 1, 2, 3, ... on each tick (machine `robot` in graph.yml)."""

import pyarrow as pa

from dora_ros import Node


def main() -> None:
    node = Node()
    count = 0
    for event in node:
        if event["type"] == "INPUT":
            count += 1
            node.send_output("count", pa.array([count], type=pa.int64()))


if __name__ == "__main__":
    main()
