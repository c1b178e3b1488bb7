"""docs/cluster.md's one-host quick start, run line by line as the page shows it (loopback; the
netns walkthrough uses the same graph, examples/cluster/graph.yml)."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from cluster_env import free_port, wait_for, wait_no_leftovers

ROOT = Path(__file__).resolve().parents[2]


def _quickstart_lines() -> list[str]:
    text = (ROOT / "docs" / "cluster.md").read_text(encoding="utf-8")
    start = text.index("On one host")
    block = text[text.index("```sh\n", start) + len("```sh\n") :]
    block = block[: block.index("```")]
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def test_quickstart_commands_run(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples" / "cluster", tmp_path / "examples" / "cluster")
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["XDG_STATE_HOME"] = str(tmp_path / "state")  # `up`'s logs, not the user's
    env["DORA_COORDINATOR_PORT"] = str(free_port())  # never the default 6013 of a real setup
    env["DORA_ROS_STOP_GRACE"] = "2"
    env.pop("DORA_COORDINATOR_ADDR", None)
    env.pop("ZENOH_CONFIG", None)
    lines = _quickstart_lines()
    assert lines[0].startswith("dora-ros up") and lines[-1] == "dora-ros down", lines
    background: list[subprocess.Popen[bytes]] = []
    log = open(tmp_path / "background.log", "ab")
    try:
        for line in lines:
            if line.endswith("&"):
                background.append(subprocess.Popen(
                    shlex.split(line[:-1]), cwd=tmp_path, env=env, stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True,
                ))  # fmt: skip
                if "daemon" in line:
                    wait_for(lambda: "daemon gpu: connected" in _run(["dora-ros", "status"],
                             tmp_path, env).stdout, 20, "the gpu daemon")  # fmt: skip
                continue
            args = shlex.split(line)
            if line.startswith("dora-ros logs"):
                # The listener prints every 0.5 s once the dataflow started: wait for a line.
                wait_for(lambda a=args: "count " in _run(a, tmp_path, env).stdout, 30,
                         "the listener's first lines")  # fmt: skip
            run = _run(args, tmp_path, env)
            assert run.returncode == 0, f"{line}:\n{run.stdout}\n{run.stderr}"
            if line.startswith("dora-ros logs"):
                out = run.stdout.splitlines()
                assert 1 <= len(out) <= 5 and all("received on" in x for x in out), run.stdout
            if line.startswith("dora-ros list"):
                assert "demo  Running" in run.stdout, run.stdout
        for proc in background:
            proc.wait(timeout=15)  # `down` ended the second daemon too
    finally:
        log.close()
        for proc in background:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        left = wait_no_leftovers(tmp_path)
    assert not left, f"processes left behind: {left}"


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
