"""Node kinds contributed by extensions, so the runtime never imports the bridge.

A node key such as ``ros2:`` is not handled by the runtime itself: whatever registers a
:class:`NodeKind` under that key validates the key's mapping, says which outputs the node has
without listing them, and gives the command that implements the node. Kinds come from the Python
entry point group ``dora_ros.node_kinds`` (name = the YAML key, value = the kind object), e.g.::

    [project.entry-points."dora_ros.node_kinds"]
    ros2 = "dora_ros.bridge.graph_node:NODE_KIND"

or, in-process (tests, embedding), from :func:`register_node_kind`, which takes precedence.

``validate`` and ``implied_*`` receive the key's mapping as parsed: a
:class:`~.descriptor_yaml.LineMap` (a ``dict``) whose ``line_of(key)`` gives the line of a nested
key, so a kind can point at the exact bad line. ``NodeSpec.extension`` keeps a plain copy.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .descriptor import Dataflow, NodeSpec, SourceLocation

__all__ = [
    "ENTRY_POINT_GROUP",
    "NodeKind",
    "find_node_kind",
    "node_kind_keys",
    "register_node_kind",
    "unregister_node_kind",
]

ENTRY_POINT_GROUP = "dora_ros.node_kinds"

_log = logging.getLogger(__name__)
_registry: dict[str, NodeKind] = {}
_loaded: dict[str, NodeKind | None] = {}  # entry points already imported (or found missing)


@runtime_checkable
class NodeKind(Protocol):
    """What an extension provides for one node key (e.g. ``ros2``)."""

    def validate(self, config: Mapping[str, Any], node_id: str, location: SourceLocation) -> None:
        """Check the key's mapping; raise DescriptorError naming file:line, node and the bad key."""

    def implied_outputs(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        """Outputs the node has without listing them (e.g. one per subscribed ROS topic)."""

    def implied_inputs(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        """Inputs the node expects without listing them (e.g. one per published ROS topic)."""

    def command(self, node: NodeSpec, dataflow: Dataflow) -> list[str]:
        """The argv of the process implementing the node (it then uses ``dora_ros.Node()``)."""


def register_node_kind(key: str, kind: NodeKind) -> None:
    """Handle node key ``key`` with ``kind`` in this process (overrides an entry point)."""
    _registry[key] = kind


def unregister_node_kind(key: str) -> None:
    """Undo :func:`register_node_kind` (no error when ``key`` is not registered)."""
    _registry.pop(key, None)


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def node_kind_keys() -> frozenset[str]:
    """Every key some kind is registered for (in-process or by entry point)."""
    return frozenset(_registry) | frozenset(_entry_points())


def find_node_kind(key: str) -> NodeKind | None:
    """The kind handling node key ``key``, or None when nothing registers for it.

    An entry point that fails to import is logged and treated as missing, so the user gets the
    descriptor's "needs an extension" error rather than a traceback.
    """
    kind = _registry.get(key)
    if kind is not None:
        return kind
    if key not in _loaded:
        point = _entry_points().get(key)
        loaded: NodeKind | None = None
        if point is not None:
            try:
                loaded = point.load()
            except Exception:  # a broken extension must not crash validation of other graphs
                _log.exception("cannot load dora-ros node kind %r from %s", key, point.value)
        _loaded[key] = loaded
    return _loaded[key]
