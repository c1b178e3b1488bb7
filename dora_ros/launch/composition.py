"""Loading components into containers: resolved components, and the `LoadNode` calls.

`ComponentSpec` is a component as it will be asked for (everything performed); a
`LoadComponents` step asks one container (by fully qualified name) to load several, in order,
through `<container>/_container/load_node` (`composition_interfaces/srv/LoadNode`), and the
executor unloads them (`unload_node`) when the launch shuts down.

Two transports, picked once per launch: rclpy when `composition_interfaces` is importable (a ROS 2
installation), else dora-ros's own DDS service layer (:mod:`.dds_service`), which needs the
package's `.srv` files (installed, or on `DORA_ROS_MSG_PATH`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from .errors import LaunchError, LaunchFileError, Location, NotFoundError
from .ros_args import parameter_type

if TYPE_CHECKING:
    from .context import LaunchContext

__all__ = [
    "ComponentLoader",
    "ComponentSpec",
    "LoadComponents",
    "LoadResult",
    "flatten_parameters",
]

SERVICE_WAIT_S = 30.0
CALL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ComponentSpec:
    package: str
    plugin: str
    node_name: str  # "" lets the component pick its default
    namespace: str
    remap_rules: tuple[str, ...]
    parameters: tuple[tuple[str, Any], ...]
    extra_arguments: tuple[tuple[str, Any], ...]
    location: Location | None = None

    def describe(self) -> str:
        name = f" as {self.namespace.rstrip('/')}/{self.node_name}" if self.node_name else ""
        return f"{self.package}::{self.plugin}{name}"


@dataclass(frozen=True)
class LoadComponents:
    """Plan step: load `components` into `container` (a fully qualified node name)."""

    container: str
    components: tuple[ComponentSpec, ...]
    location: Location | None = None


@dataclass(frozen=True)
class LoadResult:
    success: bool
    full_node_name: str
    unique_id: int
    error_message: str


def _flatten(prefix: str, value: Any, out: list[tuple[str, Any]]) -> None:
    if isinstance(value, Mapping):
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), sub, out)
    else:
        out.append((prefix, value))


def _file_parameters(path: str, node_name: str, namespace: str) -> dict[str, Any]:
    """The parameters of a ROS 2 parameter file that apply to the node (`/**`, its names)."""
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    fqn = namespace.rstrip("/") + "/" + node_name
    wanted = {"/**", "**", fqn, fqn.lstrip("/"), node_name, f"/**/{node_name}"}
    out: dict[str, Any] = {}
    for key, section in data.items():
        if key in wanted and isinstance(section, Mapping):
            out.update(section.get("ros__parameters", {}) or {})
    return out


def flatten_parameters(
    context: LaunchContext, parameters: Sequence[Any], node_name: str, namespace: str
) -> list[tuple[str, Any]]:
    """(dotted name, value) pairs of parameter mappings, (name, value) tuples and files."""
    from .ros_args import ParameterFile, evaluate_parameter_value
    from .substitutions import normalize, perform

    out: list[tuple[str, Any]] = []
    for item in parameters:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            out.append((item[0], item[1]))
        elif isinstance(item, Mapping):
            values = evaluate_parameter_value(context, item)
            _flatten("", values, out)
        else:
            if isinstance(item, ParameterFile):
                path = item.evaluate(context)
            elif isinstance(item, (str, os.PathLike)):
                path = os.fspath(item)
            else:
                path = perform(context, normalize(item))
            try:
                _flatten("", _file_parameters(path, node_name, namespace), out)
            except OSError as err:
                raise NotFoundError(f"parameter file '{path}': {err.strerror}") from err
            except yaml.YAMLError as err:
                raise LaunchFileError(f"parameter file '{path}': not valid YAML") from err
    for name, value in out:
        parameter_type(name, value)
    return out


def _parameter_message(module: Any, name: str, value: Any) -> Any:
    """An rcl_interfaces/msg/Parameter (of `module`'s classes) for a Python value."""
    parameter = module.Parameter()
    parameter.name = name
    v = module.ParameterValue()
    v.type = parameter_type(name, value)
    field = {
        1: "bool_value",
        2: "integer_value",
        3: "double_value",
        4: "string_value",
        5: "byte_array_value",
        6: "bool_array_value",
        7: "integer_array_value",
        8: "double_array_value",
        9: "string_array_value",
    }[v.type]
    if v.type == 8:
        value = [float(x) for x in value]
    setattr(v, field, list(value) if isinstance(value, (list, tuple)) else value)
    parameter.value = v
    return parameter


class _DdsParameterModule:
    """rcl_interfaces Parameter/ParameterValue as the DDS layer's classes, built on demand."""

    def __init__(self, request_type: Any) -> None:
        self._request_type = request_type

    def Parameter(self) -> Any:
        parameter = _element_type(self._request_type.__annotations__["parameters"])
        return parameter(name="", value=self.ParameterValue())

    def ParameterValue(self) -> Any:
        parameter = _element_type(self._request_type.__annotations__["parameters"])
        return parameter.__annotations__["value"](
            type=0,
            bool_value=False,
            integer_value=0,
            double_value=0.0,
            string_value="",
            byte_array_value=[],
            bool_array_value=[],
            integer_array_value=[],
            double_array_value=[],
            string_array_value=[],
        )


def _element_type(sequence_hint: Any) -> Any:
    """The element class of a cyclonedds `sequence[T]` annotation."""
    subtype = getattr(sequence_hint, "__metadata__", None)
    if subtype:
        return subtype[0].subtype
    return sequence_hint.subtype


class ComponentLoader:
    """Calls `load_node` / `unload_node` of containers (blocking; run it in a thread)."""

    def __init__(self) -> None:
        self.stop = threading.Event()  # set at shutdown: waiting calls give up
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._rclpy: Any = None
        try:
            import composition_interfaces.srv as srv  # a ROS 2 installation
        except ImportError:
            self._srv = None
        else:
            self._srv = srv

    # -- transports ------------------------------------------------------------------------------
    def _client(self, service: str, kind: str) -> Any:
        with self._lock:
            key = f"{service}#{kind}"
            client = self._clients.get(key)
            if client is not None:
                return client
            if self._srv is not None:
                client = self._rclpy_client(service, kind)
            else:
                from .dds_service import DdsServiceClient

                client = DdsServiceClient(service, f"composition_interfaces/srv/{kind}")
            self._clients[key] = client
            return client

    def _rclpy_client(self, service: str, kind: str) -> Any:
        if self._rclpy is None:
            import rclpy
            from rclpy.executors import SingleThreadedExecutor
            from rclpy.signals import SignalHandlerOptions

            context = rclpy.Context()
            rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)
            node = rclpy.create_node(
                f"launch_components_{os.getpid()}", context=context, enable_rosout=False
            )
            executor = SingleThreadedExecutor(context=context)
            executor.add_node(node)
            thread = threading.Thread(
                target=lambda: _spin(context, executor), name="components", daemon=True
            )
            thread.start()
            self._rclpy = (context, node, executor, thread)
        return self._rclpy[1].create_client(getattr(self._srv, kind), service)

    def _call(self, service: str, kind: str, fill: Any) -> Any:
        client = self._client(service, kind)
        if self._srv is not None:
            request = getattr(self._srv, kind).Request()
            fill(request, _RclInterfaces())
            waited = 0.0
            while not client.wait_for_service(timeout_sec=0.2):
                waited += 0.2
                if self.stop.is_set() or waited >= SERVICE_WAIT_S:
                    raise LaunchError(f"service {service} not available")
            done = threading.Event()
            future = client.call_async(request)
            future.add_done_callback(lambda _: done.set())
            if not done.wait(CALL_TIMEOUT_S) or future.result() is None:
                raise LaunchError(f"service {service}: no reply within {CALL_TIMEOUT_S:g} s")
            return future.result()
        if not client.wait_for_service(SERVICE_WAIT_S, self.stop):
            raise LaunchError(f"service {service} not available")
        request = _blank(client.request_type)
        fill(request, _DdsParameterModule(client.request_type))
        return client.call(request, CALL_TIMEOUT_S, self.stop)

    # -- the calls -----------------------------------------------------------------------------
    def load(self, container: str, spec: ComponentSpec) -> LoadResult:
        def fill(request: Any, params: Any) -> None:
            request.package_name = spec.package
            request.plugin_name = spec.plugin
            request.node_name = spec.node_name
            request.node_namespace = spec.namespace
            request.log_level = 0
            request.remap_rules = list(spec.remap_rules)
            request.parameters = [_parameter_message(params, n, v) for n, v in spec.parameters]
            request.extra_arguments = [
                _parameter_message(params, n, v) for n, v in spec.extra_arguments
            ]

        response = self._call(f"{container.rstrip('/')}/_container/load_node", "LoadNode", fill)
        return LoadResult(
            bool(response.success),
            str(response.full_node_name),
            int(response.unique_id),
            str(response.error_message),
        )

    def unload(self, container: str, unique_id: int) -> bool:
        def fill(request: Any, _params: Any) -> None:
            request.unique_id = unique_id

        service = f"{container.rstrip('/')}/_container/unload_node"
        response = self._call(service, "UnloadNode", fill)
        return bool(response.success)

    def close(self) -> None:
        self.stop.set()
        with self._lock:
            clients, self._clients = self._clients, {}
        for client in clients.values():
            if hasattr(client, "close"):
                client.close()
        if self._rclpy is not None:
            import rclpy

            context, node, executor, thread = self._rclpy
            rclpy.try_shutdown(context=context)
            thread.join(timeout=5)
            executor.shutdown()
            node.destroy_node()


class _RclInterfaces:
    """rcl_interfaces's message classes, imported when the rclpy transport is used."""

    def __init__(self) -> None:
        from rcl_interfaces.msg import Parameter, ParameterValue

        self.Parameter = Parameter
        self.ParameterValue = ParameterValue


def _blank(request_type: Any) -> Any:
    """A request of the DDS layer with every field at its default."""
    import dataclasses

    values: dict[str, Any] = {}
    for f in dataclasses.fields(request_type):
        hint = str(f.type)
        values[f.name] = [] if "sequence" in hint else "" if "str" in hint else 0
    return request_type(**values)


def _spin(context: Any, executor: Any) -> None:
    from rclpy.executors import ExternalShutdownException

    try:
        while context.ok():
            executor.spin_once(timeout_sec=0.1)
    except ExternalShutdownException:
        pass
