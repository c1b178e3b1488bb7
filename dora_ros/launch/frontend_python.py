"""The Python front end: `*.launch.py` files written for ROS 2 run unchanged.

While a launch runs, `launch`, `launch.actions`, `launch.substitutions`, `launch.conditions`,
`launch.event_handlers`, `launch.events`, `launch.launch_description_sources`, `launch_ros.actions`,
`launch_ros.substitutions`, `launch_ros.parameter_descriptions` (and a few neighbours) are entries
in `sys.modules` pointing at dora-ros's classes. A name we do not implement is an error naming the
launch file, the line and the class, raised by the module's `__getattr__`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import traceback
import types
from collections.abc import Iterator
from typing import Any

from . import actions as A
from . import conditions as C
from . import event_handlers as H
from . import events as E
from . import launch_description_sources as S
from . import lifecycle as L
from . import substitutions as T
from .action import Action, LaunchDescriptionEntity, caller_location
from .context import LaunchContext
from .entity import Entity
from .errors import LaunchError, LaunchFileError, Location, _LocatedError
from .launch_description import LaunchDescription
from .ros_args import ParameterFile, ParameterValue

__all__ = ["load_python_launch_file", "python_launch_api"]


def _names(module: Any, names: str) -> dict[str, Any]:
    return {name: getattr(module, name) for name in names.split()}


_SUBSTITUTIONS = _names(
    T,
    "LaunchConfiguration TextSubstitution EnvironmentVariable PythonExpression "
    "PathJoinSubstitution PathSubstitution StringJoinSubstitution Command FindExecutable "
    "AnonName ThisLaunchFile ThisLaunchFileDir NotSubstitution AndSubstitution OrSubstitution "
    "AnySubstitution AllSubstitution EqualsSubstitution NotEqualsSubstitution FileContent "
    "IfElseSubstitution LaunchLogDir LocalSubstitution ForLoopIndex ForEachVar Substitution "
    "SubstitutionFailure",
)


def _ensure_argument_type(
    argument: Any, types: Any, argument_name: str, caller: str | None = None
) -> None:
    """launch.utilities.ensure_argument_type: a TypeError naming the argument."""
    if not isinstance(types, (list, tuple)):
        types = (types,)
    if not isinstance(argument, tuple(t for t in types if isinstance(t, type))):
        where = f" of {caller}" if caller else ""
        raise TypeError(
            f"argument '{argument_name}'{where} got {type(argument).__name__}, "
            f"expected one of {[getattr(t, '__name__', str(t)) for t in types]}"
        )


def _expose(registry: str) -> Any:
    """launch.frontend.expose_action / expose_substitution: register a user's class by name."""

    def expose(name: str) -> Any:
        def decorate(cls: Any) -> Any:
            if registry == "action":
                from .action import REGISTRY

                REGISTRY[name] = cls
            else:
                T.register_frontend_substitution(name, cls)
            return cls

        return decorate

    return expose


_SOME_SUBSTITUTIONS = {
    "SomeSubstitutionsType": T.SomeSubstitutionsType,
    "SomeSubstitutionsType_types_tuple": (str, T.Substitution, list, tuple),
}

_EVENT_HANDLERS = _names(
    H,
    "EventHandler OnProcessExit OnProcessStart OnShutdown OnProcessIO OnExecutionComplete "
    "OnIncludeLaunchDescription",
)

# module name -> its contents (other modules are filled in as attributes below).
_MODULES: dict[str, dict[str, Any]] = {
    "launch": {
        "LaunchDescription": LaunchDescription,
        "LaunchContext": LaunchContext,
        "Action": Action,
        "LaunchDescriptionEntity": LaunchDescriptionEntity,
        "Substitution": T.Substitution,
        "Condition": C.Condition,
        "EventHandler": H.EventHandler,
        **_SOME_SUBSTITUTIONS,
    },
    "launch.actions": _names(A, " ".join(A.__all__)),
    "launch.substitutions": _SUBSTITUTIONS,
    "launch.conditions": _names(
        C, "IfCondition UnlessCondition LaunchConfigurationEquals LaunchConfigurationNotEquals"
    ),
    "launch.event_handler": {"EventHandler": H.EventHandler, "BaseEventHandler": H.EventHandler},
    "launch.event_handlers": _EVENT_HANDLERS,
    "launch.events": {
        **_names(E, "Shutdown IncludeLaunchDescription ExecutionComplete"),
        "matches_action": L.matches_action,
    },
    "launch.events.process": _names(E, "ProcessExited ProcessStarted ProcessIO"),
    "launch.launch_context": {"LaunchContext": LaunchContext},
    "launch.launch_description": {"LaunchDescription": LaunchDescription},
    "launch.launch_description_sources": _names(
        S,
        "AnyLaunchDescriptionSource PythonLaunchDescriptionSource FrontendLaunchDescriptionSource",
    ),
    "launch.some_substitutions_type": _SOME_SUBSTITUTIONS,
    "launch.utilities": {
        "normalize_to_list_of_substitutions": T.normalize,
        "perform_substitutions": lambda context, subs: T.perform(context, subs),
        "ensure_argument_type": _ensure_argument_type,
    },
    "launch.frontend": {
        "Entity": Entity,
        "expose_action": _expose("action"),
        "expose_substitution": _expose("substitution"),
    },
    "launch_xml": {},
    "launch_xml.launch_description_sources": {
        "XMLLaunchDescriptionSource": S.XMLLaunchDescriptionSource
    },
    "launch_yaml": {},
    "launch_yaml.launch_description_sources": {
        "YAMLLaunchDescriptionSource": S.YAMLLaunchDescriptionSource
    },
    "launch_ros": {},
    "launch_ros.actions": _names(
        A,
        "Node PushRosNamespace PushROSNamespace SetParameter SetRemap SetParametersFromFile "
        "SetROSLogDir SetUseSimTime RosTimer ROSTimer ComposableNodeContainer "
        "LoadComposableNodes LifecycleNode LifecycleTransition",
    ),
    "launch_ros.substitutions": {
        **_names(T, "FindPackageShare FindPackagePrefix ExecutableInPackage FindPackage"),
        "Parameter": T.RosParameter,
    },
    "launch_ros.parameter_descriptions": {
        "ParameterValue": ParameterValue,
        "ParameterFile": ParameterFile,
    },
    "launch_ros.descriptions": {
        "ParameterValue": ParameterValue,
        "ParameterFile": ParameterFile,
        "ComposableNode": A.ComposableNode,
    },
    "launch_ros.events": {},
    "launch_ros.events.lifecycle": {
        "ChangeState": L.ChangeState,
        "StateTransition": L.StateTransition,
        "matches_action": L.matches_action,
    },
    "launch_ros.event_handlers": {"OnStateTransition": H.OnStateTransition},
}


