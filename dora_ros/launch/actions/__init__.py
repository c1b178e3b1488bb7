"""One module per launch action; importing this package registers every XML/YAML tag."""

from __future__ import annotations

from .declare_launch_argument import DeclareLaunchArgument as DeclareLaunchArgument
from .emit_event import EmitEvent as EmitEvent
from .execute_process import ExecuteProcess as ExecuteProcess
from .group_action import GroupAction as GroupAction
from .include_launch_description import IncludeLaunchDescription as IncludeLaunchDescription
from .log_info import LogInfo as LogInfo
from .node import Node as Node
from .opaque_function import OpaqueFunction as OpaqueFunction
from .push_ros_namespace import PushRosNamespace as PushRosNamespace
from .register_event_handler import RegisterEventHandler as RegisterEventHandler
from .set_environment_variable import SetEnvironmentVariable as SetEnvironmentVariable
from .set_environment_variable import UnsetEnvironmentVariable as UnsetEnvironmentVariable
from .set_launch_configuration import SetLaunchConfiguration as SetLaunchConfiguration
from .set_parameter import SetParameter as SetParameter
from .set_remap import SetRemap as SetRemap
from .shutdown_action import Shutdown as Shutdown
from .timer_action import TimerAction as TimerAction
from .unsupported import ComposableNodeContainer as ComposableNodeContainer
from .unsupported import LifecycleNode as LifecycleNode
from .unsupported import LoadComposableNodes as LoadComposableNodes

__all__ = [
    "ComposableNodeContainer",
    "DeclareLaunchArgument",
    "EmitEvent",
    "ExecuteProcess",
    "GroupAction",
    "IncludeLaunchDescription",
    "LifecycleNode",
    "LoadComposableNodes",
    "LogInfo",
    "Node",
    "OpaqueFunction",
    "PushRosNamespace",
    "RegisterEventHandler",
    "SetEnvironmentVariable",
    "SetLaunchConfiguration",
    "SetParameter",
    "SetRemap",
    "Shutdown",
    "TimerAction",
    "UnsetEnvironmentVariable",
]
