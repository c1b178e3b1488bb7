"""Two rclpy nodes and a dora graph bridging them, from one ROS 2 launch file.

    dora-ros launch examples/ros2/launch/mixed.launch.py [period:=0.2]

talker (rclpy) --/chatter--> [dora graph: ros_in -> shout.py -> ros_out] --/shout--> listener (rclpy)

The scripts are run with this Python (no ament package needed); `Node` without `package` runs
`executable` as given, as in ROS 2.
"""

import sys

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, ThisLaunchFileDir
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from dora_ros.launch import DoraDataflow


def generate_launch_description():
    here = ThisLaunchFileDir()
    return LaunchDescription(
        [
            DeclareLaunchArgument("period", default_value="0.1", description="talker period (s)"),
            Node(
                executable=sys.executable,
                arguments=[PathJoinSubstitution([here, "talker.py"])],
                exec_name="talker",
                name="talker",
                output="screen",
                parameters=[
                    {"period": ParameterValue(LaunchConfiguration("period"), value_type=float)}
                ],
            ),
            Node(
                executable=sys.executable,
                arguments=[PathJoinSubstitution([here, "listener.py"])],
                exec_name="listener",
                name="listener",
                output="screen",
            ),
            DoraDataflow(graph=PathJoinSubstitution([here, "graph.yml"])),
        ]
    )
