"""rclpy peer that watches the ROS graph and prints it whenever it changes (JSON lines).

Config (argv[1]): {"node": "bridge", "namespace": "/ns", "topics": ["/ns/chatter"]}
Prints {"event": "ready"}, then {"event": "graph", "nodes": [[name, ns], ...], "topics": {...},
"publishers": [...], "subscribers": [...], "endpoints": {topic: [{...}, ...]}} on each change,
where publishers/subscribers are the watched node's (`get_*_names_and_types_by_node`) and
endpoints are `get_{publishers,subscriptions}_info_by_topic` of the watched topics.
Runs with the main venv (Kilted) or .venv-jazzy (Jazzy).
"""

from __future__ import annotations

import json
import sys
import time

import rclpy


def emit(**event: object) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def endpoint(info: object, kind: str) -> dict[str, object]:
    return {
        "kind": kind,
        "node": getattr(info, "node_name", None),
        "namespace": getattr(info, "node_namespace", None),
        "type": getattr(info, "topic_type", None),
        "type_hash": str(getattr(info, "topic_type_hash", "")),
        "gid": bytes(getattr(info, "endpoint_gid", b"")).hex(),
    }


def snapshot(node: object, cfg: dict) -> dict[str, object]:
    watched, ns = cfg.get("node", ""), cfg.get("namespace", "/")
    nodes = sorted([list(x) for x in node.get_node_names_and_namespaces()])
    pubs: list = []
    subs: list = []
    if [watched, ns] in nodes:
        try:
            pubs = sorted(
                [t, sorted(ts)] for t, ts in node.get_publisher_names_and_types_by_node(watched, ns)
            )
            subs = sorted(
                [t, sorted(ts)]
                for t, ts in node.get_subscriber_names_and_types_by_node(watched, ns)
            )
        except Exception as err:  # the node went away between the two calls
            pubs = subs = [f"error: {err}"]
    endpoints = {}
    for topic in cfg.get("topics", []):
        infos = [endpoint(i, "publisher") for i in node.get_publishers_info_by_topic(topic)]
        infos += [endpoint(i, "subscription") for i in node.get_subscriptions_info_by_topic(topic)]
        endpoints[topic] = sorted(infos, key=lambda e: json.dumps(e, sort_keys=True))
    topics = {t: sorted(ts) for t, ts in node.get_topic_names_and_types()}
    return {
        "nodes": nodes,
        "topics": topics,
        "publishers": pubs,
        "subscribers": subs,
        "endpoints": endpoints,
    }


def main() -> None:
    cfg = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    rclpy.init()
    node = rclpy.create_node(cfg.get("observer", "graph_observer"))
    emit(event="ready")
    last = None
    while True:
        rclpy.spin_once(node, timeout_sec=0.1)
        state = snapshot(node, cfg)
        if state != last:
            emit(event="graph", **state)
            last = state
        time.sleep(0.1)


if __name__ == "__main__":
    main()
