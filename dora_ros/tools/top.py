"""``dora-ros top`` (and ``inspect top``): CPU, memory, messages in/out per second and drops per
node of the running dataflows, refreshed live on a terminal.

The figures come from each dataflow's supervisors (the ``nodes`` verb, ``cluster/node_verbs.py``):
CPU and memory sampled from /proc every second, message counts from the ``stats`` records nodes
send every second. On a terminal the table is redrawn every ``--refresh-interval`` seconds until
Ctrl-C; into a pipe or a file one table is printed; ``--once`` prints one JSON snapshot, as
dora-rs 1.1.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from ..cluster.zenoh_config import ClusterError
from .dataflows import dataflow_options
from .node_cmd import all_node_rows, format_bytes, format_cpu, table

__all__ = ["inspect", "top"]

HEADER = ("NODE", "STATUS", "DATAFLOW", "MACHINE", "PID", "CPU", "MEMORY", "IN/S", "OUT/S",
          "DROPPED", "RESTARTS")  # fmt: skip
_HOME_CLEAR = "\x1b[H\x1b[2J"


def snapshot(dataflow: str | None, addr: str, port: int) -> list[dict[str, Any]]:
    """Every node row of the running dataflows (or of one), with its dataflow's name and id."""
    found = all_node_rows(dataflow, addr, port)
    return [{**row, "dataflow": ref.name or ref.id, "uuid": ref.id} for ref, row in found]


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def render(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no node is running"
    cells = [HEADER]
    for row in rows:
        cells.append((
            row["node"], row["status"], row["dataflow"], row["machine"],
            "-" if row["pid"] is None else str(row["pid"]), format_cpu(row["cpu"]),
            format_bytes(row["memory"]), _rate(row["in_per_s"]), _rate(row["out_per_s"]),
            str(row["dropped"] + row["send_dropped"]), str(row["restarts"]),
        ))  # fmt: skip
    return table(cells)


def _top(dataflow: str | None, refresh_interval: float, once: bool, addr: str, port: int) -> int:
    if once:
        click.echo(json.dumps(snapshot(dataflow, addr, port), indent=2))
        return 0
    if not sys.stdout.isatty():
        click.echo(render(snapshot(dataflow, addr, port)))
        return 0
    try:
        while True:
            started = time.monotonic()
            try:
                rows = snapshot(dataflow, addr, port)
                body = render(rows)
            except ClusterError as err:  # e.g. the dataflow ended: say so, keep watching
                rows, body = [], f"error: {err}"
            title = (f"dora-ros top: {len(rows)} node(s), every {refresh_interval:g} s"
                     f" ({time.strftime('%H:%M:%S')}; Ctrl-C quits)")  # fmt: skip
            sys.stdout.write(f"{_HOME_CLEAR}{title}\n\n{body}\n")
            sys.stdout.flush()
            time.sleep(max(0.0, refresh_interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        return 0


def _options(func: Any) -> Any:
    func = click.option("--once", is_flag=True,
                        help="Print one JSON snapshot and exit (for scripts and CI).")(func)  # fmt: skip
    func = click.option("--refresh-interval", type=click.FloatRange(min=0.2), default=2.0,
                        show_default=True, metavar="SECONDS",
                        help="Seconds between two refreshes.")(func)  # fmt: skip
    return dataflow_options(func)


@click.command()
@_options
def top(dataflow: str | None, refresh_interval: float, once: bool, coordinator_addr: str,
        coordinator_port: int) -> int:  # fmt: skip
    """Per node CPU, memory, messages in/out per second and drops, refreshed live.

    On a terminal it redraws until Ctrl-C; into a pipe it prints one table. Shortcut for
    `dora-ros inspect top`.

    \b
    Examples:
      dora-ros top
      dora-ros top --dataflow my-dataflow --refresh-interval 1
      dora-ros top --once > snapshot.json
    """
    return _top(dataflow, refresh_interval, once, coordinator_addr, coordinator_port)


@click.group()
def inspect() -> None:
    """Inspect running dataflows in real time (`inspect top`)."""


@inspect.command("top")
@_options
def inspect_top(dataflow: str | None, refresh_interval: float, once: bool, coordinator_addr: str,
                coordinator_port: int) -> int:  # fmt: skip
    """Per node CPU, memory, messages in/out per second and drops, refreshed live.

    \b
    Examples:
      dora-ros inspect top
      dora-ros inspect top --once
    """
    return _top(dataflow, refresh_interval, once, coordinator_addr, coordinator_port)
