"""Substitutions: values computed when an action runs (`$(var x)`, `LaunchConfiguration('x')`).

The same classes serve the Python API (``launch.substitutions.LaunchConfiguration``) and the
``$(name arg ...)`` syntax of XML and YAML files, which :func:`parse_substitution` turns into a list
of them. Each front-end name has ROS 2's arity; a wrong one is a :class:`SubstitutionError`.

This package is a facade over modules by concern: ``_base`` (the base class, ``normalize``,
``perform``, launch configurations and environment variables), ``_paths`` (packages, files,
executables, commands), ``_logic`` (``$(eval)`` and the boolean ones), ``_values`` (values the
launch keeps: anonymous names, parameters, loop indices, event locals) and ``_parser`` (the
``$(...)`` syntax).
"""

from __future__ import annotations

from ._base import (
    EnvironmentVariable as EnvironmentVariable,
)
from ._base import (
    LaunchConfiguration as LaunchConfiguration,
)
from ._base import (
    SomeSubstitutionsType as SomeSubstitutionsType,
)
from ._base import (
    Substitution as Substitution,
)
from ._base import (
    TextSubstitution as TextSubstitution,
)
from ._base import (
    normalize as normalize,
)
from ._base import (
    perform as perform,
)
from ._logic import (
    AllSubstitution as AllSubstitution,
)
from ._logic import (
    AndSubstitution as AndSubstitution,
)
from ._logic import (
    AnySubstitution as AnySubstitution,
)
from ._logic import (
    EqualsSubstitution as EqualsSubstitution,
)
from ._logic import (
    IfElseSubstitution as IfElseSubstitution,
)
from ._logic import (
    NotEqualsSubstitution as NotEqualsSubstitution,
)
from ._logic import (
    NotSubstitution as NotSubstitution,
)
from ._logic import (
    OrSubstitution as OrSubstitution,
)
from ._logic import (
    PythonExpression as PythonExpression,
)
from ._parser import (
    parse_substitution as parse_substitution,
)
from ._parser import (
    register_frontend_substitution as register_frontend_substitution,
)
from ._paths import (
    Command as Command,
)
from ._paths import (
    ExecutableInPackage as ExecutableInPackage,
)
from ._paths import (
    FileContent as FileContent,
)
from ._paths import (
    FindExecutable as FindExecutable,
)
from ._paths import (
    FindPackage as FindPackage,
)
from ._paths import (
    FindPackagePrefix as FindPackagePrefix,
)
from ._paths import (
    FindPackageShare as FindPackageShare,
)
from ._paths import (
    LaunchLogDir as LaunchLogDir,
)
from ._paths import (
    PathJoinSubstitution as PathJoinSubstitution,
)
from ._paths import (
    PathSubstitution as PathSubstitution,
)
from ._paths import (
    StringJoinSubstitution as StringJoinSubstitution,
)
from ._paths import (
    ThisLaunchFile as ThisLaunchFile,
)
from ._paths import (
    ThisLaunchFileDir as ThisLaunchFileDir,
)
from ._paths import (
    _package_prefix as _package_prefix,
)
from ._values import (
    AnonName as AnonName,
)
from ._values import (
    ForEachVar as ForEachVar,
)
from ._values import (
    ForLoopIndex as ForLoopIndex,
)
from ._values import (
    LocalSubstitution as LocalSubstitution,
)
from ._values import (
    RosParameter as RosParameter,
)
from ._values import (
    SubstitutionFailure as SubstitutionFailure,
)

__all__ = [
    "AllSubstitution",
    "AndSubstitution",
    "AnonName",
    "AnySubstitution",
    "Command",
    "EnvironmentVariable",
    "EqualsSubstitution",
    "ExecutableInPackage",
    "FileContent",
    "FindExecutable",
    "FindPackage",
    "FindPackagePrefix",
    "FindPackageShare",
    "ForEachVar",
    "ForLoopIndex",
    "IfElseSubstitution",
    "LaunchConfiguration",
    "LaunchLogDir",
    "LocalSubstitution",
    "NotEqualsSubstitution",
    "NotSubstitution",
    "OrSubstitution",
    "PathJoinSubstitution",
    "PathSubstitution",
    "PythonExpression",
    "RosParameter",
    "SomeSubstitutionsType",
    "StringJoinSubstitution",
    "Substitution",
    "SubstitutionFailure",
    "TextSubstitution",
    "ThisLaunchFile",
    "ThisLaunchFileDir",
    "normalize",
    "parse_substitution",
    "perform",
    "register_frontend_substitution",
]
