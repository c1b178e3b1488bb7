"""The exceptions dora-ros raises on purpose.

Every error a user can fix derives from :class:`DoraRosError`. The CLI prints one as a single line
and exits non-zero; any other exception reaching the CLI is a bug in dora-ros.
"""

from __future__ import annotations

__all__ = [
    "BridgeError",
    "DescriptorError",
    "DoraRosError",
    "LaunchError",
    "MsgConvError",
    "NodeError",
]


class DoraRosError(Exception):
    """Root of every error dora-ros raises on purpose."""


class DescriptorError(DoraRosError):
    """A dataflow YAML file is malformed or inconsistent (raised by `dora-ros validate/run/build`)."""


class NodeError(DoraRosError):
    """A node used the node API wrongly (undeclared output, bad metadata, no runtime to talk to)."""


class MsgConvError(DoraRosError):
    """A ROS 2 interface type is unknown or a value does not convert between Arrow and CDR."""


class BridgeError(DoraRosError, RuntimeError):
    """The ROS 2 bridge cannot do what was asked (bad `ros2:` key, unsupported backend role, timeout).

    Also a `RuntimeError`: dora-rs's bridge raises `RuntimeError` for every failure (a parameter
    set to another type, a timeout, an unknown type), and code written for it catches that.
    """


class LaunchError(DoraRosError):
    """A launch file is bad or a launch cannot start (unknown package, tag, argument, substitution)."""
