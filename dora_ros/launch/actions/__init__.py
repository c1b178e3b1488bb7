"""One module per launch action; importing this package registers every XML/YAML tag."""

from __future__ import annotations

from .append_environment_variable import AppendEnvironmentVariable as AppendEnvironmentVariable
from .composable_node import ComposableNode as ComposableNode
from .composable_node import ComposableNodeContainer as ComposableNodeContainer
from .composable_node import LoadComposableNodes as LoadComposableNodes
from .declare_launch_argument import DeclareLaunchArgument as DeclareLaunchArgument
from .emit_event import EmitEvent as EmitEvent
from .environment_stack import PopEnvironment as PopEnvironment
from .environment_stack import PushEnvironment as PushEnvironment
from .environment_stack import ResetEnvironment as ResetEnvironment
from .execute_process import ExecuteProcess as ExecuteProcess
from .for_loop import ForEach as ForEach
from .for_loop import ForLoop as ForLoop
from .group_action import GroupAction as GroupAction
from .include_launch_description import IncludeLaunchDescription as IncludeLaunchDescription
from .launch_configuration_stack import PopLaunchConfigurations as PopLaunchConfigurations
from .launch_configuration_stack import PushLaunchConfigurations as PushLaunchConfigurations
from .launch_configuration_stack import ResetLaunchConfigurations as ResetLaunchConfigurations
from .launch_configuration_stack import UnsetLaunchConfiguration as UnsetLaunchConfiguration
from .lifecycle_node import LifecycleNode as LifecycleNode
from .lifecycle_node import LifecycleTransition as LifecycleTransition
from .log_info import Log as Log
from .log_info import LogDebug as LogDebug
from .log_info import LogError as LogError
from .log_info import LogInfo as LogInfo
from .log_info import LogWarning as LogWarning
from .node import Node as Node
from .opaque_function import OpaqueFunction as OpaqueFunction
from .push_ros_namespace import PushROSNamespace as PushROSNamespace
from .push_ros_namespace import PushRosNamespace as PushRosNamespace
from .register_event_handler import RegisterEventHandler as RegisterEventHandler
from .ros_settings import SetParametersFromFile as SetParametersFromFile
from .ros_settings import SetROSLogDir as SetROSLogDir
from .ros_settings import SetUseSimTime as SetUseSimTime
from .set_environment_variable import SetEnvironmentVariable as SetEnvironmentVariable
from .set_environment_variable import UnsetEnvironmentVariable as UnsetEnvironmentVariable
from .set_launch_configuration import SetLaunchConfiguration as SetLaunchConfiguration
from .set_parameter import SetParameter as SetParameter
from .set_remap import SetRemap as SetRemap
from .shutdown_action import Shutdown as Shutdown
from .timer_action import ROSTimer as ROSTimer
from .timer_action import RosTimer as RosTimer
from .timer_action import TimerAction as TimerAction
from .unregister_event_handler import UnregisterEventHandler as UnregisterEventHandler

__all__ = [
    "AppendEnvironmentVariable",
    "ComposableNode",
    "ComposableNodeContainer",
    "DeclareLaunchArgument",
    "EmitEvent",
    "ExecuteProcess",
    "ForEach",
    "ForLoop",
    "GroupAction",
    "IncludeLaunchDescription",
    "LifecycleNode",
    "LifecycleTransition",
    "LoadComposableNodes",
    "Log",
    "LogDebug",
    "LogError",
    "LogInfo",
    "LogWarning",
    "Node",
    "OpaqueFunction",
    "PopEnvironment",
    "PopLaunchConfigurations",
    "PushEnvironment",
    "PushLaunchConfigurations",
    "PushROSNamespace",
    "PushRosNamespace",
    "ROSTimer",
    "RegisterEventHandler",
    "ResetEnvironment",
    "ResetLaunchConfigurations",
    "RosTimer",
    "SetEnvironmentVariable",
    "SetLaunchConfiguration",
    "SetParameter",
    "SetParametersFromFile",
    "SetROSLogDir",
    "SetRemap",
    "SetUseSimTime",
    "Shutdown",
    "TimerAction",
    "UnregisterEventHandler",
    "UnsetEnvironmentVariable",
    "UnsetLaunchConfiguration",
]
