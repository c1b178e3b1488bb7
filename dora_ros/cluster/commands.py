"""The cluster's CLI: ``coordinator``, ``daemon``, ``up``, ``down``, ``start``, ``stop``, ``list``,
``logs``, ``status`` (names and flags as dora-rs 1.1's ``dora``; docs/cluster.md).

Every client command is a short-lived Zenoh client of the coordinator: with no coordinator it
fails with one line within ``CLI_CONNECT_TIMEOUT_MS``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from . import keys
from .channel_reader import read_subscriber
from .messages import decode, request
from .zenoh_config import (
    DEFAULT_ADDR,
    DEFAULT_PORT,
    ENV_ADDR,
    ENV_INTERFACE,
    ENV_PORT,
    ClusterError,
    ZenohSettings,
    check_id,
    cli_settings,
    coordinator_endpoint,
    endpoints,
    read_overlay,
    scout_coordinator,
)

__all__ = [
    "coordinator", "daemon", "down", "list_", "logs", "restart", "start", "status", "stop",
    "up",
]  # fmt: skip

REQUEST_TIMEOUT = 5.0
START_TIMEOUT = 30.0


def _coordinator_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--coordinator-port", type=int, envvar=ENV_PORT, default=DEFAULT_PORT,
                        show_default=True, help="Port of the coordinator.")(func)  # fmt: skip
    func = click.option("--coordinator-addr", envvar=ENV_ADDR, default=DEFAULT_ADDR,
                        show_default=True, help="Address of the coordinator.")(func)  # fmt: skip
    return func


def _zenoh_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--zenoh-no-multicast", is_flag=True,
                        help="Turn Zenoh multicast scouting off (explicit endpoints only).")(func)  # fmt: skip
    func = click.option("--zenoh-connect", multiple=True,
                        help="Extra Zenoh endpoint to connect to, e.g. tcp/10.0.0.2:7447.")(func)  # fmt: skip
    func = click.option("--zenoh-listen", multiple=True,
                        help="Zenoh endpoint to listen on, e.g. tcp/10.0.0.3:0.")(func)  # fmt: skip
    func = click.option("--zenoh-config-overlay", type=click.Path(dir_okay=False, path_type=Path),
                        default=None, help="JSON file of Zenoh config keys laid over"
                        " ZENOH_CONFIG (TLS, access control).")(func)  # fmt: skip
    return func


@contextlib.contextmanager
def _session(addr: str, port: int) -> Iterator[Any]:
    try:
        session = cli_settings(addr, port).open("coordinator")
    except ClusterError as err:
        raise ClusterError(
            f"no coordinator answers at {coordinator_endpoint(addr, port)} (start one with"
            " `dora-ros up`, or `dora-ros coordinator` on the machine it runs on)"
        ) from err
    try:
        yield session
    finally:
        with contextlib.suppress(Exception):
            session.close()


def _ask(addr: str, port: int, verb: str, message: dict[str, Any],
         timeout: float = REQUEST_TIMEOUT) -> dict[str, Any]:  # fmt: skip
    with _session(addr, port) as session:
        return request(session, keys.coordinator_api(verb), message, timeout=timeout,
                       what=f"coordinator at {coordinator_endpoint(addr, port)}")  # fmt: skip


def check_coordinator(addr: str, port: int) -> None:
    """Raise the one-line ``ClusterError`` of every command when no coordinator answers at
    ``addr:port`` (for tools that also find dataflows without one, once the user named it)."""
    _ask(addr, port, "status", {})


# --- servers -----------------------------------------------------------------------------------


@click.command()
@click.option("--interface", envvar=ENV_INTERFACE, default=DEFAULT_ADDR, show_default=True,
              show_envvar=True, help="Address to listen on (0.0.0.0 for every interface).")  # fmt: skip
@click.option("--port", type=int, envvar=ENV_PORT, default=DEFAULT_PORT, show_default=True,
              show_envvar=True, help="Port to listen on (Zenoh tcp/<interface>:<port>).")  # fmt: skip
@_zenoh_options
def coordinator(interface: str, port: int, zenoh_config_overlay: Path | None,
                zenoh_listen: tuple[str, ...], zenoh_connect: tuple[str, ...],
                zenoh_no_multicast: bool) -> int:  # fmt: skip
    """Run the coordinator in the foreground.

    \b
    Example:
      dora-ros coordinator --interface 0.0.0.0 --port 6013
    """
    from .coordinator import Coordinator

    listen = (coordinator_endpoint(interface, port), *endpoints(zenoh_listen))
    overlay = _overlay(zenoh_config_overlay, zenoh_no_multicast)
    settings = ZenohSettings(mode="router", listen=listen, connect=endpoints(zenoh_connect),
                             overlay=overlay)  # fmt: skip
    return Coordinator(settings).serve()


@click.command()
@click.option("--machine-id", default=None,
              help="This machine's id, as graphs name it in deploy.machine (default: host name).")  # fmt: skip
@click.option("-c", "--coordinator-addr", envvar=ENV_ADDR, default=DEFAULT_ADDR,
              show_default=True, help="Address of the coordinator.")  # fmt: skip
@click.option("--coordinator-port", type=int, envvar=ENV_PORT, default=DEFAULT_PORT,
              show_default=True, help="Port of the coordinator.")  # fmt: skip
@_zenoh_options
def daemon(machine_id: str | None, coordinator_addr: str, coordinator_port: int,
           zenoh_config_overlay: Path | None, zenoh_listen: tuple[str, ...],
           zenoh_connect: tuple[str, ...], zenoh_no_multicast: bool) -> int:  # fmt: skip
    """Run a daemon (one per machine) in the foreground.

    \b
    Example:
      dora-ros daemon --machine-id gpu -c 10.0.0.1 --zenoh-listen tcp/10.0.0.3:0
    """
    from .daemon import Daemon

    machine = check_id("--machine-id", machine_id or socket.gethostname().split(".")[0])
    overlay = _overlay(zenoh_config_overlay, zenoh_no_multicast)
    given = click.get_current_context().get_parameter_source("coordinator_addr")
    if overlay.get("scouting/multicast/enabled") is True and given == ParameterSource.DEFAULT:
        # Multicast on and no address given (option or env): find the coordinator on the LAN,
        # so that what this daemon listens on is its address towards it, never loopback.
        probe = ZenohSettings(mode="peer", multicast=True, overlay=overlay)
        coordinator_addr = scout_coordinator(probe, coordinator_port)
    connect = (coordinator_endpoint(coordinator_addr, coordinator_port), *endpoints(zenoh_connect))
    # Without --zenoh-listen: the address this machine reaches the coordinator from, so that
    # what the daemon and its nodes advertise is reachable from the other machines (never a
    # loopback address, unless the coordinator is on loopback too).
    listen = endpoints(zenoh_listen) or (
        f"tcp/{_address_towards(coordinator_addr, coordinator_port)}:0",
    )
    settings = ZenohSettings(mode="peer", connect=connect, listen=listen, overlay=overlay)
    # Nodes with edges to other machines: peers of the same network, listening on any port of
    # the daemon's listen addresses.
    node_listen = tuple(_any_port(e) for e in listen)
    nodes = ZenohSettings(mode="peer", connect=connect, listen=node_listen, overlay=overlay)
    return Daemon(machine, settings, nodes).serve()


def _address_towards(addr: str, port: int) -> str:
    """This machine's address on the route to ``addr`` (no packet is sent: a UDP connect)."""
    try:
        family, _, _, _, target = socket.getaddrinfo(addr, port, type=socket.SOCK_DGRAM)[0]
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(target)
            local = str(probe.getsockname()[0])
    except OSError as err:
        raise ClusterError(f"--coordinator-addr {addr}: no route to it: {err}") from err
    return f"[{local}]" if ":" in local else local


