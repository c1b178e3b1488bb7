"""`dora-ros doctor`: what this machine and environment offer dora-ros, and what is broken.

Each check yields :class:`Finding`s: ``ok`` (shown for the record), ``warn`` (works, with advice:
the socket buffer sizes docs/bridge.md asks for, a small /dev/shm) or ``FAIL`` (something that
will not work: a missing package, a ROS variable ROS 2 would refuse, a graph `dora-ros validate`
refuses). One line per finding; the exit status is 1 when anything failed.

The coordinator check asks the coordinator (``--coordinator-addr/--coordinator-port``, env, as the
cluster commands) for its status over Zenoh, as ``dora-ros status`` does: its version, its daemons
and the round trip. No coordinator is fine for ``dora-ros run`` (ok) unless an address was given
(FAIL). The local ``dora-ros run`` dataflows (the run registry) are listed too.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

import click

__all__ = ["Finding", "check_all", "doctor"]

# (distribution, what it is for, required)
_PACKAGES = (
    ("dora-ros", "this package", True),
    ("pyarrow", "the data of every message", True),
    ("numpy", "arrays", True),
    ("PyYAML", "dataflow files", True),
    ("click", "the command line", True),
    ("ros-rclpy", "the bridge's default backend", True),
    ("ros-rmw-fastrtps-cpp", "ROS 2's default middleware", True),
    ("cyclonedds", "the bridge's cyclonedds backend", True),
    ("eclipse-zenoh", "the control plane and links between machines", True),
    ("dora-rs", "the reference runtime (tests, benchmarks)", False),
)
_RANGES = ("SUBNET", "LOCALHOST", "OFF", "SYSTEM_DEFAULT")
# docs/bridge.md: the rclpy backend asks Fast DDS for 4 MiB socket buffers and the Cyclone
# backend for 16 MB; the kernel caps both at net.core.rmem_max / wmem_max
_BUFFER_ADVICE = 4 * 1024 * 1024
# docs/bridge.md: each bridge holds an 8 MiB Fast DDS segment and keeps Fast DDS's defaults when
# /dev/shm has less than four segments' room
_SHM_ADVICE = 4 * 8 * 1024 * 1024


@dataclass(frozen=True)
class Finding:
    """One line of the report."""

    level: Literal["ok", "warn", "FAIL"]
    subject: str
    text: str

    def __str__(self) -> str:
        return f"{self.level:<4}  {self.subject}: {self.text}"


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def check_python() -> Iterator[Finding]:
    version = platform.python_version()
    yield Finding("ok", "python", f"{version} ({sys.executable})")
    yield Finding(
        "ok", "platform", f"{platform.system()} {platform.release()} {platform.machine()}"
    )


def check_packages() -> Iterator[Finding]:
    for name, purpose, required in _PACKAGES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            if required:
                yield Finding("FAIL", name, f"not installed ({purpose}): pip install {name}")
            else:
                yield Finding("ok", name, f"not installed ({purpose}; optional)")
            continue
        yield Finding("ok", name, version)


def _ament_prefixes() -> list[Path]:
    """AMENT_PREFIX_PATH's prefixes, then this interpreter's (where the ROS 2 pip wheels are)."""
    prefixes = [Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    if Path(sys.prefix) not in prefixes:
        prefixes.append(Path(sys.prefix))
    return prefixes


def _packages_of(prefix: Path) -> set[str]:
    index = prefix / "share" / "ament_index" / "resource_index" / "packages"
    try:
        return {entry.name for entry in index.iterdir()}
    except OSError:
        return set()


def check_ros_environment() -> Iterator[Finding]:
    environ = os.environ
    known: set[str] = set()
    listed = [p for p in environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    for prefix in _ament_prefixes():
        packages = _packages_of(prefix)
        known |= packages
        origin = "AMENT_PREFIX_PATH" if str(prefix) in listed else "this Python's prefix"
        if not prefix.is_dir():
            yield Finding("FAIL", "ament prefix", f"{prefix} ({origin}) does not exist")
        elif not packages and str(prefix) in listed:
            yield Finding("warn", "ament prefix", f"{prefix} ({origin}) holds no ament index")
        else:
            yield Finding("ok", "ament prefix", f"{prefix} ({origin}): {len(packages)} packages")
    rmw = environ.get("RMW_IMPLEMENTATION")
    if not rmw:
        yield Finding("ok", "RMW_IMPLEMENTATION", "unset (rmw_fastrtps_cpp, ROS 2's default)")
    elif rmw not in known:
        candidates = sorted(
            p
            for p in known
            if p.startswith("rmw_") and p.endswith("_cpp") and not p.endswith("_shared_cpp")
        )
        yield Finding(
            "FAIL",
            "RMW_IMPLEMENTATION",
            f"'{rmw}' is not installed in any ament prefix (installed: "
            f"{', '.join(candidates) or 'none'})",
        )
    else:
        yield Finding("ok", "RMW_IMPLEMENTATION", rmw)
    domain = environ.get("ROS_DOMAIN_ID")
    if domain is None or domain == "":
        yield Finding("ok", "ROS_DOMAIN_ID", "unset (0)")
    elif not domain.strip().isdigit() or int(domain) > 232:
        yield Finding("FAIL", "ROS_DOMAIN_ID", f"'{domain}' is not an integer from 0 to 232")
    elif int(domain) > 101:
        yield Finding(
            "warn",
            "ROS_DOMAIN_ID",
            f"{int(domain)}: above 101, DDS ports may collide with Linux's ephemeral ports "
            "(ROS 2 advises 0-101)",
        )
    else:
        yield Finding("ok", "ROS_DOMAIN_ID", str(int(domain)))
    scope = environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE")
    if not scope:
        yield Finding("ok", "ROS_AUTOMATIC_DISCOVERY_RANGE", "unset (SUBNET)")
    elif scope.upper() not in _RANGES:
        yield Finding(
            "FAIL",
            "ROS_AUTOMATIC_DISCOVERY_RANGE",
            f"'{scope}' is not one of {', '.join(_RANGES)}",
        )
    else:
        yield Finding("ok", "ROS_AUTOMATIC_DISCOVERY_RANGE", scope.upper())
    if environ.get("ROS_LOCALHOST_ONLY"):
        yield Finding(
            "warn",
            "ROS_LOCALHOST_ONLY",
            "deprecated since Jazzy: set ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST instead",
        )
    if environ.get("ROS_STATIC_PEERS"):
        yield Finding("ok", "ROS_STATIC_PEERS", environ["ROS_STATIC_PEERS"])


def check_shared_memory(folder: str = "/dev/shm") -> Iterator[Finding]:
    try:
        stat = os.statvfs(folder)
    except OSError as err:
        yield Finding(
            "warn",
            folder,
            f"not usable ({err.strerror}): Fast DDS falls back to UDP between ROS processes",
        )
        return
    size, free = stat.f_frsize * stat.f_blocks, stat.f_frsize * stat.f_bavail
    text = f"{_mib(size)}, {_mib(free)} free"
    if free < _SHM_ADVICE:
        yield Finding(
            "warn",
            folder,
            f"{text}: under {_mib(_SHM_ADVICE)}, bridges keep Fast DDS's small default segment "
            "(large messages get slow; docker: --shm-size=256m)",
        )
    else:
        yield Finding("ok", folder, text)


def _net_core(folder: Path, name: str) -> int | None:
    try:
        return int((folder / name).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def check_socket_buffers(folder: Path = Path("/proc/sys/net/core")) -> Iterator[Finding]:
    # what a buffer below the advice costs, and the sysctl docs/bridge.md gives
    effects = {
        "rmem_max": (
            "large messages (images) arriving over UDP overflow the socket and are resent",
            f"net.core.rmem_max={_BUFFER_ADVICE} net.core.rmem_default={_BUFFER_ADVICE}",
        ),
        "wmem_max": (
            "large messages (images) leave over UDP in smaller bursts, more slowly",
            f"net.core.wmem_max={_BUFFER_ADVICE}",
        ),
    }
    for name, (effect, fix) in effects.items():
        value = _net_core(folder, name)
        subject = f"net.core.{name}"
        if value is None:
            yield Finding("ok", subject, "unknown (not Linux)")
        elif value < _BUFFER_ADVICE:
            yield Finding(
                "warn",
                subject,
                f"{value} bytes caps the 4 MiB DDS socket buffers the bridge asks for: {effect}; "
                f"sudo sysctl -w {fix} (docs/bridge.md)",
            )
        else:
            yield Finding("ok", subject, f"{value} bytes")


def check_dataflow(path: Path) -> Iterator[Finding]:
    from ..errors import DescriptorError
    from ..runtime.descriptor import load_dataflow, resolve_executable

    try:
        dataflow = load_dataflow(path)
    except DescriptorError as err:  # the very line `dora-ros validate` prints
        yield Finding("FAIL", "dataflow", str(err))
        return
    count = len(dataflow.nodes)
    yield Finding("ok", "dataflow", f"{path}: ok ({count} node{'s' if count != 1 else ''})")
    for node in dataflow.nodes:
        if node.kind == "executable" and node.build is None:
            try:
                resolve_executable(node, dataflow)
            except DescriptorError as err:
                yield Finding("FAIL", "dataflow", str(err))


def check_coordinator(addr: str | None, port: int | None) -> Iterator[Finding]:
    """The coordinator answers a status query over Zenoh; its version and daemons; local runs."""
    import time

    from ..cluster import keys
    from ..cluster.coordinator import version
    from ..cluster.dataflow_api import registry_entries
    from ..cluster.messages import request
    from ..cluster.zenoh_config import (
        DEFAULT_ADDR,
        DEFAULT_PORT,
        ClusterError,
        cli_settings,
        coordinator_endpoint,
    )  # fmt: skip
    from .dataflows import _coordinator_listens

    runs = registry_entries()
    names = ", ".join(e.get("name") or e["id"] for e in runs)
    yield Finding("ok", "local runs", f"{len(runs)} running" + (f" ({names})" if names else ""))
    explicit = addr is not None or port is not None
    addr = DEFAULT_ADDR if addr is None else addr
    port = DEFAULT_PORT if port is None else port
    where = coordinator_endpoint(addr, port)
    if not _coordinator_listens(addr, port):
        if explicit:
            yield Finding("FAIL", "coordinator", f"nothing listens at {where} (start one there"
                          " with `dora-ros coordinator`, or `dora-ros up` on this machine)")  # fmt: skip
        else:
            yield Finding("ok", "coordinator", f"none at {where} (only `start` and the cluster"
                          " commands need one: `dora-ros up`)")  # fmt: skip
        return
    started = time.monotonic()
    try:
        session = cli_settings(addr, port).open("coordinator")
        try:
            status = request(session, keys.coordinator_api("status"), {}, timeout=3.0,
                             what=f"coordinator at {where}")  # fmt: skip
        finally:
            session.close()
    except ClusterError as err:
        yield Finding("FAIL", "coordinator", f"{where} accepts connections but does not answer"
                      f" over Zenoh: {err}")  # fmt: skip
        return
    took = (time.monotonic() - started) * 1000
    info = status["coordinator"]
    yield Finding("ok", "coordinator", f"{where} answers over Zenoh in {took:.0f} ms (dora-ros"
                  f" {info['version']}, host {info['host']}, {status['running']} running"
                  " dataflows)")  # fmt: skip
    if info["version"] != version():
        yield Finding("warn", "coordinator", f"runs dora-ros {info['version']}, this is"
                      f" {version()}: use one version on every machine")  # fmt: skip
    daemons = status["daemons"]
    if not daemons:
        yield Finding("warn", "daemons", "none connected: start `dora-ros daemon --machine-id ID`"
                      " on each machine")  # fmt: skip
    for daemon in daemons:
        if daemon["alive"] and daemon.get("reachable", True):
            yield Finding("ok", f"daemon {daemon['machine']}", "connected")
        else:
            state = "lost" if not daemon["alive"] else "connected but not answering"
            yield Finding("warn", f"daemon {daemon['machine']}", state)


def check_all(
    dataflow: Path | None = None, coordinator_addr: str | None = None,
    coordinator_port: int | None = None,
) -> list[Finding]:  # fmt: skip
    findings = [
        *check_python(),
        *check_packages(),
        *check_ros_environment(),
        *check_shared_memory(),
        *check_socket_buffers(),
        *check_coordinator(coordinator_addr, coordinator_port),
    ]
    if dataflow is not None:
        findings += check_dataflow(dataflow)
    return findings


@click.command(
    epilog="""\b
