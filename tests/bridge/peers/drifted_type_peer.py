"""A peer whose message type has our name but another definition (a drifted RIHS01 type hash).

Config (argv[1]): {"msg_path": "...", "topic": "/t", "type": "std_msgs/msg/String", "data": "..."}
A dora-ros Cyclone DDS backend in its own process, whose message path holds a type description
(`<pkg>/msg/<T>.json`) with another hash for the type, as a package rebuilt from an edited .msg
would have. It announces that hash in its endpoint's USER_DATA, as rmw does, and publishes a
string every 0.1 s (bytes that an unsuspecting subscriber would take for its own definition's).
"""

from __future__ import annotations

import json
import os
import struct
import sys
import time


def emit(**event: object) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main() -> None:
    cfg = json.loads(sys.argv[1])
    from dora_ros.bridge.cyclone_backend import CycloneBackend
    from dora_ros.bridge.qos import Ros2QosPolicies

    text = cfg["data"].encode() + b"\0"
    sample = b"\x00\x01\x00\x00" + struct.pack("<I", len(text)) + text  # CDR of a string
    with CycloneBackend(
        node_name="drifted_peer",
        domain_id=int(os.environ["ROS_DOMAIN_ID"]),
        msg_paths=(cfg["msg_path"],),
    ) as backend:
        writer = backend.create_writer(cfg["topic"], cfg["type"], Ros2QosPolicies())
        emit(event="ready")
        while True:
            writer.write(sample)
            time.sleep(0.1)


if __name__ == "__main__":
    main()
