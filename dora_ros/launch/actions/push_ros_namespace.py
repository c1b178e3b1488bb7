"""`<push-ros-namespace>` / `PushRosNamespace`: prefix the namespace of later nodes in scope."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..action import Action, register
from ..substitutions import normalize, perform

if TYPE_CHECKING:
    from ..context import LaunchContext
    from ..entity import Entity
    from ..frontend import FrontendParser


def join_namespace(base: str | None, namespace: str | None) -> str | None:
    """ROS 2's rule: an absolute namespace replaces the base, a relative one extends it."""
    if namespace is None or namespace == "":
        return base
    if namespace.startswith("/") or not base:
        joined = namespace
    else:
        joined = base.rstrip("/") + "/" + namespace
    joined = "/" + joined.strip("/")
    return joined


@register("push-ros-namespace", "push_ros_namespace")
class PushRosNamespace(Action):
    def __init__(self, namespace: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.namespace = normalize(namespace)

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        kwargs = cls.parse_common(entity, parser)
        return cls(parser.parse_substitution(entity.get_attr("namespace")), **kwargs)

    def execute(self, context: LaunchContext) -> None:
        context.ros_namespace = join_namespace(
            context.ros_namespace, perform(context, self.namespace)
        )


PushROSNamespace = PushRosNamespace  # the current spelling in launch_ros
