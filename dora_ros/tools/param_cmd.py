"""``dora-ros param list|get|set|delete``: a running node's parameters, as dora-rs 1.1.

Parameters are JSON values kept per node by the node's supervisor (``cluster/node_verbs.py``).
``set`` and ``delete`` reach the node as a PARAM_UPDATE event (``id``: the key, ``value``: the
JSON value as Python data) or a PARAM_DELETED event (``id``: the key); a restarted node receives
PARAM_UPDATE for every parameter set so far.
"""

from __future__ import annotations

import json
from typing import Any

import click

from ..cluster.zenoh_config import ClusterError
from .dataflows import DataflowClient, dataflow_options

__all__ = ["param"]


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _ask(verb: str, payload: dict[str, Any], dataflow: str | None, addr: str,
         port: int) -> dict[str, Any]:  # fmt: skip
    with DataflowClient.open(dataflow, addr, port) as client:
        return client.query(verb, payload, node=payload["node"])


@click.group()
def param() -> None:
    """Parameters of running nodes: list, get, set, delete (PARAM_UPDATE / PARAM_DELETED)."""


@param.command("list")
@click.argument("node_id", metavar="NODE")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="`json`: one JSON document.")  # fmt: skip
@dataflow_options
def param_list(node_id: str, fmt: str, dataflow: str | None, coordinator_addr: str,
               coordinator_port: int) -> int:  # fmt: skip
    """List the parameters of a node.

    \b
    Examples:
      dora-ros param list camera
      dora-ros param list camera --dataflow my-dataflow --format json
    """
    params = _ask("params", {"node": node_id}, dataflow, coordinator_addr, coordinator_port)
    values: dict[str, Any] = params["params"]
    if fmt == "json":
        click.echo(json.dumps(values, indent=2))
    elif not values:
        click.echo(f"No parameters set for node `{node_id}`")
    else:
        click.echo(f"Parameters for node `{node_id}`:")
        for key, value in values.items():
            click.echo(f"  {key} = {_json(value)}")
    return 0


@param.command("get")
@click.argument("node_id", metavar="NODE")
@click.argument("key")
@dataflow_options
def param_get(node_id: str, key: str, dataflow: str | None, coordinator_addr: str,
              coordinator_port: int) -> int:  # fmt: skip
    """Print a parameter's value (JSON).

    \b
    Example:
      dora-ros param get camera fps
    """
    answer = _ask("param_get", {"node": node_id, "key": key}, dataflow, coordinator_addr,
                  coordinator_port)  # fmt: skip
    click.echo(_json(answer["value"]))
    return 0


@param.command("set")
@click.argument("node_id", metavar="NODE")
@click.argument("key")
@click.argument("value")
@dataflow_options
def param_set(node_id: str, key: str, value: str, dataflow: str | None, coordinator_addr: str,
              coordinator_port: int) -> int:  # fmt: skip
    """Set a parameter to a JSON value; the node gets a PARAM_UPDATE event.

    \b
    Examples:
      dora-ros param set camera fps 30
      dora-ros param set camera roi '{"x": 0, "y": 0, "w": 640, "h": 480}'
      dora-ros param set camera mode '"night"'
    """
    try:
        parsed = json.loads(value)
    except ValueError as err:
        raise ClusterError(f"value {value!r}: invalid JSON value ({err}); a string needs"
                           " quotes: '\"text\"'") from err  # fmt: skip
    _ask("param_set", {"node": node_id, "key": key, "value": parsed}, dataflow,
         coordinator_addr, coordinator_port)  # fmt: skip
    click.echo(f"Set `{key}` = {_json(parsed)} on node `{node_id}`")
    return 0


@param.command("delete")
@click.argument("node_id", metavar="NODE")
@click.argument("key")
@dataflow_options
def param_delete(node_id: str, key: str, dataflow: str | None, coordinator_addr: str,
                 coordinator_port: int) -> int:  # fmt: skip
    """Delete a parameter; the node gets a PARAM_DELETED event.

    \b
    Example:
      dora-ros param delete camera fps
    """
    _ask("param_delete", {"node": node_id, "key": key}, dataflow, coordinator_addr,
         coordinator_port)  # fmt: skip
    click.echo(f"Deleted `{key}` from node `{node_id}`")
    return 0
