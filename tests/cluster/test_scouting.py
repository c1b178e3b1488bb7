"""Zenoh multicast scouting on a LAN (network namespaces joined by a bridge, each with a multicast
route): a daemon given no coordinator address and no endpoint finds the coordinator, one given
only the coordinator's address derives its own; they run the two-machine graph and advertise
only their LAN addresses, never loopback (checked in the hellos that another machine receives).
Explicit endpoints: test_netns.py."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_env import DORA_ROS, Cluster, result, wait_for, write
from graphs import SCRIPTS, SPLIT_GRAPH
from netns import Network, available

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

MULTICAST = {"scouting/multicast/enabled": True}

# What another machine hears: every Zenoh hello on the LAN for 3 s, as JSON.
LISTEN = """
import json, threading, zenoh

config = zenoh.Config()
config.insert_json5("scouting/multicast/enabled", "true")
heard = {}
scout = zenoh.scout(lambda h: heard.setdefault(str(h.zid), (str(h.whatami), sorted(
    str(loc) for loc in h.locators))), what="peer|router", config=config)
threading.Event().wait(3)
scout.stop()
print(json.dumps(heard))
"""


@pytest.fixture
def lan(tmp_path: Path) -> Iterator[tuple[Cluster, Network]]:
    network = Network(("robot", "gpu"), multicast=True)
    cluster = Cluster(tmp_path, addr=network.addresses["coordinator"], netns=network.namespaces)
    try:
        (tmp_path / "multicast.json").write_text(json.dumps(MULTICAST))
        yield cluster, network
    finally:
        left = cluster.close()
        namespaces = network.close()
        assert not left, f"processes left behind: {left}\n{cluster.logs()}"
        assert not namespaces, f"namespaces left behind: {namespaces}"


def _count(folder: Path) -> int:
    return len(result(folder, "recorder")) if (folder / "recorder.pkl").exists() else 0


def test_daemons_find_the_coordinator_by_multicast(
    lan: tuple[Cluster, Network], tmp_path: Path
) -> None:
    cluster, network = lan
    # No coordinator yet: one clear line, soon.
    began = time.monotonic()
    alone = subprocess.run(
        ["ip", "netns", "exec", network.namespaces["robot"], *DORA_ROS, "daemon",
         "--machine-id", "robot", "--zenoh-config-overlay", "multicast.json"],
        capture_output=True, text=True, timeout=30, cwd=tmp_path,
        env={k: v for k, v in cluster.env().items() if not k.startswith("DORA_COORDINATOR")},
    )  # fmt: skip
    assert alone.returncode == 1, alone.stdout + alone.stderr
    assert alone.stderr.startswith("error: daemon: multicast scouting found no coordinator"), (
        alone.stderr
    )
    assert len(alone.stderr.strip().splitlines()) == 1 and time.monotonic() - began < 10

    cluster.start_coordinator("--zenoh-config-overlay", "multicast.json")
    # robot: neither -c nor DORA_COORDINATOR_ADDR nor --zenoh-listen, everything from scouting;
    # gpu: the coordinator's address but no --zenoh-listen (the listen address is derived).
    cluster.start_daemon("robot", "--zenoh-config-overlay", "multicast.json",
                         unset=("DORA_COORDINATOR_ADDR",))  # fmt: skip
    cluster.start_daemon("gpu", "-c", network.addresses["coordinator"],
                         "--zenoh-config-overlay", "multicast.json")  # fmt: skip
    cluster.wait_daemons("robot", "gpu")

    write(tmp_path, SPLIT_GRAPH, **SCRIPTS)
    cluster.cli("start", "graph.yml", "--name", "lan", "--detach", check=True)
    wait_for(lambda: _count(tmp_path) >= 12, 30, "12 messages across machines")

    (tmp_path / "listen.py").write_text(LISTEN)
    heard_run = subprocess.run(
        ["ip", "netns", "exec", network.namespaces["coordinator"], sys.executable, "listen.py"],
        capture_output=True, text=True, timeout=30, cwd=tmp_path,
    )  # fmt: skip
    assert heard_run.returncode == 0, heard_run.stderr
    heard: dict[str, list[object]] = json.loads(heard_run.stdout)
    peers = {zid: locators for zid, (kind, locators) in heard.items() if kind == "peer"}
    # The two daemons and the nodes with cross-machine edges (relay, sink) at least.
    assert len(peers) >= 4, heard
    machines = {network.addresses["robot"], network.addresses["gpu"]}
    for zid, locators in peers.items():
        assert locators, (zid, heard)
        for locator in locators:
            host = str(locator).split("/", 1)[1].rsplit(":", 1)[0]
            assert host in machines, (
                f"peer {zid} advertises {locator} (not its LAN address): {heard}"
            )

    stopped = cluster.cli("stop", "lan", check=True)
    assert "finished" in stopped.stdout
