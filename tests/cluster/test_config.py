"""Zenoh configuration as dora-rs 1.1 takes it, and the example systemd units."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from cluster_env import DORA_ROS

from dora_ros.cluster.zenoh_config import ClusterError, ZenohSettings, read_overlay

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "cluster"


def test_zenoh_config_file_is_the_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_file = tmp_path / "zenoh.json5"
    config_file.write_text('{ mode: "client", scouting: { multicast: { enabled: true } } }')
    monkeypatch.setenv("ZENOH_CONFIG", str(config_file))
    config = ZenohSettings(mode="peer", overlay={"scouting/multicast/enabled": True}).config()
    text = str(config)
    assert re.search(r'"mode":\s*"peer"', text)  # the role's mode wins over the file's
    assert re.search(r'"multicast":\s*\{[^}]*"enabled":\s*true', text)  # the overlay wins


def test_bad_zenoh_config_file_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.json5"
    bad.write_text("{ mode: ")
    monkeypatch.setenv("ZENOH_CONFIG", str(bad))
    with pytest.raises(ClusterError, match=rf"^ZENOH_CONFIG={re.escape(str(bad))}: not a Zenoh"):
        ZenohSettings().config()


def test_overlay_nested_and_flat_keys_agree(tmp_path: Path) -> None:
    nested = tmp_path / "nested.json"
    nested.write_text(json.dumps({"transport": {"link": {"tls": {"root_ca_certificate": "ca"}}}}))
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"transport/link/tls/root_ca_certificate": "ca"}))
    assert (
        read_overlay(nested)
        == read_overlay(flat)
        == {"transport/link/tls/root_ca_certificate": "ca"}
    )


def test_daemon_with_a_bad_zenoh_config_is_one_line(tmp_path: Path) -> None:
    import os

    bad = tmp_path / "bad.json5"
    bad.write_text("{ mode: ")
    env = dict(os.environ, ZENOH_CONFIG=str(bad))
    run = subprocess.run([*DORA_ROS, "daemon", "--machine-id", "m"], capture_output=True,
                         text=True, timeout=30, env=env, cwd=tmp_path)  # fmt: skip
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: ZENOH_CONFIG={bad}: not a Zenoh")


@pytest.mark.parametrize("unit", sorted(p.name for p in EXAMPLES.glob("*.service")))
def test_example_units_are_valid_commands(unit: str) -> None:
    text = (EXAMPLES / unit).read_text().replace("\\\n", " ")
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert argv[0].endswith("/.venv/bin/dora-ros")
    # Every option the unit gives is one the command takes (--help after them: nothing runs).
    run = subprocess.run([*DORA_ROS, *argv[1:], "--help"], capture_output=True, text=True,
                         timeout=30)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "Usage:" in run.stdout
