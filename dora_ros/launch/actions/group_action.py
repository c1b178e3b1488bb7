"""`<group>` / `GroupAction`: actions sharing a scope (launch configurations, env, namespace)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..action import Action, register
from .set_launch_configuration import SetLaunchConfiguration

if TYPE_CHECKING:
    from ..context import LaunchContext
    from ..entity import Entity
    from ..frontend import FrontendParser


class _PushScope(Action):
    def __init__(self, forwarding: bool) -> None:
        super().__init__()
        self.forwarding = forwarding

    def execute(self, context: LaunchContext) -> None:
        context.push_scope(forwarding=self.forwarding)


class _PopScope(Action):
    def execute(self, context: LaunchContext) -> None:
        context.pop_scope()


@register("group")
class GroupAction(Action):
    def __init__(
        self,
        actions: Iterable[Any],
        *,
        scoped: bool = True,
        forwarding: bool = True,
        launch_configurations: Mapping[Any, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.actions = list(actions)
        self.scoped = scoped
        self.forwarding = forwarding
        self.launch_configurations = dict(launch_configurations or {})

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        kwargs = cls.parse_common(entity, parser)
        for attr in ("scoped", "forwarding"):
            value = entity.get_attr(attr, data_type=bool, optional=True)
            if value is not None:
                kwargs[attr] = value
        namespace = entity.get_attr("ns", optional=True) or entity.get_attr(
            "namespace", optional=True
        )
        actions = [parser.parse_action(child) for child in entity.children]
        if namespace is not None:
            from .push_ros_namespace import PushRosNamespace

            actions.insert(0, PushRosNamespace(parser.parse_substitution(namespace)))
        return cls(actions, **kwargs)

    def execute(self, context: LaunchContext) -> Iterable[Any]:
        sets = [SetLaunchConfiguration(k, v) for k, v in self.launch_configurations.items()]
        if not self.scoped:
            return [*sets, *self.actions]
        return [_PushScope(self.forwarding), *sets, *self.actions, _PopScope()]
