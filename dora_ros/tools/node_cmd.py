"""``dora-ros node list|info|restart|stop``: the nodes of running dataflows, as dora-rs 1.1.

One command for dataflows started with ``dora-ros run`` and with ``dora-ros start``: the dataflow
is found by ``tools/dataflows.py`` and its supervisors answer the ``nodes``, ``node_restart`` and
``node_stop`` verbs of the dataflow API (``cluster/node_verbs.py``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click
from click.core import ParameterSource

from ..cluster.commands import check_coordinator
from ..cluster.dataflow_api import registry_entries
from ..cluster.zenoh_config import ClusterError
from .dataflows import DataflowClient, DataflowRef, dataflow_options, running_refs

__all__ = ["node"]


def format_bytes(value: int | None) -> str:
    if value is None:
        return "-"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value} B"


def format_cpu(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def table(rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell (two spaces apart), as dora-rs's tab writer."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def all_node_rows(dataflow: str | None, addr: str,
                  port: int) -> list[tuple[DataflowRef, dict[str, Any]]]:  # fmt: skip
    """(dataflow, row) of every node of the running dataflows, or of ``dataflow``. Without
    ``-d``, a dataflow that ends between the listing and its answer is left out, not an error."""
    found = []
    for ref in running_refs(dataflow, addr, port):
        try:
            with DataflowClient.connect(ref) as client:
                found += [(ref, row) for row in node_rows(client)]
        except ClusterError:
            if dataflow is not None:
                raise
    return found


def node_rows(client: DataflowClient, node: str | None = None) -> list[dict[str, Any]]:
    """The ``nodes`` rows of every machine of the dataflow (or of the machine of ``node``)."""
    if node is not None:
        return list(client.query("nodes", {"node": node}, node=node)["nodes"])
    rows = []
    for _, answer in sorted(client.query_all("nodes", {}).items()):
        rows.extend(answer["nodes"])
    return rows


@click.group()
def node() -> None:
    """Nodes of running dataflows (started with `run` or `start`): list, info, restart, stop."""


@node.command("list")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="`json`: one object per line.")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="Only the node ids, one per line.")
@dataflow_options
def node_list(dataflow: str | None, fmt: str, quiet: bool, coordinator_addr: str,
              coordinator_port: int) -> int:  # fmt: skip
    """List the nodes of running dataflows (or of one) with status, PID, CPU, memory, restarts.

    \b
    Examples:
      dora-ros node list
      dora-ros node list --dataflow my-dataflow --format json
    """
    if dataflow is None and _coordinator_named():
        # As dora-rs 1.1 (whose `node list` always asks its coordinator): a coordinator the
        # user named that does not answer is one line and status 1, unless local runs answer.
        try:
            check_coordinator(coordinator_addr, coordinator_port)
        except ClusterError as err:
            if not registry_entries():
                raise
            click.echo(f"warning: {err}; listing the `dora-ros run` dataflows only", err=True)
    entries = []
    for ref, row in all_node_rows(dataflow, coordinator_addr, coordinator_port):
        entry = {
            "node": row["node"], "status": row["status"],
            "pid": "-" if row["pid"] is None else str(row["pid"]),
            "cpu": format_cpu(row["cpu"]), "memory": format_bytes(row["memory"]),
            "restarts": str(row["restarts"]), "machine": row["machine"],
        }  # fmt: skip
        if dataflow is None:
            entry["dataflow"] = ref.name or ref.id
        entries.append(entry)
    if quiet:
        for entry in entries:
            click.echo(entry["node"])
    elif fmt == "json":
        for entry in entries:
            click.echo(json.dumps(entry))
    elif entries:
        header = tuple(k.upper() for k in entries[0])
        click.echo(table([header, *(tuple(e.values()) for e in entries)]))
    elif dataflow is None:
        click.echo("no dataflow is running")
    else:
        click.echo("no node is running")
    return 0


def _coordinator_named() -> bool:
    """Whether the user gave the coordinator's address or port (option or environment)."""
    context = click.get_current_context()
    return any(
        context.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)
        for name in ("coordinator_addr", "coordinator_port")
    )


@node.command("info")
@click.argument("node_id", metavar="NODE")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="`json`: one JSON document.")  # fmt: skip
@dataflow_options
def node_info(node_id: str, dataflow: str | None, fmt: str, coordinator_addr: str,
              coordinator_port: int) -> int:  # fmt: skip
    """Show a node: inputs (queue sizes, drops), outputs, restart policy and runtime metrics.

    \b
    Examples:
      dora-ros node info camera
      dora-ros node info camera --dataflow my-dataflow --format json
    """
    with DataflowClient.open(dataflow, coordinator_addr, coordinator_port) as client:
        (row,) = node_rows(client, node_id)
        ref = client.ref
    row = {"node_id": row.pop("node"), "dataflow": ref.name or ref.id, "uuid": ref.id, **row}
    if fmt == "json":
        click.echo(json.dumps(row, indent=2))
        return 0
    click.echo(_info_text(row))
    return 0


