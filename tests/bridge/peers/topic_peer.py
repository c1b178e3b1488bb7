"""rclpy topic peer: echoes, publishes and listens, as told by a JSON config in argv[1].

{"echo": [{"in": "/a", "out": "/b", "type": "std_msgs/msg/String", "qos": {...}}],
 "publish": [{"topic": "/t", "type": "...", "value": {...}, "period": 0.05, "count": 0, "qos": {...}}],
 "listen": [{"topic": "/t", "type": "...", "qos": {...}}]}

Echo republishes the received bytes unchanged (raw) and prints the decoded message. Publish sends
`value` every `period` s (`count` 0 = forever; `image` instead of `value` makes a 1920x1080 rgb8
image whose bytes are `i % 251`). Listen prints each message.
"""

from __future__ import annotations

import time

from _peer import config, emit, from_plain, init, interface, qos, spin_in_thread, to_plain
from rclpy.serialization import deserialize_message


def image(cls):
    import numpy as np

    msg = cls()
    msg.height, msg.width, msg.encoding, msg.step = 1080, 1920, "rgb8", 1920 * 3
    msg.data = (np.arange(1920 * 1080 * 3, dtype=np.uint32) % 251).astype(np.uint8).tobytes()
    msg.header.frame_id = "camera"
    return msg


def main() -> None:
    cfg = config()
    node = init(cfg.get("node", "topic_peer"))
    keep = []
    for echo in cfg.get("echo", []):
        cls = interface(echo["type"])
        pub = node.create_publisher(cls, echo["out"], qos(echo.get("qos")))

        def on_echo(data, pub=pub, cls=cls, topic=echo["in"]):
            pub.publish(data)
            emit(event="recv", topic=topic, value=to_plain(deserialize_message(data, cls)))

        keep.append(
            node.create_subscription(cls, echo["in"], on_echo, qos(echo.get("qos")), raw=True)
        )
    for listen in cfg.get("listen", []):
        cls = interface(listen["type"])

        def on_msg(msg, topic=listen["topic"]):
            emit(event="recv", topic=topic, value=to_plain(msg))

        keep.append(node.create_subscription(cls, listen["topic"], on_msg, qos(listen.get("qos"))))
    publishers = []
    for spec in cfg.get("publish", []):
        cls = interface(spec["type"])
        msg = image(cls) if spec.get("image") else from_plain(cls, spec.get("value", {}))
        publishers.append(
            (node.create_publisher(cls, spec["topic"], qos(spec.get("qos"))), msg, spec)
        )
    spin_in_thread(node)
    emit(event="ready")
    # Each publisher keeps its own period (a 1080p image every 0.5 s, small messages faster).
    schedule = [[time.monotonic(), 0, pub, msg, spec] for pub, msg, spec in publishers]
    while True:
        now = time.monotonic()
        for entry in schedule:
            due, sent, pub, msg, spec = entry
            if now >= due and (spec.get("count", 0) == 0 or sent < spec["count"]):
                pub.publish(msg)
                entry[0], entry[1] = due + spec.get("period", 0.1), sent + 1
        waits = [e[0] for e in schedule if e[4].get("count", 0) == 0 or e[1] < e[4]["count"]]
        time.sleep(max(0.0, min(waits) - time.monotonic()) if waits else 1.0)


if __name__ == "__main__":
    main()
