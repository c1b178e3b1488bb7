"""Composable nodes: `ComposableNode` descriptions, `ComposableNodeContainer` (`<node_container>`)
and `LoadComposableNodes` (`<load_composable_node target=>`), as launch_ros has them.

The container is a node process; each component is resolved when the action is visited (name,
namespace, remaps, parameters, extra arguments) into a :class:`..composition.ComponentSpec`, and
a `LoadComponents` step asks the container to load them through its
`composition_interfaces/srv/LoadNode` service once it is up (:mod:`..composition`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..action import Action, caller_location, register
from ..composition import ComponentSpec, LoadComponents, flatten_parameters
from ..entity import ENTITIES
from ..errors import LaunchFileError, _LocatedError
from ..frontend_params import parse_parameters
from ..substitutions import normalize, perform
from .execute_process import ExecuteProcess
from .node import Node
from .push_ros_namespace import join_namespace

if TYPE_CHECKING:
    from ..conditions import Condition
    from ..context import LaunchContext
    from ..entity import Entity
    from ..frontend import FrontendParser

__all__ = ["ComposableNode", "ComposableNodeContainer", "LoadComposableNodes"]


class ComposableNode:
    """A component to load into a container (launch_ros.descriptions.ComposableNode)."""

    def __init__(
        self,
        *,
        package: Any,
        plugin: Any,
        name: Any = None,
        namespace: Any = None,
        parameters: list[Any] | None = None,
        remappings: Iterable[tuple[Any, Any]] | None = None,
        extra_arguments: list[Any] | None = None,
        condition: Condition | None = None,
    ) -> None:
        self.package = normalize(package)
        self.plugin = normalize(plugin)
        self.name = None if name is None else normalize(name)
        self.namespace = None if namespace is None else normalize(namespace)
        self.parameters = list(parameters or [])
        self.remappings = list(remappings or [])
        self.extra_arguments = list(extra_arguments or [])
        self.condition = condition
        self.location = caller_location()

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> ComposableNode:
        kwargs: dict[str, Any] = dict(Action.parse_common(entity, parser))
        kwargs["package"] = parser.parse_substitution(entity.get_attr("pkg"))
        kwargs["plugin"] = parser.parse_substitution(entity.get_attr("plugin"))
        for attr in ("name", "namespace"):
            value = entity.get_attr(attr, optional=True)
            if value is not None:
                kwargs[attr] = parser.parse_substitution(value)
        params = entity.get_attr("param", data_type=ENTITIES, optional=True)
        if params is not None:
            kwargs["parameters"] = parse_parameters(params, parser)
        remaps = entity.get_attr("remap", data_type=ENTITIES, optional=True) or []
        kwargs["remappings"] = [
            (
                parser.parse_substitution(r.get_attr("from")),
                parser.finish(r, parser.parse_substitution(r.get_attr("to"))),
            )
            for r in remaps
        ]
        extra = entity.get_attr("extra_arg", data_type=ENTITIES, optional=True) or []
        kwargs["extra_arguments"] = [
            {e.get_attr("name"): parser.finish(e, parser.parse_substitution(e.get_attr("value")))}
            for e in extra
        ]
        description = cls(**kwargs)
        description.location = entity.location
        parser.finish(entity, None)
        return description

    def resolve(self, context: LaunchContext) -> ComponentSpec | None:
        """Performed for the current scope; None when its condition is false."""
        if self.condition is not None and not self.condition.evaluate(context):
            return None
        name = None if self.name is None else perform(context, self.name)
        own_ns = None if self.namespace is None else perform(context, self.namespace)
        namespace = join_namespace(context.ros_namespace, own_ns) or "/"
        remaps = [f"{s}:={d}" for s, d in context.ros_remaps]
        remaps += [f"{perform(context, s)}:={perform(context, d)}" for s, d in self.remappings]
        fqn_name = name or ""
        parameters = flatten_parameters(
            context, [*context.global_params, *self.parameters], fqn_name, namespace
        )
        extra = flatten_parameters(context, self.extra_arguments, fqn_name, namespace)
        return ComponentSpec(
            package=perform(context, self.package),
            plugin=perform(context, self.plugin),
            node_name=name or "",
            namespace=namespace,
            remap_rules=tuple(remaps),
            parameters=tuple(parameters),
            extra_arguments=tuple(extra),
            location=self.location,
        )


def _parse_components(entity: Entity, parser: FrontendParser) -> list[ComposableNode]:
    children = entity.get_attr("composable_node", data_type=ENTITIES, optional=True) or []
    return [ComposableNode.parse(child, parser) for child in children]


def _load_step(
    context: LaunchContext, descriptions: list[ComposableNode], container: str, where: Any
) -> LoadComponents | None:
    specs: list[ComponentSpec] = []
    for description in descriptions:
        try:
            spec = description.resolve(context)
        except _LocatedError as err:
            raise err.at(description.location) from None
        if spec is not None:
            specs.append(spec)
    return LoadComponents(container, tuple(specs), where) if specs else None


@register("node_container", "node-container")
class ComposableNodeContainer(Node):
    """A container process (`rclcpp_components/component_container` usually) and its
    components, loaded once it serves `~/_container/load_node`."""

    def __init__(
        self,
        *,
        name: Any = None,
        namespace: Any = None,
        composable_node_descriptions: list[ComposableNode] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, namespace=namespace, **kwargs)
        if self.node_name is None or self.node_namespace is None:
            raise LaunchFileError(
                "ComposableNodeContainer needs 'name' and 'namespace' (as in ROS 2)", self.location
            )
        self.composable_node_descriptions = list(composable_node_descriptions or [])

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> ExecuteProcess:
        components = _parse_components(entity, parser)
        node = super().parse(entity, parser)
        assert isinstance(node, ComposableNodeContainer)
        node.composable_node_descriptions = components
        return node

    def fully_qualified_name(self, context: LaunchContext) -> str:
        name = perform(context, self.node_name)
        namespace = join_namespace(context.ros_namespace, perform(context, self.node_namespace))
        return (namespace or "").rstrip("/") + "/" + name

    def execute(self, context: LaunchContext) -> Iterable[Any] | None:
        fqn = self.fully_qualified_name(context)
        super().execute(context)
        context.shared.containers.append((self, fqn))
        step = _load_step(context, self.composable_node_descriptions, fqn, self.location)
        if step is not None:
            context.emit(step)
        return None


@register("load_composable_node", "load-composable-node")
class LoadComposableNodes(Action):
    """Load components into a container started by this launch or already running."""

    def __init__(
        self,
        *,
        composable_node_descriptions: list[ComposableNode],
        target_container: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.composable_node_descriptions = list(composable_node_descriptions)
        self.target_container = target_container

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        kwargs = cls.parse_common(entity, parser)
        kwargs["target_container"] = parser.parse_substitution(entity.get_attr("target"))
        kwargs["composable_node_descriptions"] = _parse_components(entity, parser)
        return cls(**kwargs)

    def execute(self, context: LaunchContext) -> None:
        target = self.target_container
        if isinstance(target, ComposableNodeContainer):
            matches = [fqn for action, fqn in context.shared.containers if action is target]
            if not matches:
                raise LaunchFileError(
                    "LoadComposableNodes: its target container has not been started by then"
                )
            fqn = matches[-1]
        else:
            text = perform(context, normalize(target))
            joined = text if text.startswith("/") else join_namespace(context.ros_namespace, text)
            fqn = joined or "/" + text
        step = _load_step(context, self.composable_node_descriptions, fqn, self.location)
        if step is not None:
            context.emit(step)