def _info_text(row: dict[str, Any]) -> str:
    lines = [f"Node: {row['node_id']}", f"Dataflow: {row['dataflow']} ({row['uuid']})",
             f"Machine: {row['machine']}"]  # fmt: skip
    if row.get("path"):
        lines.append(f"Path: {row['path']}")
    limit = "unlimited" if row["max_restarts"] is None else str(row["max_restarts"])
    lines += ["", "Restart Policy:", f"  Policy: {row['restart_policy']}",
              f"  Max restarts: {limit}", "", "Inputs:"]  # fmt: skip
    if not row["inputs"]:
        lines.append("  <none>")
    else:
        cells = [("  ID", "SOURCE", "QUEUE", "QUEUED", "RECEIVED", "DROPPED")]
        cells += [(f"  {i['id']}", f"<- {i['source']}", str(i["queue_size"]), str(i["queued"]),
                   str(i["received"]), str(i["dropped"])) for i in row["inputs"]]  # fmt: skip
        lines.append(table(cells))
    lines += ["", "Outputs:"]
    if not row["outputs"]:
        lines.append("  <none>")
    for out in row["outputs"]:
        to = ", ".join(out["subscribers"]) or "(no subscribers)"
        lines.append(f"  {out['id']} -> {to}  (sent {out['sent']})")
    lines += ["", "Runtime Metrics:"]
    metrics = [
        ("  Status:", row["status"]),
        ("  PID:", "-" if row["pid"] is None else str(row["pid"])),
        ("  CPU:", format_cpu(row["cpu"])),
        ("  Memory:", format_bytes(row["memory"])),
        ("  Restarts:", str(row["restarts"])),
        ("  Messages in/s:", "-" if row["in_per_s"] is None else f"{row['in_per_s']:g}"),
        ("  Messages out/s:", "-" if row["out_per_s"] is None else f"{row['out_per_s']:g}"),
        ("  Dropped (queues):", str(row["dropped"])),
        ("  Dropped (sending):", str(row["send_dropped"])),
    ]
    if row.get("failure"):
        metrics.append(("  Failure:", row["failure"]))
    lines.append(table(metrics))
    return "\n".join(lines)


def _end(verb: str, node_id: str, dataflow: str | None, grace: str | None, addr: str,
         port: int) -> dict[str, Any]:  # fmt: skip
    from ..runtime.commands import parse_duration

    payload: dict[str, Any] = {"node": node_id}
    if grace is not None:
        try:
            payload["grace"] = parse_duration(grace)
        except ValueError as err:
            raise ClusterError(f"--grace: {err}") from err
    with DataflowClient.open(dataflow, addr, port) as client:
        return client.query(verb, payload, node=node_id)


@node.command("restart")
@click.argument("node_id", metavar="NODE")
@click.option("--grace", default=None, metavar="DURATION",
              help="Wait this long after STOP before SIGTERM (default 5s).")  # fmt: skip
@dataflow_options
def node_restart(node_id: str, dataflow: str | None, grace: str | None, coordinator_addr: str,
                 coordinator_port: int) -> int:  # fmt: skip
    """Restart one node (STOP, then SIGTERM after the grace period); its restart count goes up.

    \b
    Examples:
      dora-ros node restart camera
      dora-ros node restart camera --grace 30s --dataflow my-dataflow
    """
    _end("node_restart", node_id, dataflow, grace, coordinator_addr, coordinator_port)
    click.echo(f"Node `{node_id}` restart initiated")
    return 0


@node.command("stop")
@click.argument("node_id", metavar="NODE")
@click.option("--grace", default=None, metavar="DURATION",
              help="Wait this long after STOP before SIGTERM (default 5s).")  # fmt: skip
@dataflow_options
def node_stop(node_id: str, dataflow: str | None, grace: str | None, coordinator_addr: str,
              coordinator_port: int) -> int:  # fmt: skip
    """Stop one node for good (never restarted); its receivers see INPUT_CLOSED.

    \b
    Examples:
      dora-ros node stop camera
      dora-ros node stop camera --grace 30s --dataflow my-dataflow
    """
    _end("node_stop", node_id, dataflow, grace, coordinator_addr, coordinator_port)
    click.echo(f"Node `{node_id}` stopped")
    return 0
