"""Composable nodes: containers, LoadNode calls with remaps, parameters and extra arguments,
failures named with component and container, unload on shutdown.

`composition_interfaces` has no wheel, so the container is a stand-in written here: a process
serving `<container>/_container/load_node` and `unload_node` with dora-ros's DDS service layer
(`dora_ros.launch.dds_service`), the service types built from the `.srv` files in `data/`. It
records every request in `$REPORT_DIR/container.jsonl`; plugin `demo::Fails` fails to load.
"""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

from ament_workspace import PYTHON, Workspace, lines_of, resolve_in_process, stop, wait_for

DATA = Path(__file__).parent / "data"

CONTAINER = f"""#!{PYTHON}
import json, os, signal, sys
from dora_ros.launch.dds_service import DdsServiceServer

args = sys.argv[sys.argv.index("--ros-args") + 1:] if "--ros-args" in sys.argv else []
remaps = dict(args[i + 1].split(":=", 1) for i, w in enumerate(args) if w == "-r")
fqn = remaps.get("__ns", "").rstrip("/") + "/" + remaps.get("__node", "container")
record = os.path.join(os.environ["REPORT_DIR"], "container.jsonl")
stopping = []
signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
loaded = {{}}


def value_of(p):
    v = p.value
    return {{1: v.bool_value, 2: v.integer_value, 3: v.double_value, 4: v.string_value,
             9: list(v.string_array_value), 7: list(v.integer_array_value)}}.get(v.type)


def write(entry):
    with open(record, "a") as f:
        f.write(json.dumps(entry) + "\\n")


def load(request):
    response = load_server.response_type(success=False, error_message="", full_node_name="",
                                          unique_id=0)
    write(dict(kind="load", package=request.package_name, plugin=request.plugin_name,
               name=request.node_name, namespace=request.node_namespace,
               remaps=list(request.remap_rules),
               params={{p.name: value_of(p) for p in request.parameters}},
               extra={{p.name: value_of(p) for p in request.extra_arguments}}))
    if request.plugin_name == "demo::Fails":
        response.error_message = "plugin not found"
        return response
    unique_id = len(loaded) + 1
    name = request.node_name or "default"
    response.full_node_name = request.node_namespace.rstrip("/") + "/" + name
    response.unique_id = unique_id
    response.success = True
    loaded[unique_id] = response.full_node_name
    return response


def unload(request):
    write(dict(kind="unload", unique_id=request.unique_id,
               name=loaded.pop(request.unique_id, None)))
    return unload_server.response_type(success=True, error_message="")


load_server = DdsServiceServer(fqn + "/_container/load_node", "composition_interfaces/srv/LoadNode")
unload_server = DdsServiceServer(fqn + "/_container/unload_node",
                                 "composition_interfaces/srv/UnloadNode")
print("container", fqn, "ready", flush=True)
while not stopping:
    load_server.serve_once(load, 0.01)
    unload_server.serve_once(unload, 0.01)
# answer unloads that arrive with the shutdown
for _ in range(20):
    unload_server.serve_once(unload, 0.01)
load_server.close()
unload_server.close()
"""

XML = """<launch>
  <set_remap from="global_in" to="global_out"/>
  <node_container pkg="demo_pkg" exec="container" name="box" namespace="ns" output="screen">
    <composable_node pkg="demo_comp" plugin="demo::Talker" name="talker" namespace="inner">
      <param name="rate" value="5"/>
      <param name="topics" value="a, b" value-sep=", "/>
      <remap from="chatter" to="talk"/>
      <extra_arg name="use_intra_process_comms" value="true"/>
    </composable_node>
    <composable_node pkg="demo_comp" plugin="demo::Fails" name="broken"/>
  </node_container>
  <load_composable_node target="/ns/box">
    <composable_node pkg="demo_comp" plugin="demo::Listener" name="listener"/>
  </load_composable_node>
</launch>
"""


def _records(ws: Workspace) -> list[dict]:  # type: ignore[type-arg]
    path = ws.reports / "container.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_components_load_fail_and_unload(ws: Workspace) -> None:
    ws.env["DORA_ROS_MSG_PATH"] = str(DATA)
    ws.add_executable("container", CONTAINER)
    ws.add_launch("comp.launch.xml", XML)
    launcher = ws.start("demo_pkg", "comp.launch.xml")
    loads = wait_for(
        lambda: [r for r in _records(ws) if r["kind"] == "load"][2:] and _records(ws), 60
    )
    by_plugin = {r["plugin"]: r for r in loads if r["kind"] == "load"}
    talker, broken, listener = (by_plugin[f"demo::{n}"] for n in ("Talker", "Fails", "Listener"))
    assert talker == {
        "kind": "load",
        "package": "demo_comp",
        "plugin": "demo::Talker",
        "name": "talker",
        "namespace": "/inner",
        "remaps": ["global_in:=global_out", "chatter:=talk"],
        "params": {"rate": 5, "topics": ["a", "b"]},
        "extra": {"use_intra_process_comms": True},
    }
    assert broken["plugin"] == "demo::Fails" and broken["namespace"] == "/"
    assert listener["name"] == "listener"
    # The container has the failed load's request; the launcher reports it once the answer is
    # back, which on a loaded machine may come after this point: a failure answered after the
    # launch began to stop is not an error (CI: SIGINT first, nothing on stderr). Wait for its
    # line in the launch log (the same line it prints).
    wait_for(
        lambda: any(
            "failed to load component" in line
            for log in ws.log_dir.glob("*/launch.log")
            for line in lines_of(log)
        ),
        60,
    )
    out, err = stop(launcher, signal.SIGINT, timeout=60)
    unloads = [r for r in _records(ws) if r["kind"] == "unload"]
    assert sorted(r["name"] for r in unloads) == ["/inner/talker", "/listener"], out + err
    assert re.search(
        r"failed to load component 'demo_comp::demo::Fails as /broken' in container '/ns/box' "
        r"\(.*comp.launch.xml:10\): plugin not found",
        err,
    ), err
    assert "loaded '/inner/talker' (demo_comp::demo::Talker) in container '/ns/box'" in out
    assert launcher.returncode == 1  # a component failed to load