def _refused(qualname: str) -> type:
    """A stand-in for a name dora-ros does not implement: importing it works (a file may import
    `LaunchService` for its `__main__` block), using it raises an error naming the line."""

    def refuse() -> None:
        raise LaunchFileError(f"{qualname} is not supported by dora-ros launch", caller_location())

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        refuse()

    def __init_subclass__(cls: Any, **kwargs: Any) -> None:
        refuse()

    name = qualname.rpartition(".")[2]
    return type(
        name, (), {"__init__": __init__, "__init_subclass__": classmethod(__init_subclass__)}
    )


def _unsupported_getattr(module_name: str) -> Any:
    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _refused(f"{module_name}.{name}")

    return __getattr__


def _build_modules() -> dict[str, types.ModuleType]:
    modules: dict[str, types.ModuleType] = {}
    for name, contents in _MODULES.items():
        module = types.ModuleType(name, f"dora-ros's implementation of ROS 2's {name}")
        module.__dict__.update(contents)
        module.__path__ = []  # a package: submodules resolve through sys.modules
        setattr(module, "__getattr__", _unsupported_getattr(name))  # noqa: B010
        modules[name] = module
    for name, module in modules.items():
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(modules[parent], child, module)
    return modules


_depth = 0
_saved: dict[str, types.ModuleType | None] = {}


@contextlib.contextmanager
def python_launch_api() -> Iterator[None]:
    """Make `import launch`, `import launch_ros` etc. resolve to dora-ros while inside."""
    global _depth
    if _depth == 0:
        for name, module in _build_modules().items():
            _saved[name] = sys.modules.get(name)
            sys.modules[name] = module
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            for name, previous in _saved.items():
                if previous is None:
                    sys.modules.pop(name, None)
                else:
                    sys.modules[name] = previous
            _saved.clear()


def _line_in(err: BaseException, path: str) -> int:
    """The line of launch file `path` where `err` was raised (the innermost), 0 if none."""
    line = 0
    if isinstance(err, SyntaxError) and err.filename and os.path.samefile(err.filename, path):
        line = err.lineno or 0
    for frame in traceback.extract_tb(err.__traceback__):
        if os.path.abspath(frame.filename) == os.path.abspath(path):
            line = frame.lineno or line
    return line


def _user_error(err: BaseException, path: str) -> LaunchFileError:
    """Turn an exception raised by launch-file code into one line naming its file and line."""
    line = _line_in(err, path)
    text = str(err)
    if isinstance(err, ModuleNotFoundError) and (err.name or "").startswith(
        ("launch", "launch_ros")
    ):
        text = f"module '{err.name}' is not supported by dora-ros launch"
    return LaunchFileError(f"{type(err).__name__}: {text}", Location(path, line))


def load_python_launch_file(path: str) -> LaunchDescription:
    """Run `generate_launch_description()` of a Python launch file."""
    module_name = "dora_ros_launch_file_" + str(abs(hash(os.path.abspath(path))))
    with python_launch_api():
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise LaunchFileError("cannot load as Python", Location(path))
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
            generate = getattr(module, "generate_launch_description", None)
            if generate is None:
                raise LaunchFileError("has no generate_launch_description()", Location(path))
            description = generate()
        except LaunchError as err:
            # one of ours raised by the file's own code (`FindPackageShare('p').find('p')`, say)
            if isinstance(err, _LocatedError) and err.location is None:
                err.at(Location(path, _line_in(err, path)))
            raise
        except Exception as err:
            raise _user_error(err, path) from None
    if not isinstance(description, LaunchDescription):
        raise LaunchFileError(
            "generate_launch_description() must return a LaunchDescription, "
            f"got {type(description).__name__}",
            Location(path),
        )
    return description