def _overlay(path: Path | None, no_multicast: bool) -> dict[str, Any]:
    overlay = read_overlay(path)
    if no_multicast:
        overlay["scouting/multicast/enabled"] = False
    return overlay


def _any_port(endpoint: str) -> str:
    head, sep, _ = endpoint.rpartition(":")
    return f"{head}:0" if sep else endpoint


# --- clients -------------------------------------------------------------------------------------


@click.command()
@click.argument("graph", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-n", "--name", default=None, help="Name of the dataflow.")
@click.option("--attach", "attach", flag_value=True, default=None,
              help="Wait for the dataflow to end, showing its output (the default).")  # fmt: skip
@click.option("--detach", "attach", flag_value=False, help="Return once the dataflow started.")
@_coordinator_options
def start(graph: Path, name: str | None, attach: bool | None, coordinator_addr: str,
          coordinator_port: int) -> int:  # fmt: skip
    """Start a dataflow on the running coordinator's daemons.

    \b
    Example:
      dora-ros start examples/cluster/graph.yml --name demo --detach
    """
    from ..runtime.descriptor import load_dataflow

    # Errors here, with the file's own line numbers; node paths are checked by the machines
    # that run the nodes (node_paths.py), not on this host.
    dataflow = load_dataflow(graph, check_paths=False)
    text = dataflow.path.read_text(encoding="utf-8")
    message = {"graph_path": str(dataflow.path), "graph_text": text, "name": name,
               "out_dir": str(Path.cwd() / "out")}  # fmt: skip
    with _session(coordinator_addr, coordinator_port) as session:
        where = f"coordinator at {coordinator_endpoint(coordinator_addr, coordinator_port)}"
        answer = request(session, keys.coordinator_api("start"), message, timeout=START_TIMEOUT,
                         what=where)  # fmt: skip
        dataflow_id = answer["uuid"]
        click.echo(f"dataflow {dataflow_id} started" + (f" ({name})" if name else "")
                   + f" on {', '.join(answer['machines'])}")  # fmt: skip
        if attach is False:
            return 0
        return _attach(session, dataflow_id, where)


def _attach(session: Any, dataflow_id: str, where: str) -> int:
    """Show the dataflow's lines until it ends; Ctrl-C stops it (twice: kills)."""
    import queue

    ended: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()

    def on_line(sample: Any) -> None:
        node = keys.last_chunk(sample.key_expr)
        click.echo(f"{node}: {sample.payload.to_string()}")

    # Read by threads of ours, never Python callbacks on Zenoh's threads (channel_reader.py).
    subs = [
        read_subscriber(session, f"{keys.dataflow(dataflow_id)}/log/**", on_line, name="logs"),
        read_subscriber(
            session, keys.status(dataflow_id), lambda s: ended.put(decode(s.payload)), name="status"
        ),
    ]
    interrupts = 0
    old = signal.getsignal(signal.SIGINT)

    def on_sigint(*_: Any) -> None:
        nonlocal interrupts
        interrupts += 1

    signal.signal(signal.SIGINT, on_sigint)
    sent = 0
    try:
        while True:
            if interrupts > sent:
                sent = interrupts
                click.echo(f"stopping {dataflow_id}" + ("; Ctrl-C again kills" if sent == 1
                                                         else ""), err=True)  # fmt: skip
                request(session, keys.coordinator_api("stop"),
                        {"target": dataflow_id, "force": sent > 1}, timeout=REQUEST_TIMEOUT,
                        what=where)  # fmt: skip
            row: dict[str, Any] | None
            try:
                row = ended.get(timeout=1.0)
            except queue.Empty:
                row = _row(session, dataflow_id, where)
            if row is not None and row.get("status") != "running":
                for sub in subs:  # the lines already received are shown before the report
                    sub.undeclare()
                return _report(row)
    finally:
        signal.signal(signal.SIGINT, old)
        for sub in subs:
            sub.undeclare()


def _row(session: Any, dataflow_id: str, where: str) -> dict[str, Any] | None:
    rows = request(session, keys.coordinator_api("list"), {}, timeout=REQUEST_TIMEOUT,
                   what=where)["dataflows"]  # fmt: skip
    return next((r for r in rows if r["uuid"] == dataflow_id), None)


def _report(row: dict[str, Any]) -> int:
    for where, count in sorted((row.get("dropped") or {}).items()):
        if "->" in where:
            node, _, receiver = where.partition("->")
            click.echo(f"node {node!r}: {count} message(s) for {receiver!r} were dropped"
                       " (receiver not there yet, or too slow)", err=True)  # fmt: skip
        else:
            node, _, input_id = where.partition("/")
            click.echo(f"node {node!r} input {input_id!r}: dropped {count} message(s)", err=True)
    if row["status"] == "failed":
        click.echo(f"dataflow {row['uuid']} failed: {row['message']}", err=True)
        return 1
    click.echo(f"dataflow {row['uuid']} finished")
    return 0


@click.command("list")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="json: one object per line.")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="Only the UUIDs.")
@click.option("--status", "status_filter", type=click.Choice(["running", "finished", "failed"]),
              default=None, help="Only dataflows with this status.")  # fmt: skip
