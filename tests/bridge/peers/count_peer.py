"""rclpy peer: counts the messages of one topic, reliable, depth `depth` (JSON config in argv[1]).

{"topic": "/t", "type": "std_msgs/msg/String", "depth": 1000}: prints "ready", then
{"event": "count", "n": N, "last": <first 16 chars of the last message's data>} whenever the
count changed in the last 0.2 s (large messages stay off stdout), and {"event": "publishers",
"n": N} whenever the number of publishers this participant knows on the topic changed.
"""

from __future__ import annotations

import time

from _peer import config, emit, init, interface, qos, spin_in_thread


def main() -> None:
    cfg = config()
    node = init("count_peer")
    got: list[str] = []
    node.create_subscription(
        interface(cfg["type"]),
        cfg["topic"],
        lambda message: got.append(str(message.data)[:16]),
        qos({"depth": cfg.get("depth", 10)}),
    )
    spin_in_thread(node)
    emit(event="ready")
    seen = 0
    publishers = 0
    while True:
        time.sleep(0.2)
        known = node.count_publishers(cfg["topic"])
        if known != publishers:
            publishers = known
            emit(event="publishers", n=known)
        if len(got) != seen:
            seen = len(got)
            emit(event="count", n=seen, last=got[-1])


if __name__ == "__main__":
    main()
