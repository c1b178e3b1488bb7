"""dora-rs 1.1 compatibility: `dora_ros.Node` and the `dora` compatibility module against the real thing.

Signatures and module exports are compared live with the installed dora-rs 1.1 wheel. Behaviour is
compared with `dora_rs_reference.py`, recorded from a real `dora run` of `dora_rs_probe/graph.yml`:
the same probe graph runs here under `dora-ros run` and must record the same events.
"""

from __future__ import annotations

import copy
import importlib.util
import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
PROBE = HERE / "dora_rs_probe"
REPO = HERE.parent.parent
COMPAT = REPO / "dora_ros" / "compat"
BIN = Path(sys.executable).parent

real_dora = pytest.importorskip("dora", reason="dora-rs 1.1 (the reference) is not installed")
if not hasattr(real_dora, "Ros2Context") or real_dora.__file__.startswith(str(COMPAT)):
    pytest.skip("`import dora` is not the real dora-rs here", allow_module_level=True)


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REFERENCE: dict[str, Any] = _load(HERE / "dora_rs_reference.py", "dora_rs_reference").RECORDINGS
normalise = _load(PROBE / "make_reference.py", "dora_rs_make_reference").normalise


def _bare(sig: inspect.Signature) -> inspect.Signature:
    """The signature without annotations: names, kinds and defaults are what callers see."""
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    return sig.replace(parameters=params, return_annotation=inspect.Signature.empty)


# dora-rs 1.1's Node methods (dunders apart from the iterator protocol are not API).
REAL_METHODS = sorted(
    name
    for name in dir(real_dora.Node)
    if not name.startswith("_") or name in ("__iter__", "__next__")
)


def _our_node() -> Any:
    from dora_ros import Node

    return Node


def test_node_class_signature_matches_dora_rs() -> None:
    assert _bare(inspect.signature(_our_node())) == inspect.signature(real_dora.Node)


@pytest.mark.parametrize("method", REAL_METHODS)
def test_node_method_signature_matches_dora_rs(method: str) -> None:
    node_cls = _our_node()
    assert hasattr(node_cls, method), f"dora_ros.Node has no {method}() (dora-rs 1.1 has it)"
    ours = _bare(inspect.signature(getattr(node_cls, method)))
    theirs = inspect.signature(getattr(real_dora.Node, method))
    assert ours == theirs, f"Node.{method}: dora-ros {ours} != dora-rs {theirs}"


def test_recv_async_is_a_coroutine_function() -> None:
    assert inspect.iscoroutinefunction(_our_node().recv_async)