@_coordinator_options
def list_(fmt: str, quiet: bool, status_filter: str | None, coordinator_addr: str,
          coordinator_port: int) -> int:  # fmt: skip
    """List the coordinator's dataflows.

    \b
    Examples:
      dora-ros list --status running
      dora-ros list --format json
    """
    rows = _ask(coordinator_addr, coordinator_port, "list", {})["dataflows"]
    if status_filter:
        rows = [r for r in rows if r["status"] == status_filter]
    if quiet:
        for row in rows:
            click.echo(row["uuid"])
    elif fmt == "json":
        for row in rows:
            click.echo(json.dumps(row))
    else:
        table = [("UUID", "NAME", "STATUS", "NODES", "MACHINES", "CPU", "MEMORY")]
        for row in rows:
            running = row["status"] == "running"
            cpu = f"{row.get('cpu', 0):.1f}%" if running else "-"
            memory = f"{row.get('memory', 0) / 1e6:.1f} MB" if running else "-"
            table.append((row["uuid"], row["name"] or "-", row["status"].capitalize(),
                          str(row["nodes"]), ",".join(row["machines"]), cpu, memory))  # fmt: skip
        widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
        for line in table:
            click.echo("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    return 0


@click.command()
@click.argument("dataflow", required=False)
@click.option("--all", "all_", is_flag=True, help="Stop every running dataflow.")
@click.option("--force", is_flag=True, help="Kill the nodes at once.")
@click.option("--grace-duration", default=None,
              help="Wait this long after STOP before SIGTERM (e.g. 10s).")  # fmt: skip
@_coordinator_options
def stop(dataflow: str | None, all_: bool, force: bool, grace_duration: str | None,
         coordinator_addr: str, coordinator_port: int) -> int:  # fmt: skip
    """Stop a dataflow (by name or UUID) and wait for it to end.

    \b
    Examples:
      dora-ros stop demo --grace-duration 5s
      dora-ros stop --all
    """
    from ..runtime.commands import parse_duration

    if not dataflow and not all_:
        raise ClusterError("stop: name a dataflow (name or UUID) or give --all")
    grace = None
    if grace_duration is not None:
        try:
            grace = parse_duration(grace_duration)
        except ValueError as err:
            raise ClusterError(f"--grace-duration: {err}") from err
    where = f"coordinator at {coordinator_endpoint(coordinator_addr, coordinator_port)}"
    with _session(coordinator_addr, coordinator_port) as session:
        answer = request(session, keys.coordinator_api("stop"),
                         {"target": dataflow, "all": all_, "force": force, "grace": grace},
                         timeout=REQUEST_TIMEOUT, what=where)  # fmt: skip
        code = 0
        deadline = time.monotonic() + (grace if grace is not None else 5.0) + 15.0
        for dataflow_id in answer["stopping"]:
            while True:
                row = _row(session, dataflow_id, where)
                if row is None or row["status"] != "running":
                    break
                if time.monotonic() > deadline:
                    raise ClusterError(f"dataflow {dataflow_id} is still running after stop")
                time.sleep(0.2)
            if row is not None:
                code = max(code, _report(row))
        if not answer["stopping"]:
            click.echo("no running dataflow")
    return code


@click.command()
@click.argument("dataflow", required=False)
@click.option("-n", "--name", "name_option", default=None, help="The dataflow (as the argument).")
@click.option("--grace-duration", default=None, help="Wait this long after STOP before SIGTERM.")
@click.option("-f", "--force", is_flag=True, help="Kill the nodes at once.")
@_coordinator_options
def restart(dataflow: str | None, name_option: str | None, grace_duration: str | None,
            force: bool, coordinator_addr: str, coordinator_port: int) -> int:  # fmt: skip
    """Stop a dataflow and start it again from the descriptor it was started with.

    \b
    Example:
      dora-ros restart demo
    """
    target = dataflow or name_option
    if not target:
        raise ClusterError("restart: name a dataflow (name or UUID)")
    stored = _ask(coordinator_addr, coordinator_port, "descriptor", {"target": target})
    if stored["status"] == "running":
        args = [stored["uuid"], "--coordinator-addr", coordinator_addr,
                "--coordinator-port", str(coordinator_port)]  # fmt: skip
        args += ["--grace-duration", grace_duration] if grace_duration else []
        args += ["--force"] if force else []
        stop.main(args, standalone_mode=False)
    message = {"graph_path": stored["graph_path"], "graph_text": stored["graph_text"],
               "name": stored["name"], "out_dir": stored["out_dir"]}  # fmt: skip
    answer = _ask(coordinator_addr, coordinator_port, "start", message, timeout=START_TIMEOUT)
    click.echo(f"dataflow {answer['uuid']} started" + (f" ({stored['name']})" if stored["name"]
               else "") + f" on {', '.join(answer['machines'])}")  # fmt: skip
    return 0


@click.command()
@click.argument("dataflow")
@click.option("-n", "--node", default=None, help="Only this node's log.")
@click.option("-f", "--follow", is_flag=True, help="Keep showing new lines until Ctrl-C.")
@click.option("--tail", type=int, default=None, help="Only the last N lines (per node).")
@_coordinator_options
def logs(dataflow: str, node: str | None, follow: bool, tail: int | None, coordinator_addr: str,
         coordinator_port: int) -> int:  # fmt: skip
    """Show a dataflow's node logs (from the machines that ran them).

    \b
    Example:
      dora-ros logs demo -n listener --tail 20 -f
    """
    where = f"coordinator at {coordinator_endpoint(coordinator_addr, coordinator_port)}"
    with _session(coordinator_addr, coordinator_port) as session:
        answer = request(session, keys.coordinator_api("logs"),
                         {"target": dataflow, "node": node, "tail": tail},
                         timeout=REQUEST_TIMEOUT + 5, what=where)  # fmt: skip
        several = len(answer["logs"]) > 1
        for entry in answer["logs"]:
            if entry.get("missing") and not follow:
                click.echo(f"node {entry['node']!r} on {entry['machine']}: no output yet (it is"
                           " not started yet; -f waits for it)", err=True)  # fmt: skip
            for line in entry["text"].splitlines():
                click.echo(f"{entry['node']}: {line}" if several else line)
        if not follow:
            return 0
        dataflow_id = answer["uuid"]
        key = keys.log(dataflow_id, node) if node else f"{keys.dataflow(dataflow_id)}/log/**"

        def on_line(sample: Any) -> None:
            text = sample.payload.to_string()
            click.echo(f"{keys.last_chunk(sample.key_expr)}: {text}" if not node else text)

        sub = read_subscriber(session, key, on_line, name="logs")  # channel_reader.py: why
        try:
            while True:
                row = _row(session, dataflow_id, where)
                if row is None or row["status"] != "running":
                    time.sleep(0.3)
                    return 0
                time.sleep(0.5)
        except KeyboardInterrupt:
            return 0
        finally:
            sub.undeclare()


@click.command()
@_coordinator_options
def status(coordinator_addr: str, coordinator_port: int) -> int:
    """Show the coordinator, its daemons (machine ids, liveliness) and versions.

    \b
    Example:
      dora-ros status --coordinator-addr 10.0.0.1
    """
    answer = _ask(coordinator_addr, coordinator_port, "status", {})
    info = answer["coordinator"]
    click.echo(f"coordinator: {coordinator_endpoint(coordinator_addr, coordinator_port)}"
               f" (dora-ros {info['version']}, host {info['host']})")  # fmt: skip
    daemons = answer["daemons"]
    if not daemons:
        click.echo("daemons: none")
    for entry in daemons:
        state = "connected" if entry["alive"] else "lost"
        if entry["alive"] and not entry.get("reachable", True):
            state = "unreachable"
        about = [f"dora-ros {entry['version']}"] if entry.get("version") else []
        about += [f"host {entry['host']}"] if entry.get("host") else []
        click.echo(f"daemon {entry['machine']}: {state}" + (f" ({', '.join(about)})"
                                                           if about else ""))  # fmt: skip
    click.echo(f"running dataflows: {answer['running']}")
    return 0


# --- up / down -----------------------------------------------------------------------------------


def _state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    folder = Path(base) / "dora-ros"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _background(args: list[str], log_name: str) -> int:
    log = open(_state_dir() / log_name, "ab")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dora_ros.cli", *args],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    finally:
        log.close()
    return proc.pid


def _status_or_none(addr: str, port: int) -> dict[str, Any] | None:
    try:
        return _ask(addr, port, "status", {})
    except ClusterError:
        return None


@click.command()
@click.option("--machine-id", default=None, help="The local daemon's machine id.")
@_coordinator_options
def up(machine_id: str | None, coordinator_addr: str, coordinator_port: int) -> int:
    """Start a coordinator and a daemon in the background (where none runs yet).

    \b
    Example:
      dora-ros up --machine-id robot
    """
    port = ["--coordinator-addr", coordinator_addr, "--coordinator-port", str(coordinator_port)]
    info = _status_or_none(coordinator_addr, coordinator_port)
    if info is None:
        pid = _background(["coordinator", "--interface", coordinator_addr, "--port",
                           str(coordinator_port)], f"coordinator-{coordinator_port}.log")  # fmt: skip
        _remember(coordinator_port, pid)
        info = _wait(lambda: _status_or_none(coordinator_addr, coordinator_port), "coordinator")
        click.echo(
            f"coordinator started on {coordinator_endpoint(coordinator_addr, coordinator_port)}"
        )
    if not any(d["alive"] for d in info["daemons"]):
        args = ["daemon", *port] + (["--machine-id", machine_id] if machine_id else [])
        _remember(coordinator_port, _background(args, f"daemon-{coordinator_port}.log"))

        def has_daemon() -> dict[str, Any] | None:
            found = _status_or_none(coordinator_addr, coordinator_port)
            return found if found and any(d["alive"] for d in found["daemons"]) else None

        info = _wait(has_daemon, "daemon")
        click.echo(f"daemon {info['daemons'][0]['machine']} started")
    else:
        click.echo("coordinator and daemon already running")
    return 0


def _pid_file(port: int) -> Path:
    """The processes `up` started for the coordinator on ``port`` (so `down` waits for them)."""
    return _state_dir() / f"up-{port}.pids"


def _remember(port: int, pid: int) -> None:
    with open(_pid_file(port), "a", encoding="utf-8") as f:
        f.write(f"{pid}\n")


def _running_of_up(port: int) -> list[int]:
    """The pids of `up`'s processes for ``port`` that still run (a reused pid is not ours: its
    command line must be dora-ros's)."""
    try:
        text = _pid_file(port).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    alive = []
    for pid in {int(x) for x in text.split() if x.isdigit()}:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if b"dora_ros" in cmdline and state != "Z":
            alive.append(pid)
    return sorted(alive)


def _wait(probe: Callable[[], dict[str, Any] | None], what: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.2)
    raise ClusterError(f"up: the {what} did not come up within 15 s (see {_state_dir()})")


@click.command()
@click.option("--force", is_flag=True, help="Stop running dataflows first.")
@_coordinator_options
def down(force: bool, coordinator_addr: str, coordinator_port: int) -> int:
    """Stop the coordinator and its daemons (refused while dataflows run, unless --force).

    \b
    Example:
      dora-ros down --force
    """
    rows = _ask(coordinator_addr, coordinator_port, "list", {})["dataflows"]
    running = [r for r in rows if r["status"] == "running"]
    if running and not force:
        names = ", ".join(f"{r['uuid']}" + (f" ({r['name']})" if r["name"] else "")
                          for r in running)  # fmt: skip
        raise ClusterError(f"down: dataflows are running: {names}; stop them first, or"
                           " `dora-ros down --force`")  # fmt: skip
    if running:
        stop.main(["--all", "--force", "--coordinator-addr", coordinator_addr,
                   "--coordinator-port", str(coordinator_port)], standalone_mode=False)  # fmt: skip
    _ask(coordinator_addr, coordinator_port, "destroy", {})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _status_or_none(coordinator_addr, coordinator_port):
        time.sleep(0.2)
    # "stopped" only once they exited: the processes `up` started here (their pids), and the
    # coordinator no longer answering.
    deadline = time.monotonic() + 15
    while (left := _running_of_up(coordinator_port)) and time.monotonic() < deadline:
        time.sleep(0.1)
    if left:
        raise ClusterError(f"down: asked to stop, but process(es) {', '.join(map(str, left))}"
                           f" still run after 15 s (logs in {_state_dir()})")  # fmt: skip
    if _status_or_none(coordinator_addr, coordinator_port) is not None:
        raise ClusterError("down: asked to stop, but the coordinator at"
                           f" {coordinator_endpoint(coordinator_addr, coordinator_port)} still"
                           " answers")  # fmt: skip
    _pid_file(coordinator_port).unlink(missing_ok=True)
    click.echo("coordinator and daemons stopped")
    return 0
