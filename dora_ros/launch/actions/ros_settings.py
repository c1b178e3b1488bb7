"""launch_ros's settings for the nodes started later in scope: `SetParametersFromFile`
(`<set_parameters_from_file filename=>`), `SetUseSimTime` (`<set_use_sim_time value=>`) and
`SetROSLogDir` (`<set_ros_log_dir new_log_dir=>`)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..action import Action, register
from ..entity import to_bool
from ..errors import LaunchFileError
from ..ros_args import ParameterFile, existing_file
from ..substitutions import normalize, perform

if TYPE_CHECKING:
    from ..context import LaunchContext
    from ..entity import Entity
    from ..frontend import FrontendParser


@register("set_parameters_from_file", "set-parameters-from-file")
class SetParametersFromFile(Action):
    """A parameter file for every node started later in scope (before the node's own)."""

    def __init__(self, filename: Any, *, allow_substs: Any = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.file = ParameterFile(
            filename if isinstance(filename, os.PathLike) else normalize(filename),
            allow_substs=allow_substs,
        )

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        kwargs = cls.parse_common(entity, parser)
        allow = entity.get_attr("allow_substs", data_type=bool, optional=True)
        filename = parser.parse_substitution(entity.get_attr("filename"))
        return cls(filename, allow_substs=bool(allow), **kwargs)

    def execute(self, context: LaunchContext) -> None:
        # checked here, so a missing file is reported at this line, not at a node's
        context.add_global_param(existing_file(self.file.evaluate(context)))


@register("set_use_sim_time", "set-use-sim-time")
class SetUseSimTime(Action):
    """`use_sim_time` for every node started later in scope."""

    def __init__(self, value: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.value = value if isinstance(value, bool) else normalize(value)

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        kwargs = cls.parse_common(entity, parser)
        return cls(parser.parse_substitution(entity.get_attr("value")), **kwargs)

    def execute(self, context: LaunchContext) -> None:
        value = self.value
        if not isinstance(value, bool):
            text = perform(context, value)
            parsed = to_bool(text)
            if parsed is None:
                raise LaunchFileError(f"use_sim_time must be true or false, got '{text}'")
            value = parsed
        context.add_global_param(("use_sim_time", value))


@register("set_ros_log_dir", "set-ros-log-dir")
class SetROSLogDir(Action):
    """`ROS_LOG_DIR` for processes started later in scope; a relative folder is joined to the
    current one, as ROS 2 does."""

    def __init__(self, new_log_dir: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.new_log_dir = normalize(new_log_dir)

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        kwargs = cls.parse_common(entity, parser)
        return cls(parser.parse_substitution(entity.get_attr("new_log_dir")), **kwargs)

    def execute(self, context: LaunchContext) -> None:
        new = perform(context, self.new_log_dir)
        current = context.environment.get("ROS_LOG_DIR") or os.path.join(
            context.environment.get("ROS_HOME") or os.path.expanduser("~/.ros"), "log"
        )
        context.environment["ROS_LOG_DIR"] = os.path.join(current, new)
