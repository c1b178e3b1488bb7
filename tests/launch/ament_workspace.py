"""Helpers for launch tests (fixtures in conftest.py): a temporary ament package with an rclpy reporter node.

`ament_ws` builds `<tmp>/prefix` with the index marker, `lib/demo_pkg/reporter` (an rclpy node
that writes its name, namespace, resolved topic names and parameters to `$REPORT_DIR`) and
`share/demo_pkg/launch/`; `launch()` runs `dora-ros launch` as a real subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PYTHON = sys.executable
VENV_PREFIX = str(Path(sys.executable).resolve().parent.parent)
if not (Path(VENV_PREFIX) / "share" / "ament_index").exists():  # sys.executable may be a symlink
    VENV_PREFIX = str(Path(sys.prefix))

REPORTER = f"""#!{PYTHON}
import json, os, sys, time
import rclpy
from rclpy.node import Node
from std_msgs.msg import String

rclpy.init(args=sys.argv)
node = Node("reporter", automatically_declare_parameters_from_overrides=True)
pub = node.create_publisher(String, "chatter", 1)
sub = node.create_subscription(String, "input", lambda m: None, 1)
params = {{k: p.value for k, p in node.get_parameters_by_prefix("").items()}}
params.pop("use_sim_time", None)
params.pop("start_type_description_service", None)
info = dict(name=node.get_name(), namespace=node.get_namespace(),
            fqn=node.get_fully_qualified_name(), chatter=pub.topic_name,
            input=sub.topic_name, params=params, env=os.environ.get("DEMO_ENV"))
out = os.environ.get("REPORT_DIR")
if out:
    path = os.path.join(out, info["fqn"].strip("/").replace("/", "__") + ".json")
    with open(path + ".tmp", "w") as f:
        json.dump(info, f)
    os.replace(path + ".tmp", path)
print("reported", info["fqn"], flush=True)
if "--stay" in sys.argv:
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
node.destroy_node()
rclpy.try_shutdown()
"""

# A plain process (no rclpy, starts fast) for lifecycle tests: it can ignore signals, exit after
# a while with a given status, start a grandchild, and appends what happens to `--record FILE`.
STUB = f"""#!{PYTHON}
import argparse, os, signal, subprocess, sys, time
parser = argparse.ArgumentParser()
parser.add_argument("--ignore", default="")
parser.add_argument("--exit-after", type=float)
parser.add_argument("--code", type=int, default=0)
parser.add_argument("--spawn-child", action="store_true")
parser.add_argument("--record")
args, _ = parser.parse_known_args()

def record(text):
    print(text, flush=True)
    if args.record:
        with open(args.record, "a") as f:
            f.write(text + "\\n")

def handler(sig, frame):
    name = signal.Signals(sig).name
    if name[3:] in args.ignore.split(","):
        record(f"ignored {{name}}")
        return
    record(f"got {{name}}")
    sys.exit(0)

for sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(sig, handler)
record(f"start {{os.getpid()}}")
if args.spawn_child:
    child = subprocess.Popen(["sleep", "300"])
    record(f"child {{child.pid}}")
if args.exit_after is not None:
    time.sleep(args.exit_after)
    record(f"exit {{args.code}}")
    sys.exit(args.code)
while True:
    time.sleep(0.05)
