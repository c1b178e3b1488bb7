"""The two-machine graph with every Zenoh link on TLS (certificates made with openssl), as
docs/cluster.md sets it up: the coordinator keeps a loopback TCP endpoint for local CLI commands;
daemons and nodes connect and listen on TLS only."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from cluster_env import Cluster, free_port, result, write
from graphs import FINITE_GRAPH, RECEIVER, SENDER


def _openssl(*args: str, cwd: Path) -> None:
    # Never a skip: `make test` installs openssl (apt) where it is missing.
    assert shutil.which("openssl"), "openssl is missing: `apt-get install openssl` (make test does)"
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(folder: Path) -> dict[str, str]:
    """A CA, and a certificate for 127.0.0.1 signed by it (what docs/cluster.md shows)."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.pem", "-days", "2", "-subj", "/CN=dora-ros test CA", cwd=folder)  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "node.key", "-out", "node.csr",
             "-subj", "/CN=localhost", cwd=folder)  # fmt: skip
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "node.pem", "-days", "2", "-extfile", "san.cnf",
             cwd=folder)  # fmt: skip
    return {
        "transport/link/tls/root_ca_certificate": str(folder / "ca.pem"),
        "transport/link/tls/listen_private_key": str(folder / "node.key"),
        "transport/link/tls/listen_certificate": str(folder / "node.pem"),
    }


def test_two_machines_over_tls(cluster: Cluster, tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    tls = make_certificates(certs)
    tls_port = free_port()
    (tmp_path / "coordinator.json").write_text(json.dumps(tls))
    daemon_overlay = dict(tls, **{"connect/endpoints": [f"tls/127.0.0.1:{tls_port}"]})
    (tmp_path / "daemon.json").write_text(json.dumps(daemon_overlay))

    cluster.start_coordinator("--zenoh-listen", f"tls/127.0.0.1:{tls_port}",
                              "--zenoh-config-overlay", "coordinator.json")  # fmt: skip
    for machine in ("robot", "gpu"):
        cluster.start_daemon(machine, "--zenoh-config-overlay", "daemon.json",
                             "--zenoh-listen", "tls/127.0.0.1:0")  # fmt: skip
    cluster.wait_daemons("robot", "gpu")

    write(tmp_path, FINITE_GRAPH, sender=SENDER, receiver=RECEIVER)
    run = cluster.cli("start", "graph.yml", "--attach")
    assert run.returncode == 0, run.stdout + run.stderr + cluster.logs()
    assert result(tmp_path, "receiver")[:6] == [
        *(("INPUT", n) for n in range(1, 6)),
        ("INPUT_CLOSED", "data"),
    ]


def test_bad_overlay_is_one_line(tmp_path: Path) -> None:
    from cluster_env import DORA_ROS

    (tmp_path / "bad.json").write_text("{not json")
    run = subprocess.run([*DORA_ROS, "daemon", "--zenoh-config-overlay", "bad.json"],
                         capture_output=True, text=True, timeout=30, cwd=tmp_path)  # fmt: skip
    assert run.returncode == 1
    assert run.stderr.startswith("error: --zenoh-config-overlay bad.json: not JSON: ")
    assert len(run.stderr.strip().splitlines()) == 1
