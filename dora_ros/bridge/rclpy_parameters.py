"""Parameters on the rclpy backend: the node's ROS 2 parameters, served to `ros2 param`.

`RclpyParameters` is the parameter role (`roles.ParameterRole`) of `RclpyBackend`, which mixes it
in: the parameters are rclpy's own, on the backend's node, so rclpy serves them to other nodes.
"""

from __future__ import annotations

from typing import Any

from ..errors import BridgeError

__all__ = ["RclpyParameters"]


class RclpyParameters:
    """ROS 2 parameters of an rclpy node (`self.node`), with values as dora-rs gives them."""

    node: Any

    def set_parameter(self, name: str, value: Any) -> None:
        from rclpy.parameter import Parameter

        converted = _parameter_value(name, value)
        parameter = Parameter(name, value=converted)
        if not self.node.has_parameter(name):
            self.node.declare_parameter(name, converted)
            return
        result = self.node.set_parameters([parameter])[0]
        if not result.successful:
            raise BridgeError(f"parameter {name!r}: {result.reason}")

    def get_parameter(self, name: str) -> Any:
        if not self.node.has_parameter(name):
            return None
        parameter = self.node.get_parameter(name)
        value = parameter.value
        if parameter.type_ == parameter.Type.BYTE_ARRAY:
            return b"".join(value)
        if isinstance(value, (list, tuple)) or type(value).__name__ == "array":
            return list(value)
        return value

    def list_parameters(self) -> list[str]:
        # rclpy declares `start_type_description_service` (Jazzy+) on every node for its own
        # machinery; dora-rs's nodes do not have it, and code listing parameters should not see it.
        names = self.node.list_parameters([], 0).names
        return sorted(n for n in names if n not in _INTERNAL_PARAMETERS)

    def has_parameter(self, name: str) -> bool:
        return bool(self.node.has_parameter(name))


#: Parameters rclpy declares for its own use, not shown by `list_parameters` (`use_sim_time` is
#: shown: dora-rs lists it too, and it is the user's to set).
_INTERNAL_PARAMETERS = frozenset({"start_type_description_service"})


def _parameter_value(name: str, value: Any) -> Any:
    """A Python value as rclpy's Parameter accepts it (bytes become a byte array)."""
    if isinstance(value, (bytes, bytearray)):
        return [bytes([b]) for b in value]
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        items = list(value)
        kinds = {type(v) for v in items}
        if len(kinds) <= 1 and kinds <= {bool, int, float, str}:
            return items
        if kinds == {int, float}:
            return [float(v) for v in items]
    raise BridgeError(
        f"parameter {name!r}: {value!r} is not a ROS 2 parameter value "
        "(bool, int, float, str, bytes, or a list of one of bool/int/float/str)"
    )