"""


class Workspace:
    """A temporary ament prefix holding package `demo_pkg`."""

    def __init__(self, root: Path, domain_id: int) -> None:
        self.root = root
        self.prefix = root / "prefix"
        self.launch_dir = self.prefix / "share" / "demo_pkg" / "launch"
        self.reports = root / "reports"
        self.log_dir = root / "log"
        for folder in (self.launch_dir, self.prefix / "lib" / "demo_pkg", self.reports):
            folder.mkdir(parents=True, exist_ok=True)
        marker = self.prefix / "share" / "ament_index" / "resource_index" / "packages"
        marker.mkdir(parents=True)
        (marker / "demo_pkg").write_text("")
        self.add_executable("reporter", REPORTER)
        self.add_executable("stub", STUB)
        self._started: list[subprocess.Popen[str]] = []
        self.env = dict(os.environ)
        self.env.update(
            AMENT_PREFIX_PATH=f"{self.prefix}:{VENV_PREFIX}",
            ROS_DOMAIN_ID=str(domain_id),
            ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
            ROS_LOG_DIR=str(self.log_dir),
            REPORT_DIR=str(self.reports),
            PYTHONUNBUFFERED="1",
            # Fast DDS over UDP only: no shared-memory segments in /dev/shm from our rclpy nodes
            FASTDDS_BUILTIN_TRANSPORTS="UDPv4",
        )

    def add_executable(self, name: str, text: str) -> Path:
        path = self.prefix / "lib" / "demo_pkg" / name
        path.write_text(text)
        path.chmod(0o755)
        return path

    def add_launch(self, name: str, text: str) -> Path:
        path = self.launch_dir / name
        path.write_text(text)
        return path

    def report(self, fqn: str) -> dict:
        path = self.reports / (fqn.strip("/").replace("/", "__") + ".json")
        return json.loads(path.read_text())

    def launch(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run `dora-ros launch ARGS` to its end."""
        return subprocess.run(
            [PYTHON, "-m", "dora_ros.cli", "launch", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start `dora-ros launch ARGS` in the background (the caller stops it; close() kills it)."""
        process = subprocess.Popen(
            [PYTHON, "-m", "dora_ros.cli", "launch", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self.root,
        )
        self._started.append(process)
        return process

    def close(self) -> None:
        """Kill launchers a failed test left running (their children die with them)."""
        for process in self._started:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=10)


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")


def stop(
    process: subprocess.Popen[str], sig: int = signal.SIGINT, timeout: float = 30
) -> tuple[str, str]:
    """Signal a launcher and collect its output."""
    process.send_signal(sig)
    out, err = process.communicate(timeout=timeout)
    return out, err


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def lines_of(path: Path) -> list[str]:
    """The lines of a file, or [] while it does not exist."""
    return path.read_text().splitlines() if path.exists() else []


def resolve_in_process(ws: Workspace, path: Path, **args: str) -> tuple[list, dict]:  # type: ignore[type-arg]
    """Visit a launch file in this process (AMENT_PREFIX_PATH from `ws`).

    Returns (steps, {params file path: its YAML}) read before the launch's temporary folder goes.
    """
    import yaml

    from dora_ros.launch.action import visit
    from dora_ros.launch.context import LaunchContext
    from dora_ros.launch.frontend_python import python_launch_api
    from dora_ros.launch.launch_description_sources import load_launch_file
    from dora_ros.launch.plan import StartProcess, StartTimer

    saved = os.environ.get("AMENT_PREFIX_PATH")
    os.environ["AMENT_PREFIX_PATH"] = ws.env["AMENT_PREFIX_PATH"]
    context = LaunchContext(launch_arguments=args, environment=ws.env)
    context.shared.log_dir = str(ws.log_dir)
    try:
        with python_launch_api():
            visit(load_launch_file(str(path)), context)
        files: dict[str, object] = {}

        def read(steps: list) -> None:  # type: ignore[type-arg]
            for step in steps:
                if isinstance(step, StartProcess):
                    cmd = step.spec.cmd
                    for i, word in enumerate(cmd):
                        if word == "--params-file":
                            files[cmd[i + 1]] = yaml.safe_load(Path(cmd[i + 1]).read_text())
                elif isinstance(step, StartTimer):
                    read(list(step.steps))

        read(context.steps)
        return context.steps, files
    finally:
        context.shared.remove_temp_dir()
        if saved is None:
            os.environ.pop("AMENT_PREFIX_PATH", None)
        else:
            os.environ["AMENT_PREFIX_PATH"] = saved
