"""Sends 20 std_msgs/String messages "dora <i>" as struct rows (no ros2.type metadata), then
idles until stopped (its end would close the bridge's only input and so end the bridge)."""

import pyarrow as pa

from dora_ros import Node


def main() -> None:
    node = Node()
    sent = 0
    for event in node:
        if event["type"] == "INPUT" and sent < 20:
            node.send_output("text", pa.array([{"data": f"dora {sent}"}]), {"seq": sent})
            sent += 1


if __name__ == "__main__":
    main()
