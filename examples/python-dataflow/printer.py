"""Prints what arrives."""

from dora_ros import Node


def main() -> None:
    node = Node()
    for event in node:
        if event["type"] == "INPUT":
            frame = event["metadata"]["frame"]
            print(f"frame {frame}: mean brightness {event['value'][0].as_py():.1f}")


if __name__ == "__main__":
    main()
