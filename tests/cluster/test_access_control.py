"""Access control as docs/cluster.md sets it up, run verbatim: the two overlays are read from the
doc (certificate paths and addresses replaced), every machine in its own network namespace. The
coordinator's orders pass; a session on a third machine holding a valid certificate of the same CA
(CN ``laptop``) is connected (it sees the daemons' liveliness tokens) but none of its orders has an
effect, and a CLI there is refused in one line."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_env import Cluster, free_port, result, wait_for, write
from graphs import SCRIPTS, SPLIT_GRAPH
from netns import Network, available

pytestmark = [
    pytest.mark.skipif(available() is not None, reason=str(available())),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl to make certificates"),
]

DOC = Path(__file__).parents[2] / "docs" / "cluster.md"
MACHINES = ("robot", "gpu", "laptop")

# The rogue: a plain Zenoh peer with the laptop's certificate. It prints what it saw as JSON.
ROGUE = """
import json, sys, time, zenoh

overlay, target = json.loads(sys.argv[1]), sys.argv[2]
config = zenoh.Config()
for key, value in overlay.items():
    config.insert_json5(key, json.dumps(value))
seen = {}
with zenoh.open(config) as session:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and len(seen.get("daemons", [])) < 2:
        seen["daemons"] = sorted(str(r.ok.key_expr) for r in
                                 session.liveliness().get("dora-ros/daemon/*", timeout=2) if r.ok)
        time.sleep(0.2)
    time.sleep(1)  # every direct link made (peers learn each other through the coordinator)

    def answers(key, message):
        return len(list(session.get(key, payload=json.dumps(message), timeout=3)))

    seen["spawn"] = answers("dora-ros/daemon/robot/api/spawn", {})
    seen["ping"] = answers("dora-ros/daemon/gpu/api/ping", {})
    seen["stop"] = answers("dora-ros/coordinator/api/stop", {"target": target, "force": True})
    seen["list"] = answers("dora-ros/coordinator/api/list", {})
    seen["status"] = answers("dora-ros/coordinator/api/status", {})
    for _ in range(3):
        session.put(f"dora-ros/df/{target}/control", json.dumps({"op": "stop", "force": True}))
        session.put("dora-ros/cluster/destroy", b"{}")
        time.sleep(0.3)
print(json.dumps(seen))
"""


def doc_overlay(which: str) -> dict[str, object]:
    """The JSON block of docs/cluster.md under ``<!-- <which> overlay: ... -->``."""
    text = DOC.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {which} overlay: [^\n]*-->\n```json\n(.*?)\n```", text, re.S)
    assert found, f"docs/cluster.md has no {which} overlay block"
    data = json.loads(found.group(1))
    assert isinstance(data, dict)
    return data


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def certificates(folder: Path, addresses: dict[str, str]) -> None:
    """A CA and a certificate per role, CN the role, subjectAltName its address."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.pem", "-days", "2", "-subj", "/CN=dora-ros test CA", cwd=folder)  # fmt: skip
    for role, address in addresses.items():
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{role}.key", "-out",
                 f"{role}.csr", "-subj", f"/CN={role}", cwd=folder)  # fmt: skip
        (folder / f"{role}.cnf").write_text(f"subjectAltName=IP:{address}\n")
        _openssl("x509", "-req", "-in", f"{role}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{role}.pem", "-days", "2", "-extfile",
                 f"{role}.cnf", cwd=folder)  # fmt: skip


