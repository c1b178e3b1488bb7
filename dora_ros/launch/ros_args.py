"""The ROS arguments a node gets, built as ROS 2's launch builds them.

``--ros-args -r __node:=<name> -r __ns:=<ns> [-p n:=v | --params-file f]... -r <from>:=<to>...``.
Parameters given as a mapping go to a YAML file in the launch's temporary folder, keyed as ROS 2
keys them: ``/<ns>/<name>: ros__parameters:`` when the launch file gives both the node's name and
namespace, else ``/**: ros__parameters:``; parameter files are passed on as they are.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .entity import coerce_scalar
from .errors import LaunchFileError, NotFoundError
from .substitutions import Substitution, normalize, perform

if TYPE_CHECKING:
    from .context import LaunchContext

__all__ = [
    "ParameterFile",
    "ParameterValue",
    "RosArguments",
    "evaluate_parameter_value",
    "existing_file",
    "parameter_type",
]


_TYPE_IDS: dict[str, tuple[type | None, bool]] = {
    "str": (str, False),
    "int": (int, False),
    "float": (float, False),
    "bool": (bool, False),
    "list_of_str": (str, True),
    "list_of_int": (int, True),
    "list_of_float": (float, True),
    "list_of_bool": (bool, True),
    "yaml": (None, False),
}


def type_spec(value_type: Any) -> tuple[type | None, bool]:
    """(element type or None for YAML rules, is a list) from a front-end `type` or a Python type.

    Accepts None, `str`/`int`/`float`/`bool`, `List[str]`/`list[int]`, a (type, is_list) pair,
    or ROS 2's front-end identifiers (`str`, `list_of_int`, `yaml`, ...); else ValueError.
    """
    import typing

    if value_type is None:
        return (None, False)
    if isinstance(value_type, tuple) and len(value_type) == 2:
        return value_type
    if isinstance(value_type, str):
        if value_type not in _TYPE_IDS:
            raise ValueError(f"type '{value_type}' is not one of {', '.join(_TYPE_IDS)}") from None
        return _TYPE_IDS[value_type]
    if value_type in (str, int, float, bool):
        return (value_type, False)
    if typing.get_origin(value_type) in (list, typing.List):  # noqa: UP006
        (element,) = typing.get_args(value_type) or (None,)
        if element in (str, int, float, bool, None):
            return (element, True)
    raise ValueError(f"value_type {value_type!r} is not a parameter type")


def _coerce(text: str, spec: tuple[type | None, bool], what: str) -> Any:
    """Performed text as a parameter of type `spec` (YAML rules when the type is None)."""
    element, is_list = spec
    if element is str and not is_list:
        return text
    if element is None and not is_list:
        return coerce_scalar(text) if text else ""
    value = coerce_scalar(text)
    if is_list:
        if not isinstance(value, list):
            raise LaunchFileError(f"{what}: '{text}' is not a list")
        return [_check(v, element, what) for v in value]
    return _check(value, element, what)


def _check(value: Any, element: type | None, what: str) -> Any:
    if element is None or (
        isinstance(value, element) and not (element is int and isinstance(value, bool))
    ):
        return value
    if element is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if element is str:
        return value if isinstance(value, str) else str(value)
    if element is bool and value in (0, 1):
        return bool(value)
    raise LaunchFileError(f"{what}: '{value}' is not a {element.__name__}")


def _is_substitutions(value: Any) -> bool:
    """A concatenation: a Substitution, or str and Substitution items with one Substitution."""
    if isinstance(value, Substitution):
        return True
    return (
        isinstance(value, (list, tuple))
        and bool(value)
        and all(isinstance(v, (str, Substitution)) for v in value)
        and any(isinstance(v, Substitution) for v in value)
    )


class ParameterValue:
    """A parameter value, typed by `value_type` (YAML rules when None), as ROS 2 types it.

    `value` is a plain value (kept as it is), substitutions (performed, then typed), or a list
    whose items are plain values or lists of substitutions (typed item by item).
    """

    def __init__(self, value: Any, *, value_type: Any = None) -> None:
        self.value = value
        self.value_type = value_type
        try:
            self.spec = type_spec(value_type)
        except ValueError as err:
            raise LaunchFileError(f"ParameterValue: {err}") from None

    def evaluate(self, context: LaunchContext) -> Any:
        what = "parameter value"
        if _is_substitutions(self.value):
            return _coerce(perform(context, self.value), self.spec, what)
        if isinstance(self.value, (list, tuple)):
            element = (self.spec[0], False)
            return [
                _coerce(perform(context, v), element, what)
                if _is_substitutions(v) or isinstance(v, list)
                else evaluate_parameter_value(context, v)
                for v in self.value
            ]
        return evaluate_parameter_value(context, self.value)


class ParameterFile:
    """A parameter file to pass with `--params-file`; with `allow_substs`, its text is first
    read with `$(...)` substitutions performed (as ROS 2 does) and written to a temporary file."""

    def __init__(self, param_file: Any, *, allow_substs: Any = False) -> None:
        self.param_file = param_file
        self.allow_substs = allow_substs

    def evaluate(self, context: LaunchContext) -> str:
        path = str(self.param_file) if isinstance(self.param_file, Path) else None
        path = path or perform(context, self.param_file)
        allow = self.allow_substs
        if not isinstance(allow, bool):
            from .entity import to_bool

            text = perform(context, allow)
            allow = to_bool(text)
            if allow is None:
                raise LaunchFileError(f"allow_substs must be true or false, got '{text}'")
        if not allow:
            return path
        return _substituted_copy(context, existing_file(path))


def _substituted_copy(context: LaunchContext, path: str) -> str:
    from .errors import SubstitutionError
    from .substitutions import parse_substitution

    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        performed = perform(context, parse_substitution(text))
    except SubstitutionError as err:
        raise SubstitutionError(f"parameter file '{path}': {err.message}") from None
    count = len(os.listdir(context.shared.temp_dir))
    out = os.path.join(context.shared.temp_dir, f"params_{count}_{os.path.basename(path)}")
    with open(out, "w", encoding="utf-8") as f:
        f.write(performed)
    return out


def evaluate_parameter_value(context: LaunchContext, value: Any) -> Any:
    """Perform the substitutions in a parameter value (recursively for lists and dicts)."""
    if isinstance(value, ParameterValue):
        return value.evaluate(context)
    if isinstance(value, Substitution):
        return coerce_scalar(perform(context, value))
    if isinstance(value, Mapping):
        return {_key(context, k): evaluate_parameter_value(context, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, Substitution) for v in value):
            return coerce_scalar(perform(context, list(value)))
        return [evaluate_parameter_value(context, v) for v in value]
    return value


def _key(context: LaunchContext, key: Any) -> str:
    return key if isinstance(key, str) else perform(context, key)


def parameter_type(name: str, value: Any) -> int:
    """The rcl_interfaces ParameterType id of a Python value; LaunchFileError if it has none.

    Checked when a launch is resolved, so a bad value is refused before anything starts.
    """
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return 2
    if isinstance(value, float):
        return 3
    if isinstance(value, str):
        return 4
    if isinstance(value, (list, tuple)) and not value:
        # as rclpy's Parameter.Type.from_parameter_value: an empty sequence is a byte array
        # (autoware's component_state_monitor passes a list its launch_setup left empty)
        return 5
    if isinstance(value, (list, tuple)):
        if all(isinstance(x, bool) for x in value):
            return 6
        if all(isinstance(x, int) and not isinstance(x, bool) for x in value):
            return 7
        # as ROS 2: integers among floats make a double array
        if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
            return 8
        if all(isinstance(x, str) for x in value):
            return 9
    raise LaunchFileError(f"parameter '{name}': {value!r} is not a ROS 2 parameter value")


def _param_text(name: str, value: Any) -> str:
    """A value as the text of `-p name:=text`, refused here if it is no ROS 2 parameter."""
    parameter_type(name, value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return yaml.safe_dump(value, default_flow_style=True).strip()
    return str(value)


@dataclass(frozen=True)
class RosArguments:
    """The resolved ROS side of a node: name, namespace and the words after `--ros-args`."""

    name: str | None
    namespace: str | None
    words: tuple[str, ...]

    def argv(self) -> list[str]:
        return ["--ros-args", *self.words]

    @classmethod
    def build(
        cls,
        context: LaunchContext,
        *,
        name: str | None,
        namespace: str | None,
        global_params: Sequence[Any],
        parameters: Sequence[Any],
        remappings: Sequence[tuple[str, str]],
    ) -> RosArguments:
        words: list[str] = []
        if name is not None:
            if not name or "/" in name:
                raise LaunchFileError(f"invalid node name '{name}'")
            words += ["-r", f"__node:={name}"]
        if namespace:
            words += ["-r", f"__ns:={namespace}"]
        for item in global_params:
            if isinstance(item, tuple):
                words += ["-p", f"{item[0]}:={_param_text(item[0], item[1])}"]
            else:
                words += ["--params-file", existing_file(str(item))]
        for item in parameters:
            if isinstance(item, Mapping):
                # As ROS 2: the node's full name when both name and namespace are known.
                key = f"{namespace.rstrip('/')}/{name}" if name and namespace else "/**"
                words += ["--params-file", _write_params(context, item, key)]
            elif isinstance(item, ParameterFile):
                words += ["--params-file", existing_file(item.evaluate(context))]
            else:
                path = str(item) if isinstance(item, Path) else perform(context, normalize(item))
                words += ["--params-file", existing_file(path)]
        for src, dst in remappings:
            words += ["-r", f"{src}:={dst}"]
        return cls(name, namespace, tuple(words))


def existing_file(path: str) -> str:
    """The absolute path of an existing parameter file; NotFoundError if there is none."""
    if not os.path.isfile(path):
        raise NotFoundError(f"parameter file '{path}' not found")
    return os.path.abspath(path)


def _write_params(context: LaunchContext, params: Mapping[Any, Any], key: str) -> str:
    values = evaluate_parameter_value(context, params)
    count = len(os.listdir(context.shared.temp_dir))
    path = os.path.join(context.shared.temp_dir, f"params_{count}.yaml")
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump({key: {"ros__parameters": values}}, f, default_flow_style=False)
    return path
