"""Composable nodes: not supported yet, a clear error where they are used."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..action import Action, caller_location, register
from ..errors import LaunchFileError

if TYPE_CHECKING:
    from ..entity import Entity
    from ..frontend import FrontendParser


class _NotYet(Action):
    supported = False  # left out of the "supported:" list of the unknown-tag error

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise LaunchFileError(
            f"{type(self).__name__} is not supported yet by dora-ros launch (composable nodes)",
            caller_location(),
        )

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        raise entity.error(
            f"<{entity.type_name}> ({cls.__name__}) is not supported yet by dora-ros launch "
            "(composable nodes)"
        )


@register("node_container", "node-container")
class ComposableNodeContainer(_NotYet):
    pass


@register("load_composable_node", "load-composable-node")
class LoadComposableNodes(_NotYet):
    pass


class ComposableNode(_NotYet):
    pass
