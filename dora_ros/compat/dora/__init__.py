"""dora-ros's stand-in for dora-rs 1.1's `dora` module (see `dora_ros.compat`).

Inside a dataflow started by `dora-ros run`, `from dora import Node` imports this module, so nodes
written for dora-rs run unchanged. It exports every public name of dora-rs 1.1's `dora` module:

- `Node`: `dora_ros.Node` itself, same signatures and event dicts as dora-rs's.
- `Ros2Context`, `Ros2Node`, ... : the classes of `dora_ros.bridge`, imported on first use.
- `DoraStatus`, `run`, `build`: equivalents running on dora-ros.
- `start_runtime`: present, but dora-rs operators are not supported: calling it raises.
- submodules `dora.builder` (`DataflowBuilder`) and `dora.testing` (`MockNode`).

A name that dora-ros cannot provide yet still imports (so `from dora import *` works) but raises
:class:`CompatError` naming what is missing as soon as it is used.
"""

from __future__ import annotations

import enum as _enum
import os as _os
from typing import TYPE_CHECKING, Any, NoReturn

from dora_ros.errors import DoraRosError as _DoraRosError

if TYPE_CHECKING:
    from dora_ros.runtime.node import Node as Node

__all__ = [
    "DoraStatus",
    "Node",
    "Ros2ActionClient",
    "Ros2ActionServer",
    "Ros2Context",
    "Ros2Durability",
    "Ros2Liveliness",
    "Ros2Node",
    "Ros2NodeOptions",
    "Ros2Publisher",
    "Ros2QosPolicies",
    "Ros2ServiceClient",
    "Ros2ServiceServer",
    "Ros2Subscription",
    "Ros2Topic",
    "Ros2Transport",
    "build",
    "run",
    "start_runtime",
]

# The dora-rs API version this module mirrors; some nodes check it. dora-ros's own version is
# `dora_ros.__version__`.
__version__ = "1.1.0"
__author__ = "dora-ros (compatibility module for dora-rs 1.1)"

# Names dora-rs's `dora` module takes from its ROS 2 bridge.
_BRIDGE_NAMES = frozenset(name for name in __all__ if name.startswith("Ros2"))


class CompatError(_DoraRosError):
    """A dora-rs API that dora-ros does not provide (yet) was used through the `dora` module."""


class DoraStatus(_enum.Enum):
    """Status an operator's `on_input` returns (dora-rs API; dora-ros runs no operators)."""

    CONTINUE = 0
    STOP = 1
    STOP_ALL = 2


def _unavailable(name: str, reason: str) -> type:
    """A stand-in class for `name` that raises :class:`CompatError` when used."""

    def fail(*_args: Any, **_kwargs: Any) -> NoReturn:
        raise CompatError(f"dora.{name} is not available in dora-ros: {reason}")

    return type(name, (), {"__init__": fail, "__doc__": f"Unavailable in dora-ros: {reason}"})


def __getattr__(name: str) -> Any:
    if name == "Node":
        try:
            from dora_ros.runtime.node import Node
        except ModuleNotFoundError as err:
            if err.name != "dora_ros.runtime.node":
                raise
            raise CompatError(
                "dora.Node is not available: this dora-ros has no node API (dora_ros.runtime.node)"
            ) from err
        return Node
    if name == "dora":  # dora-rs's native module; here an alias of this package
        import importlib

        return importlib.import_module(".dora", __name__)
    if name in _BRIDGE_NAMES:
        value = _bridge_name(name)
        globals()[name] = value  # resolve once
        return value
    raise AttributeError(f"module 'dora' (dora-ros compatibility module) has no attribute {name!r}")


def _bridge_name(name: str) -> Any:
    try:
        import dora_ros.bridge as bridge
    except ImportError as err:
        return _unavailable(name, f"the ROS 2 bridge does not import ({err})")
    try:
        return getattr(bridge, name)
    except AttributeError:
        return _unavailable(name, f"dora_ros.bridge has no {name}")
    except ImportError as err:
        return _unavailable(name, f"the ROS 2 bridge does not import ({err})")


def __dir__() -> list[str]:
    public = (n for n in globals() if n[0] != "_" and n not in _NOT_API)
    return sorted({*public, *__all__, "__author__", "__version__", "dora"})


_NOT_API = frozenset({"annotations", "Any", "NoReturn", "TYPE_CHECKING"})


def run(dataflow_path: str, uv: bool | None = None, stop_after: float | None = None) -> None:
    """Run a dataflow like `dora-ros run` (dora-rs: like `dora run`); raises if it fails."""
    from dora_ros.runtime.build import find_uv
    from dora_ros.runtime.descriptor import load_dataflow
    from dora_ros.runtime.supervisor import run_dataflow

    uv_path = find_uv() if uv else None
    if uv and uv_path is None:
        raise CompatError("dora.run(uv=True): uv is not installed (pip install uv)")
    dataflow = load_dataflow(_os.fspath(dataflow_path))
    status = run_dataflow(dataflow, stop_after=stop_after, uv=uv_path)
    if status != 0:
        raise CompatError(f"dataflow {_os.fspath(dataflow_path)!r} failed (exit status {status})")


def build(
    dataflow_path: str,
    uv: bool | None = None,
    coordinator_addr: str | None = None,
    coordinator_port: int | None = None,
    force_local: bool = False,
) -> None:
    """Run the `build` lines of a dataflow like `dora-ros build` (dora-rs: `dora build`).

    dora-ros builds locally only; `coordinator_addr`/`coordinator_port` are refused.
    """
    from dora_ros.runtime.build import build_dataflow
    from dora_ros.runtime.descriptor import load_dataflow

    if coordinator_addr is not None or coordinator_port is not None:
        raise CompatError("dora.build: dora-ros has no coordinator; builds run locally")
    del force_local  # always local
    build_dataflow(load_dataflow(_os.fspath(dataflow_path)), uv=bool(uv))


def start_runtime() -> None:
    """dora-rs's operator runtime; dora-ros runs no operators, so this always raises."""
    raise CompatError(
        "dora.start_runtime (the dora-rs operator runtime) is not supported by dora-ros: "
        "write the operator as a node (a script that creates `Node()` and iterates over it)"
    )
