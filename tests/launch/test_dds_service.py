"""The launcher's own DDS service layer (`dora_ros.launch.dds_service`): errors and clean-up.

The load/unload round trip through it is tested with a real container stand-in in
test_composable_nodes.py; here, what it does with a type it cannot build, the DDS entities it
leaves behind, and that it reaches the bridge through public names only.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dora_ros.errors import LaunchError, MsgConvError
from dora_ros.launch import dds_service

DATA = Path(__file__).parent / "data"


def test_unknown_service_type_is_a_launch_error_chained_to_its_cause() -> None:
    with pytest.raises(LaunchError) as caught:
        dds_service.service_types("no_such_interfaces/srv/Nothing")
    message = str(caught.value)
    assert "service type no_such_interfaces/srv/Nothing: no definition found" in message
    assert "install package 'no_such_interfaces'" in message
    assert isinstance(caught.value.__cause__, MsgConvError)  # `from err`, not `from None`


def test_closing_endpoints_deletes_their_dds_entities() -> None:
    """Nothing of the two endpoints stays registered with cyclonedds (the old code deleted the
    participant through the bridge's private helpers and left 8 wrappers registered)."""
    code = """
from cyclonedds.core import Entity
from dora_ros.launch import dds_service as d
server = d.DdsServiceServer("/c/_container/load_node", "composition_interfaces/srv/LoadNode",
                            domain_id=157)
client = d.DdsServiceClient("/c/_container/load_node", "composition_interfaces/srv/LoadNode",
                            domain_id=157)
assert client.wait_for_service(20.0), "no match"
print(len(Entity._entities) > 0)
server.close(); client.close(); client.close()
print(len(Entity._entities))
"""
    env = dict(os.environ, DORA_ROS_MSG_PATH=str(DATA), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "0"]


def test_uses_only_public_names_of_the_bridge() -> None:
    tree = ast.parse(Path(dds_service.__file__).read_text())
    private: list[str] = []
    bridge_modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and "bridge" in node.module:
            if node.module == "bridge":
                bridge_modules.update(a.asname or a.name for a in node.names)
            private += [a.name for a in node.names if a.name.startswith("_")]
            private += [p for p in node.module.split(".") if p.startswith("_")]
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in bridge_modules
            and node.attr.startswith("_")
        ):
            private.append(f"{node.value.id}.{node.attr}")
    assert private == []
