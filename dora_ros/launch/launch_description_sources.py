"""Where an included launch description comes from, and the loader picking the front end.

`load_launch_file(path)` reads `*.launch.py`/`.py` with the Python front end, `.xml` with the XML
one and `.yaml`/`.yml` with the YAML one, so includes may cross front ends.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .errors import LaunchFileError, NotFoundError
from .substitutions import normalize, perform

if TYPE_CHECKING:
    from .context import LaunchContext
    from .launch_description import LaunchDescription

__all__ = [
    "AnyLaunchDescriptionSource",
    "FrontendLaunchDescriptionSource",
    "LaunchDescriptionSource",
    "PythonLaunchDescriptionSource",
    "XMLLaunchDescriptionSource",
    "YAMLLaunchDescriptionSource",
    "load_launch_file",
]


def load_launch_file(path: str) -> LaunchDescription:
    """Parse one launch file with the front end its name asks for."""
    if not os.path.isfile(path):
        raise NotFoundError(f"launch file '{path}' not found")
    lower = path.lower()
    if lower.endswith(".py"):
        from .frontend_python import load_python_launch_file

        description = load_python_launch_file(path)
    elif lower.endswith(".xml"):
        from .frontend_xml import load_xml_launch_file

        description = load_xml_launch_file(path)
    elif lower.endswith((".yaml", ".yml")):
        from .frontend_yaml import load_yaml_launch_file

        description = load_yaml_launch_file(path)
    else:
        raise LaunchFileError(
            f"launch file '{path}': unknown format (expected .py, .xml, .yaml or .yml)"
        )
    description.file = os.path.abspath(path)
    return description


class LaunchDescriptionSource:
    """A launch file to include, its path given as substitutions."""

    def __init__(self, launch_file_path: Any, *_: Any, **__: Any) -> None:
        self.location = normalize(launch_file_path)

    def get_launch_description(self, context: LaunchContext) -> LaunchDescription:
        path = perform(context, self.location)
        if context.current_file and not os.path.isabs(path) and not os.path.exists(path):
            beside = os.path.join(os.path.dirname(context.current_file), path)
            path = beside if os.path.exists(beside) else path
        return load_launch_file(path)


class AnyLaunchDescriptionSource(LaunchDescriptionSource):
    pass


class PythonLaunchDescriptionSource(LaunchDescriptionSource):
    pass


class FrontendLaunchDescriptionSource(LaunchDescriptionSource):
    pass


XMLLaunchDescriptionSource = FrontendLaunchDescriptionSource
YAMLLaunchDescriptionSource = FrontendLaunchDescriptionSource
