"""Prints what arrives from the other machine (machine `gpu` in graph.yml)."""

import socket

from dora_ros import Node


def main() -> None:
    node = Node()
    host = socket.gethostname()
    for event in node:
        if event["type"] == "INPUT":
            print(f"{event['id']} {event['value'][0].as_py()} (received on {host})", flush=True)


if __name__ == "__main__":
    main()