def as_machine(overlay: dict[str, object], machine: str, certs: Path, coordinator: str,
               tls_port: int) -> dict[str, object]:  # fmt: skip
    """The doc's daemon overlay for ``machine``: its paths, its certificate, this coordinator."""
    text = json.dumps(overlay).replace("/etc/dora-ros/", f"{certs}/")
    text = text.replace("/robot.", f"/{machine}.").replace(
        "10.0.0.1:7447", f"{coordinator}:{tls_port}"
    )
    data = json.loads(text)
    assert isinstance(data, dict)
    return data


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[tuple[Cluster, Network, dict[str, object]]]:
    network = Network(MACHINES)
    # CLI commands of the operator: on the coordinator's host, over loopback (the doc's setup).
    # The coordinator also listens on TCP on its LAN address here, so that a CLI on another
    # machine reaches it at all and meets the access control.
    cluster = Cluster(tmp_path, addr="127.0.0.1", netns=network.namespaces)
    try:
        certs = tmp_path / "certs"
        certs.mkdir()
        certificates(certs, network.addresses)
        coordinator_ip = network.addresses["coordinator"]
        tls_port = free_port()
        coordinator = json.dumps(doc_overlay("coordinator")).replace("/etc/dora-ros/", f"{certs}/")
        (tmp_path / "coordinator.json").write_text(coordinator)
        daemon = doc_overlay("daemon")
        for machine in MACHINES:
            overlay = as_machine(daemon, machine, certs, coordinator_ip, tls_port)
            (tmp_path / f"{machine}.json").write_text(json.dumps(overlay))

        cluster.start_coordinator("--zenoh-listen", f"tls/{coordinator_ip}:{tls_port}",
                                  "--zenoh-config-overlay", "coordinator.json")  # fmt: skip
        for machine in ("robot", "gpu"):
            cluster.start_daemon(machine, "-c", coordinator_ip, "--zenoh-listen",
                                 f"tls/{network.addresses[machine]}:0",
                                 "--zenoh-config-overlay", f"{machine}.json")  # fmt: skip
        cluster.wait_daemons("robot", "gpu")
        # The rogue's own session: the doc's daemon overlay made for the laptop (its own
        # certificate), without the access-control section, as a plain peer.
        rogue = as_machine(daemon, "laptop", certs, coordinator_ip, tls_port)
        del rogue["access_control"]
        rogue.update({"mode": "peer", "scouting/multicast/enabled": False,
                      "listen/endpoints": [f"tls/{network.addresses['laptop']}:0"]})  # fmt: skip
        yield cluster, network, rogue
    finally:
        left = cluster.close()
        namespaces = network.close()
        assert not left, f"processes left behind: {left}\n{cluster.logs()}"
        assert not namespaces, f"namespaces left behind: {namespaces}"


def _count(folder: Path) -> int:
    return len(result(folder, "recorder")) if (folder / "recorder.pkl").exists() else 0


def test_orders_only_from_the_coordinator(
    guarded: tuple[Cluster, Network, dict[str, object]], tmp_path: Path
) -> None:
    cluster, network, rogue = guarded
    write(tmp_path, SPLIT_GRAPH, **SCRIPTS)
    cluster.cli("start", "graph.yml", "--name", "two", "--detach", check=True)
    row = cluster.row("two")
    assert row is not None and row["status"] == "running", cluster.logs()
    wait_for(lambda: _count(tmp_path) >= 5, 30, "5 messages at the recorder")

    (tmp_path / "rogue.py").write_text(ROGUE)
    run = subprocess.run(
        ["ip", "netns", "exec", network.namespaces["laptop"], sys.executable, "rogue.py",
         json.dumps(rogue), row["uuid"]],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    # Connected: it sees both daemons, and may ask for the coordinator's status ...
    assert seen["daemons"] == ["dora-ros/daemon/gpu", "dora-ros/daemon/robot"], seen
    assert seen["status"] == 1, seen
    # ... but no order of it reached anyone: not even an error reply came back.
    assert (seen["spawn"], seen["ping"], seen["stop"], seen["list"]) == (0, 0, 0, 0), seen

    refused = cluster.cli("stop", "two", "--coordinator-addr", network.addresses["coordinator"],
                          role="laptop", timeout=30)  # fmt: skip
    assert refused.returncode == 1, refused.stdout + refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "nothing answers dora-ros/coordinator/api/stop" in lines[0], lines
    assert "refused by access control" in lines[0]

    # The forged `stop` publications and `destroy` had no effect either.
    time.sleep(1.5)
    row = cluster.row("two")
    assert row is not None and row["status"] == "running", row
    now = _count(tmp_path)
    wait_for(lambda: _count(tmp_path) >= now + 5, 20, "the dataflow to go on")
    status = cluster.cli("status", check=True).stdout
    assert "daemon robot: connected" in status and "daemon gpu: connected" in status, status

    stopped = cluster.cli("stop", "two", check=True)
    assert "finished" in stopped.stdout
