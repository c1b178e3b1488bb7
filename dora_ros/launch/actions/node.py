"""`<node>` / `launch_ros.actions.Node`: a ROS 2 executable of a package, with ROS arguments.

The command line is built as ROS 2 builds it (see :mod:`..ros_args`); the executable is
``<prefix>/lib/<pkg>/<exec>`` with the prefix from the ament index.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..action import register
from ..entity import ENTITIES
from ..errors import LaunchFileError, NotFoundError
from ..frontend_params import parse_parameters
from ..ros_args import RosArguments, evaluate_parameter_value
from ..substitutions import _package_prefix, perform
from .execute_process import CommandLine, ExecuteProcess, perform_command
from .push_ros_namespace import join_namespace

if TYPE_CHECKING:
    from ..context import LaunchContext
    from ..entity import Entity
    from ..frontend import FrontendParser

__all__ = ["Node", "evaluate_parameter_value", "find_executable_in_package"]


def find_executable_in_package(package: str, executable: str) -> str:
    """`<prefix>/lib/<package>/<executable>`, or NotFoundError saying where it looked."""
    folder = os.path.join(_package_prefix(package), "lib", package)
    path = os.path.join(folder, executable)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise NotFoundError(
            f"executable '{executable}' not found in package '{package}' ({folder})"
        )
    return path


@register("node")
class Node(ExecuteProcess):
    def __init__(
        self,
        *,
        executable: Any = None,
        package: Any = None,
        name: Any = None,
        namespace: Any = None,
        exec_name: Any = None,
        parameters: list[Any] | None = None,
        remappings: Iterable[tuple[Any, Any]] | None = None,
        ros_arguments: Any = None,
        arguments: Any = None,
        node_name: Any = None,
        node_executable: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(cmd=None, name=exec_name, **kwargs)
        self.package = package
        # `node_executable` / `node_name`: the spellings of ROS 2 before Foxy, still in old files.
        self.executable = executable if node_executable is None else node_executable
        if self.executable is None:
            raise LaunchFileError(f"{type(self).__name__} needs 'executable'", self.location)
        self.node_name = name if node_name is None else node_name
        self.node_namespace = namespace
        self.parameters = parameters
        self.remappings = list(remappings or [])
        self.ros_arguments = ros_arguments
        self.arguments = arguments

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> ExecuteProcess:
        kwargs = cls.parse_process(entity, parser)
        # In <node>, `name` (read above) is the ROS node name; the process name is `exec_name`.
        exec_name = entity.get_attr("exec_name", optional=True)
        if exec_name is not None:
            kwargs["exec_name"] = parser.parse_substitution(exec_name)
        package = entity.get_attr("pkg", optional=True)
        if package is not None:
            kwargs["package"] = parser.parse_substitution(package)
        kwargs["executable"] = parser.parse_substitution(entity.get_attr("exec"))
        namespace = entity.get_attr("namespace", optional=True)
        if namespace is not None:
            kwargs["namespace"] = parser.parse_substitution(namespace)
        args = entity.get_attr("args", optional=True)
        if args is not None:
            kwargs["arguments"] = CommandLine(parser.parse_substitution(args))
        ros_args = entity.get_attr("ros_args", optional=True)
        if ros_args is not None:
            kwargs["ros_arguments"] = CommandLine(parser.parse_substitution(ros_args))
        remaps = entity.get_attr("remap", data_type=ENTITIES, optional=True)
        if remaps is not None:
            kwargs["remappings"] = [
                (
                    parser.parse_substitution(r.get_attr("from")),
                    parser.finish(r, parser.parse_substitution(r.get_attr("to"))),
                )
                for r in remaps
            ]
        params = entity.get_attr("param", data_type=ENTITIES, optional=True)
        if params is not None:
            kwargs["parameters"] = parse_parameters(params, parser)
        return cls(**kwargs)

    def _ros(self, context: LaunchContext) -> RosArguments:
        name = None if self.node_name is None else perform(context, self.node_name)
        own_ns = None if self.node_namespace is None else perform(context, self.node_namespace)
        namespace = join_namespace(context.ros_namespace, own_ns)
        remaps = [*context.ros_remaps]
        remaps += [(perform(context, s), perform(context, d)) for s, d in self.remappings]
        return RosArguments.build(
            context,
            name=name,
            namespace=namespace,
            global_params=context.global_params,
            parameters=self.parameters or [],
            remappings=remaps,
        )

    def resolve_command(self, context: LaunchContext) -> list[str]:
        executable = perform(context, self.executable)
        if self.package is not None:
            path = find_executable_in_package(perform(context, self.package), executable)
        else:
            path = executable
        cmd = [path, *perform_command(context, self.arguments)]
        if self.ros_arguments is not None:
            cmd += ["--ros-args", *perform_command(context, self.ros_arguments)]
        self._resolved = self._ros(context)
        return cmd + self._resolved.argv()

    def process_base_name(self, context: LaunchContext, cmd: list[str]) -> str:
        if self.name is not None:
            return perform(context, self.name)
        return os.path.basename(perform(context, self.executable))

    def spec_extras(self, context: LaunchContext) -> dict[str, Any]:
        return {"ros_node": (self._resolved.name, self._resolved.namespace or "/")}
