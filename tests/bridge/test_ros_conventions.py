"""ROS 2 conventions a bridge node keeps, run for real: the ROS type in the dora metadata of what
the YAML bridge sends, and `--ros-args` (remaps, node name, namespace, use_sim_time) given to a
Python-API bridge started by a launch file."""

from __future__ import annotations

from pathlib import Path

from ros_peers import name, peer, run_graph

DOMAIN = 88

RECEIVER = """
    from dora import Node

    node = Node()
    for event in node:
        if event["type"] == "INPUT":
            value = event["value"][0].as_py()
            print("got", event["id"], value["data"], event["metadata"].get("ros2.type"), flush=True)
"""


def test_bridge_outputs_name_their_ros_type(tmp_path: Path) -> None:
    topic = name("/typed_chatter")
    graph = f"""
        nodes:
          - id: bridge
            ros2:
              topic: {topic}
              message_type: std_msgs/String
          - id: receiver
            path: receiver.py
            inputs:
              chatter: bridge/{topic.strip("/").replace("/", "_")}
    """
    publish = [{"topic": topic, "type": "std_msgs/msg/String", "value": {"data": "hi"}}]
    with peer("topic_peer.py", {"node": "typed_talker", "publish": publish}, DOMAIN):
        logs = run_graph(
            tmp_path, graph, {"receiver.py": RECEIVER}, DOMAIN, lambda logs: "got chatter" in logs
        )
    assert "got chatter hi std_msgs/msg/String" in logs, logs
