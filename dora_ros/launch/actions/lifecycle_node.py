"""`<lifecycle_node>` / `LifecycleNode` and `LifecycleTransition`: managed ROS 2 nodes.

A lifecycle node starts like a node; the launch follows its `transition_event`s (so
`OnStateTransition` handlers fire) and serves `ChangeState` events and `LifecycleTransition`
actions by calling its `change_state` service (:mod:`..lifecycle`). `autostart=True` configures
then activates it once it is up, as launch_ros does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..action import Action, register
from ..entity import to_bool
from ..errors import LaunchFileError
from ..lifecycle import LifecycleRequest, LifecycleWatch
from ..substitutions import normalize, perform
from .execute_process import ExecuteProcess
from .node import Node
from .push_ros_namespace import join_namespace

if TYPE_CHECKING:
    from ..context import LaunchContext
    from ..entity import Entity
    from ..frontend import FrontendParser

__all__ = ["LifecycleNode", "LifecycleTransition"]

_CONFIGURE, _ACTIVATE = 1, 3


@register("lifecycle_node", "lifecycle-node")
class LifecycleNode(Node):
    def __init__(
        self, *, name: Any = None, namespace: Any = None, autostart: Any = False, **kwargs: Any
    ) -> None:
        super().__init__(name=name, namespace=namespace, **kwargs)
        if self.node_name is None or self.node_namespace is None:
            raise LaunchFileError(
                "LifecycleNode needs 'name' and 'namespace' (as in ROS 2)", self.location
            )
        self.autostart = autostart if isinstance(autostart, bool) else normalize(autostart)

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> ExecuteProcess:
        autostart = entity.get_attr("autostart", optional=True)
        node = super().parse(entity, parser)
        assert isinstance(node, LifecycleNode)
        if autostart is not None:
            node.autostart = parser.parse_substitution(autostart)
        return node

    def fully_qualified_name(self, context: LaunchContext) -> str:
        name = perform(context, self.node_name)
        namespace = join_namespace(context.ros_namespace, perform(context, self.node_namespace))
        return (namespace or "").rstrip("/") + "/" + name

    def execute(self, context: LaunchContext) -> Iterable[Any] | None:
        fqn = self.fully_qualified_name(context)
        autostart = self.autostart
        if not isinstance(autostart, bool):
            text = perform(context, autostart)
            parsed = to_bool(text)
            if parsed is None:
                raise LaunchFileError(f"autostart must be true or false, got '{text}'")
            autostart = parsed
        context.shared.lifecycle_nodes.append((self, fqn))
        context.emit(LifecycleWatch(fqn, self))
        super().execute(context)
        if autostart:
            context.emit(LifecycleRequest(fqn, (_CONFIGURE, _ACTIVATE)))
        return None


class LifecycleTransition(Action):
    """Ask the named lifecycle nodes for `transition_ids`, in order."""

    def __init__(
        self, *, lifecycle_node_names: Iterable[Any], transition_ids: Iterable[Any], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.names = [normalize(n) for n in lifecycle_node_names]
        self.transition_ids = [int(t) for t in transition_ids]

    def execute(self, context: LaunchContext) -> None:
        for name in self.names:
            fqn = "/" + perform(context, name).lstrip("/")
            context.emit(LifecycleRequest(fqn, tuple(self.transition_ids)))
