"""A second dora-ros bridge (Cyclone backend) in its own process, for test_user_msg_package.py.

Config (argv[1]): {"msg_path": "...", "type": "my_robot_msgs/msg/Status", "in": "/a", "out": "/b"}
Reads `in` with the Cyclone backend, prints each message decoded by msgconv, and publishes it again
on `out`, re-encoded by msgconv from the decoded Arrow value.
"""

from __future__ import annotations

import json
import os
import sys


def emit(**event: object) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main() -> None:
    cfg = json.loads(sys.argv[1])
    from dora_ros import msgconv
    from dora_ros.bridge.cyclone_backend import CycloneBackend
    from dora_ros.bridge.qos import Ros2QosPolicies

    with CycloneBackend(
        node_name="user_msg_echo",
        domain_id=int(os.environ["ROS_DOMAIN_ID"]),
        msg_paths=(cfg["msg_path"],),
    ) as backend:
        reader = backend.create_reader(cfg["in"], cfg["type"], Ros2QosPolicies())
        writer = backend.create_writer(cfg["out"], cfg["type"], Ros2QosPolicies())
        emit(event="ready")
        while True:
            data = reader.take(timeout=None)
            if data is None:
                continue
            value = msgconv.decode(cfg["type"], data)
            emit(event="recv", value=value.to_pylist()[0])
            writer.write(msgconv.encode(cfg["type"], value))


if __name__ == "__main__":
    main()