PYTHON_LAUNCH = """
from launch import LaunchDescription
from launch_ros.actions import ComposableNodeContainer, LoadComposableNodes
from launch_ros.descriptions import ComposableNode

container = ComposableNodeContainer(
    name="box", namespace="", package="demo_pkg", executable="container",
    composable_node_descriptions=[
        ComposableNode(package="demo_comp", plugin="demo::Talker", name="talker",
                       parameters=[{"rate": 2.5}], remappings=[("a", "b")],
                       extra_arguments=[{"use_intra_process_comms": True}]),
    ])


def generate_launch_description():
    return LaunchDescription([
        container,
        LoadComposableNodes(target_container=container, composable_node_descriptions=[
            ComposableNode(package="demo_comp", plugin="demo::Listener")]),
    ])
"""


def test_python_containers_resolve(ws: Workspace) -> None:
    ws.add_executable("container", CONTAINER)
    steps, _ = resolve_in_process(ws, ws.add_launch("comp.launch.py", PYTHON_LAUNCH))
    from dora_ros.launch.composition import LoadComponents

    loads = [s for s in steps if isinstance(s, LoadComponents)]
    assert [s.container for s in loads] == ["/box", "/box"]
    talker = loads[0].components[0]
    assert (talker.plugin, talker.node_name, talker.namespace) == ("demo::Talker", "talker", "/")
    assert talker.parameters == (("rate", 2.5),)
    assert talker.remap_rules == ("a:=b",)
    assert talker.extra_arguments == (("use_intra_process_comms", True),)
    assert loads[1].components[0].node_name == ""
    printed = ws.launch("demo_pkg", "comp.launch.py", "--print")
    assert "load component demo_comp::demo::Talker as /talker into /box" in printed.stdout


def test_missing_container_names_the_package(ws: Workspace) -> None:
    ws.add_launch(
        "nocont.launch.xml",
        '<launch>\n<node_container pkg="no_such_components" exec="component_container" '
        'name="c" namespace=""/>\n</launch>',
    )
    result = ws.launch("demo_pkg", "nocont.launch.xml", "--print")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "nocont.launch.xml:2: package 'no_such_components' not found" in result.stderr
    ws.add_launch(
        "noexec.launch.xml",
        '<launch>\n\n<node_container pkg="demo_pkg" exec="component_container" '
        'name="c" namespace=""/>\n</launch>',
    )
    result = ws.launch("demo_pkg", "noexec.launch.xml", "--print")
    assert (
        "noexec.launch.xml:3: executable 'component_container' not found in package 'demo_pkg'"
        in result.stderr
    )


def test_component_errors_name_the_launch_file_line(ws: Workspace) -> None:
    """A missing `<param from>` of a component, and a value that is no ROS parameter, are one
    line naming file:line when the launch is resolved (also under --print), not at load time."""
    ws.add_executable("container", CONTAINER)
    ws.add_launch(
        "badfile.launch.xml",
        '<launch>\n<node_container pkg="demo_pkg" exec="container" name="c" namespace="">\n'
        '  <composable_node pkg="demo_comp" plugin="demo::Talker">\n'
        '    <param from="/nonexistent.yaml"/>\n'
        "  </composable_node>\n</node_container>\n</launch>",
    )
    result = ws.launch("demo_pkg", "badfile.launch.xml", "--print")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "badfile.launch.xml:3: parameter file '/nonexistent.yaml'" in result.stderr
    ws.add_launch(
        "badvalue.launch.py",
        "from launch import LaunchDescription\n"
        "from launch_ros.actions import ComposableNodeContainer\n"
        "from launch_ros.descriptions import ComposableNode\n"
        "def generate_launch_description():\n"
        "    return LaunchDescription([ComposableNodeContainer(\n"
        '        name="box", namespace="", package="demo_pkg", executable="container",\n'
        "        composable_node_descriptions=[\n"
        '            ComposableNode(package="demo_comp", plugin="demo::Talker",\n'
        "                           parameters=[{'x': object()}])])])\n",
    )
    result = ws.launch("demo_pkg", "badvalue.launch.py", "--print")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "badvalue.launch.py:8: parameter 'x': " in result.stderr
    assert "is not a ROS 2 parameter value" in result.stderr
