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

__all__ = ["ParameterFile", "ParameterValue", "RosArguments", "evaluate_parameter_value"]


class ParameterValue:
    """A parameter value from substitutions; typed from its text unless `value_type` says."""

    def __init__(self, value: Any, *, value_type: Any = None) -> None:
        self.value = value
        self.value_type = value_type

    def evaluate(self, context: LaunchContext) -> Any:
        if isinstance(self.value, (list, tuple)) and not all(
            isinstance(v, (str, Substitution)) for v in self.value
        ):
            return [evaluate_parameter_value(context, v) for v in self.value]
        text = perform(context, self.value)
        if self.value_type is str:
            return text
        value = coerce_scalar(text)
        if self.value_type in (int, float, bool) and not isinstance(value, self.value_type):
            try:
                return self.value_type(value)
            except (TypeError, ValueError):
                raise LaunchFileError(
                    f"parameter value '{text}' is not a {self.value_type.__name__}"
                ) from None
        return value


class ParameterFile:
    """A parameter file to pass with `--params-file`."""

    def __init__(self, param_file: Any, *, allow_substs: bool = False) -> None:
        self.param_file = param_file
        self.allow_substs = allow_substs

    def evaluate(self, context: LaunchContext) -> str:
        path = str(self.param_file) if isinstance(self.param_file, Path) else None
        return path or perform(context, self.param_file)


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


def _param_text(value: Any) -> str:
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
                words += ["-p", f"{item[0]}:={_param_text(item[1])}"]
            else:
                words += ["--params-file", _existing(str(item))]
        for item in parameters:
            if isinstance(item, Mapping):
                # As ROS 2: the node's full name when both name and namespace are known.
                key = f"{namespace.rstrip('/')}/{name}" if name and namespace else "/**"
                words += ["--params-file", _write_params(context, item, key)]
            elif isinstance(item, ParameterFile):
                words += ["--params-file", _existing(item.evaluate(context))]
            else:
                path = str(item) if isinstance(item, Path) else perform(context, normalize(item))
                words += ["--params-file", _existing(path)]
        for src, dst in remappings:
            words += ["-r", f"{src}:={dst}"]
        return cls(name, namespace, tuple(words))


def _existing(path: str) -> str:
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
