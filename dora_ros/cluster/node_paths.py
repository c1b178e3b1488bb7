"""A dataflow's node paths, checked on the machine that runs the nodes (issue 14: "paths resolved
on that machine").

The CLI and the coordinator parse a graph with ``check_paths=False`` (its structure only); a
daemon, and the machine run it starts, resolve the paths of their own nodes here: a relative
``path`` of a Python node against the node's working folder on this machine (``deploy.working_dir``,
relative to the graph's folder, else the graph's folder), as dora-rs resolves a remote node's
path against its machine's working_dir; executables as ``dora-ros run`` finds them.
"""

from __future__ import annotations

import dataclasses
import os

from ..runtime.descriptor import Dataflow, resolve_executable
from ..runtime.supervisor import node_working_dir
from .zenoh_config import ClusterError

__all__ = ["resolve_here"]


def resolve_here(dataflow: Dataflow, machine: str, placement: dict[str, str]) -> Dataflow:
    """``dataflow`` with the paths of the nodes placed on ``machine`` found here; a missing one
    is a ``ClusterError`` of one line naming the node and the machine."""
    nodes = []
    for spec in dataflow.nodes:
        if placement.get(spec.id) != machine:
            nodes.append(spec)
            continue
        folder = node_working_dir(spec, dataflow)
        if not folder.is_dir():
            raise ClusterError(f"{spec.location}: node '{spec.id}': deploy working_dir"
                               f" '{folder}' is not a folder on machine {machine!r}")  # fmt: skip
        if spec.kind == "python" and spec.path is not None:
            found = (folder / os.path.expanduser(spec.path)).resolve()
            if not found.is_file():
                raise ClusterError(f"{spec.location}: node '{spec.id}': path '{spec.path}' does"
                                   f" not exist on machine {machine!r} (looked in"
                                   f" {found.parent})")  # fmt: skip
            spec = dataclasses.replace(spec, resolved_path=found)
        elif spec.kind == "executable":
            try:
                resolve_executable(spec, dataflow)
            except Exception as err:
                raise ClusterError(f"{err} on machine {machine!r}") from err
        nodes.append(spec)
    return dataclasses.replace(dataflow, nodes=tuple(nodes))
