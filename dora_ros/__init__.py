"""dora-ros: a Python dataflow runtime for robots that speaks ROS 2 natively.

The public facade. `from dora_ros import Node` gives the node API, with the names and behaviour of
dora-rs's Python API. Imports are lazy so that `dora-ros --help` stays instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import DoraRosError as DoraRosError

if TYPE_CHECKING:
    from .runtime.node import Node as Node

__all__ = ["DoraRosError", "Node"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "Node":
        from .runtime.node import Node

        return Node
    raise AttributeError(f"module 'dora_ros' has no attribute {name!r}")
