"""`dora-ros launch`: ROS 2 launch files (XML, YAML, Python) starting ROS nodes and dora graphs.

Public names: :class:`DoraDataflow` (a dora-ros graph as a launch action) and
:class:`LaunchDescription`. The rest lives in private modules behind this facade.
"""

from __future__ import annotations

from .dora_action import DoraDataflow as DoraDataflow
from .launch_description import LaunchDescription as LaunchDescription

__all__ = ["DoraDataflow", "LaunchDescription"]