Examples:
  dora-ros doctor
  dora-ros doctor --dataflow graph.yml
  dora-ros doctor --problems-only      # only warnings and failures
  dora-ros doctor --coordinator-addr 10.0.0.2   # a coordinator on another machine
"""
)
@click.option(
    "-d",
    "--dataflow",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also validate this dataflow (as `dora-ros validate`) and find its executables.",
)
@click.option("--problems-only", is_flag=True, help="Show only warnings and failures.")
@click.option("--coordinator-addr", envvar="DORA_COORDINATOR_ADDR", default=None,
              help="Check the coordinator at this address (default 127.0.0.1).")  # fmt: skip
@click.option("--coordinator-port", type=int, envvar="DORA_COORDINATOR_PORT", default=None,
              help="Check the coordinator on this port (default 6013).")  # fmt: skip
def doctor(dataflow: Path | None, problems_only: bool, coordinator_addr: str | None,
           coordinator_port: int | None) -> int:  # fmt: skip
    """Check Python, packages, the ROS 2 environment, /dev/shm, socket buffers and the
    coordinator (Zenoh).

    One line per finding: ok, warn (works, with advice) or FAIL. The exit status is 1 when
    something failed.
    """
    findings = check_all(dataflow, coordinator_addr, coordinator_port)
    for finding in findings:
        if finding.level != "ok" or not problems_only:
            click.echo(str(finding))
    failed = sum(f.level == "FAIL" for f in findings)
    warned = sum(f.level == "warn" for f in findings)
    click.echo(
        f"{failed} problem{'s' if failed != 1 else ''}, {warned} warning{'s' if warned != 1 else ''}"
    )
    return 1 if failed else 0