def _compat_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Runs `code` with the compat folder first on PYTHONPATH, as the runtime spawns nodes."""
    full_env = {**os.environ, "PYTHONPATH": str(COMPAT), **env}
    for var in [k for k in full_env if k.startswith(("DORA_", "DORA_ROS_"))]:
        full_env.pop(var)
    return subprocess.run(
        [sys.executable, "-c", code], env=full_env, capture_output=True, text=True, timeout=60
    )


EXPORTS_SCRIPT = """
import inspect, json, dora
out = {"file": dora.__file__, "names": {}}
for name in dir(dora):
    if name.startswith("_") and name not in ("__version__", "__author__"):
        continue
    try:
        value = getattr(dora, name)
    except Exception as err:
        out["names"][name] = {"error": type(err).__name__ + ": " + str(err)}
        continue
    entry = {"kind": type(value).__name__}
    if callable(value):
        try:
            sig = inspect.signature(value)
            entry["params"] = [
                [p.name, p.kind.name, repr(p.default)] for p in sig.parameters.values()
            ]
        except (TypeError, ValueError):
            entry["params"] = None
    out["names"][name] = entry
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def compat_exports() -> dict[str, Any]:
    result = _compat_python(EXPORTS_SCRIPT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_compat_module_shadows_installed_dora_rs(compat_exports: dict[str, Any]) -> None:
    assert Path(compat_exports["file"]).resolve() == COMPAT / "dora" / "__init__.py"


def test_compat_module_exports_every_dora_rs_name(compat_exports: dict[str, Any]) -> None:
    real_public = {n for n in dir(real_dora) if not n.startswith("_")} | {
        "__version__",
        "__author__",
    }
    missing = sorted(real_public - set(compat_exports["names"]))
    assert not missing, f"the dora compatibility module lacks {missing}"


@pytest.mark.parametrize("name", ["run", "build", "start_runtime"])
def test_compat_module_function_signatures(name: str, compat_exports: dict[str, Any]) -> None:
    theirs = [
        [p.name, p.kind.name, repr(p.default)]
        for p in inspect.signature(getattr(real_dora, name)).parameters.values()
    ]
    assert compat_exports["names"][name]["params"] == theirs


BRIDGE_CLASSES = ["Ros2Context", "Ros2NodeOptions", "Ros2QosPolicies"]


@pytest.mark.parametrize("name", BRIDGE_CLASSES)
def test_compat_bridge_constructors_accept_dora_rs_arguments(
    name: str, compat_exports: dict[str, Any]
) -> None:
    """dora-rs's parameters come first, in order, with the same defaults; extras need defaults."""
    entry = compat_exports["names"][name]
    assert "error" not in entry, entry
    theirs = [
        [p.name, p.kind.name, repr(p.default)]
        for p in inspect.signature(getattr(real_dora, name)).parameters.values()
    ]
    ours = [p for p in entry["params"] if p[0] != "self"]
    assert ours[: len(theirs)] == theirs
    assert all(default != repr(inspect.Parameter.empty) for _, _, default in ours[len(theirs) :])


def test_doras_status_values(compat_exports: dict[str, Any]) -> None:
    result = _compat_python("import dora; print([(s.name, s.value) for s in dora.DoraStatus])")
    assert result.stdout.strip() == str([(s.name, s.value) for s in real_dora.DoraStatus])


def test_start_runtime_says_operators_are_unsupported() -> None:
    result = _compat_python("import dora; dora.start_runtime()")
    assert result.returncode != 0
    assert "CompatError: dora.start_runtime" in result.stderr
    assert "not supported by dora-ros" in result.stderr


def test_unavailable_name_imports_but_names_what_is_missing() -> None:
    code = (
        "import dora\n"
        "from dora import *\n"
        "try:\n"
        "    dora._bridge_name('Ros2Missing')()\n"
        "except dora.CompatError as err:\n"
        "    print('ERR', err)\n"
        "else:\n"
        "    print('OK')\n"
    )
    result = _compat_python(code)
    assert result.returncode == 0, result.stderr
    # A name the bridge does not have (Ros2Transport was one until the bridge grew it).
    assert result.stdout.startswith("ERR dora.Ros2Missing is not available in dora-ros"), result


def test_builder_writes_a_graph_dora_ros_validates(tmp_path: Path) -> None:
    code = f"""
from dora.builder import DataflowBuilder
with DataflowBuilder("demo") as flow:
    src = flow.add_node("src").path("src.py")
    out = src.add_output("data")
    flow.add_node("sink").path("sink.py").add_input("data", out, queue_size=3)
    flow.add_node("tick").path("sink.py").add_input("t", "dora/timer/millis/10")
    flow.to_yaml({str(tmp_path / "graph.yml")!r})
"""
    for script in ("src.py", "sink.py"):
        (tmp_path / script).write_text("")
    result = _compat_python(code)
    assert result.returncode == 0, result.stderr
    from dora_ros.runtime.descriptor import load_dataflow

    flow = load_dataflow(tmp_path / "graph.yml")
    sink = flow.node("sink")
    assert [(i.id, i.source, i.queue_size) for i in sink.inputs] == [("data", "src/data", 3)]
    assert flow.node("src").outputs == ("data",)


# --- behaviour: the probe graph under dora-ros against the dora-rs recording -----------------


def _dora_ros() -> list[str]:
    script = BIN / "dora-ros"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dora_ros.cli"]


@pytest.fixture(scope="module")
def probe_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Runs the probe graph under `dora-ros run` once; returns the recordings, normalised."""
    out = tmp_path_factory.mktemp("probe_out")
    env = {**os.environ, "PROBE_OUT": str(out), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [*_dora_ros(), "run", str(PROBE / "graph.yml"), "--stop-after", "12s"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=out,
    )
    recordings = {p.stem: normalise(json.loads(p.read_text())) for p in out.glob("*.json")}
    return {"result": result, "recordings": recordings}


def _recording(probe_run: dict[str, Any], node: str) -> dict[str, Any]:
    recordings = probe_run["recordings"]
    result = probe_run["result"]
    assert node in recordings, (
        f"probe node {node!r} recorded nothing under dora-ros (exit {result.returncode}):\n"
        f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    )
    return copy.deepcopy(recordings[node])


def test_probe_graph_exits_cleanly(probe_run: dict[str, Any]) -> None:
    result = probe_run["result"]
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


# Where dora-ros deliberately differs from the recording (see docs of the node API):
# - datetimes in metadata round-trip exactly (dora-rs loses the last microsecond);
# - a mixed int/float list in metadata is sent as is (dora-rs raises TypeError at send_output).
EXACT_DATETIME = "2024-01-02T03:04:05.678901+00:00"


def _expected_events(node: str) -> list[Any]:
    events = copy.deepcopy(REFERENCE[node]["events"])
    for event in events:
        sent = event.get("metadata", {}).get("items", {}).get("dt")
        if sent:
            sent["value"] = EXACT_DATETIME
    return events


def _without_mixed_list(events: list[Any]) -> list[Any]:
    return [e for e in events if "mixed" not in e.get("metadata", {}).get("items", {})]


@pytest.mark.parametrize("node", ["closer", "waiter"])
def test_events_match_dora_rs(probe_run: dict[str, Any], node: str) -> None:
    """INPUT (all value types, metadata), INPUT_CLOSED, STOP ALL_INPUTS_CLOSED, then None."""
    ours = _recording(probe_run, node)
    assert _without_mixed_list(ours["events"]) == _expected_events(node)
    for event in ours["events"]:
        mixed = event.get("metadata", {}).get("items", {}).get("mixed")
        if mixed:  # sent as is: exactly [1, 2.5]
            assert mixed["items"] == [
                {"py_type": "int", "repr": "1"},
                {"py_type": "float", "repr": "2.5"},
            ]


def test_next_timeout_gives_an_error_event_like_dora_rs(probe_run: dict[str, Any]) -> None:
    ours, theirs = _recording(probe_run, "waiter"), REFERENCE["waiter"]
    assert (
        ours["next_timeout"]["keys"] == theirs["next_timeout"]["keys"] == ["error", "kind", "type"]
    )
    assert ours["next_timeout"]["type"] == "ERROR"
    assert ours["next_timeout"]["kind"] == "dora"
    assert "timed out" in ours["next_timeout"]["error"].lower()
    assert ours["drain_first"] == theirs["drain_first"] == []


@pytest.mark.parametrize("node", ["closer", "ticker", "waiter", "slow"])
def test_introspection_matches_dora_rs(probe_run: dict[str, Any], node: str) -> None:
    ours, theirs = _recording(probe_run, node), REFERENCE[node]
    assert ours["node_config"] == theirs["node_config"]
    assert ours["dataflow_id"]["py_type"] == "str"
    assert "nodes" in ours["descriptor_keys"]
    assert ours["is_empty_at_end"] is True or node == "slow"


def test_timer_ticks_and_manual_stop_match_dora_rs(probe_run: dict[str, Any]) -> None:
    """The first tick comes at once; ticks are empty NullArrays; --stop-after gives STOP MANUAL."""
    ours, theirs = _recording(probe_run, "ticker"), REFERENCE["ticker"]
    assert ours["next_timeout"] == theirs["next_timeout"]
    tick = next(e for e in theirs["events"] if e.get("id") == "tick")
    our_ticks = [e for e in ours["events"] if e.get("id") == "tick"]
    assert our_ticks and all(e == tick for e in our_ticks)
    data = [e for e in _without_mixed_list(ours["events"]) if e.get("id") == "data"]
    assert data == [e for e in _expected_events("ticker") if e.get("id") == "data"]
    assert ours["events"][-2:] == theirs["events"][-2:]  # STOP MANUAL, then None


def test_send_output_edge_cases(probe_run: dict[str, Any]) -> None:
    ours, theirs = _recording(probe_run, "sender"), REFERENCE["sender"]
    assert ours["tick"] == theirs["tick"]
    assert ours["node_config"] == theirs["node_config"]
    assert ours["send_output_raw"] == "ok"
    assert ours["service_request_id"] == theirs["service_request_id"]
    # dora-rs raises TypeError; dora-ros sends the list as is (checked by the closer's events).
    assert ours["metadata_mixed_list"] in ("no error", theirs["metadata_mixed_list"])
    assert "raises" in ours["send_list"], "sending a plain list must be refused"
    # As dora-rs: a warning in the log, not an error (node-hub nodes send on optional outputs).
    assert ours["undeclared"] == theirs["undeclared"] == "no error"


def test_queue_overflow_keeps_newest(probe_run: dict[str, Any]) -> None:
    """30 messages into queue_size 2 of a busy node: oldest dropped, the 2 newest kept, then closing.

    (dora-rs keeps [2], [3] and delivers them after STOP: a quirk we do not copy, see the issue.)
    """
    ours = _recording(probe_run, "slow")
    values = [e["value"]["data"] for e in ours["events"] if e.get("type") == "INPUT"]
    values += (
        [ours["try_recv_at_end"]["value"]["data"]] if "value" in ours["try_recv_at_end"] else []
    )
    # The node may take one or two messages before it starts sleeping.
    assert values[-2:] == ["[28]", "[29]"] and len(values) <= 4, values
    types = [e.get("type") for e in ours["events"] if "type" in e]
    assert types[-2:] == ["INPUT_CLOSED", "STOP"]


@pytest.mark.skipif(shutil.which("dora", path=str(BIN)) is None, reason="dora-rs-cli not installed")
def test_reference_is_current(tmp_path: Path) -> None:
    """The recorded reference still matches what the installed dora-rs does (takes ~6 s)."""
    env = {
        **os.environ,
        "PROBE_OUT": str(tmp_path),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PROBE_NOW_S": "60",  # dora-rs's own lateness under load (probe_record.describe)
    }
    subprocess.run(
        [str(BIN / "dora"), "run", str(PROBE / "graph.yml"), "--stop-after", "12s"],
        env=env,
        capture_output=True,
        timeout=90,
        cwd=tmp_path,
        check=True,
    )
    fresh = {p.stem: normalise(json.loads(p.read_text())) for p in tmp_path.glob("*.json")}
    for node in ("closer", "waiter"):
        # dora-rs itself loses a node's first messages when the machine is loaded (the receiver
        # was not ready yet), so every fresh event must be a recorded one, the ending identical.
        # dora-rs answers the probe's next(timeout=2.0) with an ERROR event ("Timeout event
        # stream error: Receiver timed out") when nothing came for 2 s, which the probe records
        # and reads on past: on a loaded machine the first message took that long (CI, once).
        events = [event for event in fresh[node]["events"] if not _timed_out(event)]
        unexpected = [event for event in events if event not in REFERENCE[node]["events"]]
        # seen once with 8 workers on 2 cores
        assert not unexpected, f"{node}: {json.dumps(unexpected)}"
        assert events[-3:] == REFERENCE[node]["events"][-3:], node
    assert fresh["sender"] == REFERENCE["sender"]


def _timed_out(event: dict[str, Any]) -> bool:
    return event.get("type") == "ERROR" and "Receiver timed out" in str(event.get("error"))


SUBMODULE_CLASSES = [
    ("builder", "DataflowBuilder"),
    ("builder", "Node"),
    ("builder", "Operator"),
    ("builder", "Output"),
    ("testing", "MockNode"),
]

API_SCRIPT = """
import importlib, inspect, json, sys
out = {}
for module_name, class_name in json.loads(sys.argv[1]):
    cls = getattr(importlib.import_module("dora." + module_name), class_name)
    methods = {}
    for name, member in inspect.getmembers(cls, callable):
        if name.startswith("_") and name not in ("__init__", "__iter__", "__next__", "__str__"):
            continue
        sig = inspect.signature(member)
        methods[name] = [[p.name, p.kind.name, repr(p.default)] for p in sig.parameters.values()]
    out[module_name + "." + class_name] = methods
print(json.dumps(out))
"""


def _api(python_path: str | None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if python_path:
        env["PYTHONPATH"] = python_path
    result = subprocess.run(
        [sys.executable, "-c", API_SCRIPT, json.dumps(SUBMODULE_CLASSES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_builder_and_testing_submodules_match_dora_rs() -> None:
    """`dora.builder` and `dora.testing` have dora-rs's classes, methods and parameters."""
    assert _api(str(COMPAT)) == _api(None)


def test_mock_node_replays_and_records() -> None:
    code = """
import pyarrow as pa
from dora.testing import MockNode
node = MockNode([("tick", pa.array([0]))], {"k": 1}, service_responses={"ask": [pa.array([5])]})
seen = []
for event in node:
    seen.append((event["type"], event.get("id"), event.get("metadata")))
    if event["type"] == "INPUT" and event["id"] == "tick":
        node.send_output("out", pa.array([42]))
        rid = node.send_service_request("ask", pa.array([1]))
print(seen[0], seen[1][:2], seen[1][2] == {"request_id": rid}, seen[2][:2])
print(node.outputs["out"][0].to_pylist(), node.next(), node.is_empty())
"""
    result = _compat_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "('INPUT', 'tick', {'k': 1}) ('INPUT', 'ask') True ('STOP', 'ALL_INPUTS_CLOSED')",
        "[42] None True",
    ]
