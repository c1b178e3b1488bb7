"""The ROS 2 bridge: dora nodes and real ROS 2 nodes exchanging topics, services and actions.

`from dora_ros.bridge import Ros2Context, Ros2NodeOptions, Ros2QosPolicies` gives the Python API
with the names and signatures of dora-rs 1.1's `dora.Ros2Context` & co. (see `docs/bridge.md`).
The YAML `ros2:` node kind lives in `graph_node.py`; DDS backends behind `backend.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .qos import Ros2Durability as Ros2Durability
from .qos import Ros2Liveliness as Ros2Liveliness
from .qos import Ros2QosPolicies as Ros2QosPolicies
from .ros2_transport import Ros2Transport as Ros2Transport

if TYPE_CHECKING:
    from .context import Ros2ActionClient as Ros2ActionClient
    from .context import Ros2ActionServer as Ros2ActionServer
    from .context import Ros2Context as Ros2Context
    from .context import Ros2Node as Ros2Node
    from .context import Ros2NodeOptions as Ros2NodeOptions
    from .context import Ros2Publisher as Ros2Publisher
    from .context import Ros2ServiceClient as Ros2ServiceClient
    from .context import Ros2ServiceServer as Ros2ServiceServer
    from .context import Ros2Subscription as Ros2Subscription
    from .context import Ros2Topic as Ros2Topic

__all__ = [
    "Ros2ActionClient",
    "Ros2ActionServer",
    "Ros2Context",
    "Ros2Durability",
    "Ros2Liveliness",
    "Ros2Node",
    "Ros2NodeOptions",
    "Ros2Publisher",
    "Ros2QosPolicies",
    "Ros2ServiceClient",
    "Ros2ServiceServer",
    "Ros2Subscription",
    "Ros2Topic",
    "Ros2Transport",
]

_CONTEXT_NAMES = frozenset(__all__) - {
    "Ros2Durability",
    "Ros2Liveliness",
    "Ros2QosPolicies",
    "Ros2Transport",
}


def __getattr__(name: str) -> Any:
    # The context module imports pyarrow and msgconv; keep `import dora_ros.bridge` light.
    if name in _CONTEXT_NAMES:
        from . import context

        return getattr(context, name)
    raise AttributeError(f"module 'dora_ros.bridge' has no attribute {name!r}")
