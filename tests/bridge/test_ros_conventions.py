"""ROS 2 conventions a bridge node keeps, run for real: the ROS type in the dora metadata of what
the YAML bridge sends, and `--ros-args` (remaps, node name, namespace, use_sim_time) given to a
Python-API bridge started by a launch file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ros_peers import REPO, interrupt, name, peer, ros_env, run_graph

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


# A bridge written with the Python API (as for dora-rs), installed as a ROS 2 package executable.
BRIDGE = f"""#!{sys.executable}
import json, time
from dora_ros.bridge import Ros2Context, Ros2NodeOptions, Ros2QosPolicies

context = Ros2Context()
node = context.new_node("bridge", "/", Ros2NodeOptions())
pub = node.create_publisher(node.create_topic("chatter", "std_msgs/String", Ros2QosPolicies()))
report = {{"name": node.name, "namespace": node.namespace,
          "use_sim_time": node.get_parameter("use_sim_time")}}
print(json.dumps(report), flush=True)
while True:
    pub.publish({{"data": "remapped"}})
    time.sleep(0.2)
"""


def test_a_launch_file_remaps_renames_and_sets_use_sim_time(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    marker = prefix / "share" / "ament_index" / "resource_index" / "packages"
    marker.mkdir(parents=True)
    (marker / "bridge_demo").write_text("")
    executable = prefix / "lib" / "bridge_demo" / "bridge"
    executable.parent.mkdir(parents=True)
    executable.write_text(BRIDGE)
    executable.chmod(0o755)
    remapped = name("/remapped_chatter")
    launch = tmp_path / "bridge.launch.xml"
    launch.write_text(
        f"""<launch>
  <node pkg="bridge_demo" exec="bridge" name="renamed_bridge" namespace="/robot" output="screen">
    <remap from="chatter" to="{remapped}"/>
    <param name="use_sim_time" value="true"/>
  </node>
</launch>
"""
    )
    env = ros_env(DOMAIN)
    env["AMENT_PREFIX_PATH"] = f"{prefix}:{env.get('AMENT_PREFIX_PATH', sys.prefix)}"
    listen = [{"topic": remapped, "type": "std_msgs/msg/String"}]
    with peer("topic_peer.py", {"node": "remap_listener", "listen": listen}, DOMAIN) as ros:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "dora_ros.cli", "launch", str(launch)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=tmp_path,
        )
        try:
            got = ros.wait(lambda e: e.get("topic") == remapped, 40)
        finally:
            interrupt(launcher, 20)
        output = launcher.stdout.read() if launcher.stdout else ""
    assert got["value"] == {"data": "remapped"}
    line = next(x for x in output.splitlines() if '"use_sim_time"' in x)
    report = json.loads(line[line.index("{") :])
    assert report == {"name": "renamed_bridge", "namespace": "/robot", "use_sim_time": True}


def test_the_first_bridge_of_the_docs_runs(tmp_path: Path) -> None:
    # docs/bridge.md opens with this graph and node; run them as written against an rclpy peer.
    text = (REPO / "docs" / "bridge.md").read_text()
    graph = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    node = text.split("```python\n# shout.py\n", 1)[1].split("```", 1)[0]
    config = {
        "node": "docs_peer",
        "publish": [{"topic": "/chatter", "type": "std_msgs/msg/String", "value": {"data": "hi"}}],
        "listen": [{"topic": "/chatter_upper", "type": "std_msgs/msg/String"}],
    }
    with peer("topic_peer.py", config, DOMAIN) as ros:
        run_graph(
            tmp_path,
            graph,
            {"shout.py": node},
            DOMAIN,
            lambda _: ros.events(lambda e: e.get("topic") == "/chatter_upper"),
        )
        got = ros.events(lambda e: e.get("topic") == "/chatter_upper")
    # (the README's test may publish on /chatter of this domain at the same time)
    assert {"data": "HI"} in [e["value"] for e in got]


PRINTER = """
    from dora import Node

    for event in Node():
        if event["type"] == "INPUT":
            print(event["value"][0].as_py()["data"], flush=True)
"""


def test_the_first_bridge_of_the_readme_runs(tmp_path: Path) -> None:
    text = (REPO / "README.md").read_text()
    graph = next(b for b in text.split("```yaml\n")[1:] if "ros2:" in b).split("```", 1)[0]
    config = {
        "node": "readme_peer",
        "publish": [
            {"topic": "/chatter", "type": "std_msgs/msg/String", "value": {"data": "readme hi"}}
        ],
    }
    with peer("topic_peer.py", config, DOMAIN):
        logs = run_graph(
            tmp_path, graph, {"printer.py": PRINTER}, DOMAIN, lambda x: "readme hi" in x
        )
    assert "printer: readme hi" in logs
