"""``Node.dataflow_descriptor()``: the graph as dora-rs 1.1 hands it to a node.

dora-rs does not give a node its YAML back but its parsed descriptor, serialised again: every
node has ``name``, ``description``, ``env``, ``restart_policy``, ``max_restarts`` and ``deploy``
(``None`` or a default when not written), outputs come sorted, inputs sorted by id, a long-form
input with only a ``source`` becomes the short form, timers are rewritten in the largest unit that
states their period exactly (``hz/3`` -> ``nanos/333333333``, ``millis/1000`` -> ``secs/1``), and
the top level has ``deploy``, ``debug`` and ``health_check_interval``. Recorded from dora-rs 1.1
(see ``tests/runtime/test_node_descriptor.py``); nodes reading the descriptor find the same keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["normalise_descriptor"]

_TIMER = "dora/timer/"
_UNIT_NANOS = {"secs": 10**9, "millis": 10**6, "micros": 10**3, "nanos": 1}
# Node keys in dora-rs's order, after id/name/description/path/args/env/outputs/inputs.
_OPTIONAL_AFTER_INPUTS = (
    "send_stdout_as",
    "send_logs_as",
    "min_log_level",
    "max_log_size",
    "max_rotated_files",
    "build",
)
_WRITTEN = frozenset(
    {"id", "name", "description", "path", "args", "env", "outputs", "inputs", "restart_policy"}
    | {"max_restarts", "restart_delay", "deploy", *_OPTIONAL_AFTER_INPUTS}
)
DEFAULT_DEBUG: dict[str, Any] = {"enable_debug_inspection": False}


def _timer(source: str) -> str:
    """``dora/timer/<unit>/<n>`` in the largest unit that divides its period in nanoseconds."""
    parts = source[len(_TIMER) :].split("/")
    if len(parts) != 2:
        return source
    unit, amount = parts
    try:
        value = float(amount)
    except ValueError:
        return source
    if unit == "hz":
        nanos = int(10**9 / value) if value > 0 else 0
    elif unit in _UNIT_NANOS:
        nanos = round(value * _UNIT_NANOS[unit])
    else:
        return source
    for name, size in _UNIT_NANOS.items():
        if nanos and nanos % size == 0:
            return f"{_TIMER}{name}/{nanos // size}"
    return f"{_TIMER}nanos/{nanos}"


def _source(source: Any) -> Any:
    return _timer(source) if isinstance(source, str) and source.startswith(_TIMER) else source


def _input(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return _source(value)
    out: dict[str, Any] = {"source": _source(value.get("source"))}
    if value.get("queue_size") is not None:
        out["queue_size"] = int(value["queue_size"])
    if value.get("input_timeout") is not None:
        out["input_timeout"] = float(value["input_timeout"])
    if value.get("queue_policy") is not None:
        out["queue_policy"] = value["queue_policy"]
    return out["source"] if len(out) == 1 else out


def _env_value(value: Any) -> Any:
    # dora-rs's EnvValue is an untagged bool/int/float/string: a string that reads as one of the
    # others comes back as it ("1" -> 1).
    if not isinstance(value, str):
        return value
    if value in ("true", "false"):
        return value == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def _env(env: Any) -> dict[str, Any] | None:
    if not isinstance(env, Mapping):
        return None
    # Module params (PARAM_<KEY>, see descriptor_modules) are strings dora-rs made, not YAML.
    return {str(k): v if str(k).startswith("PARAM_") else _env_value(v) for k, v in env.items()}


def _node(raw: Mapping[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": raw.get("id"),
        "name": raw.get("name"),
        "description": raw.get("description"),
        "path": raw.get("path"),
    }
    if raw.get("args") is not None:
        node["args"] = raw["args"]
    node["env"] = _env(raw.get("env"))
    node["outputs"] = sorted(str(o) for o in raw.get("outputs") or ())
    inputs = raw.get("inputs") or {}
    node["inputs"] = {str(k): _input(inputs[k]) for k in sorted(inputs, key=str)}
    for key in _OPTIONAL_AFTER_INPUTS:
        if raw.get(key) is not None:
            node[key] = raw[key]
    node["restart_policy"] = raw.get("restart_policy") or "never"
    node["max_restarts"] = int(raw.get("max_restarts") or 0)
    if raw.get("restart_delay") is not None:
        node["restart_delay"] = float(raw["restart_delay"])
    node["deploy"] = raw.get("deploy")
    # Keys dora-rs knows but serialises elsewhere, and dora-ros's own (`ros2:`), as written.
    node.update({k: v for k, v in raw.items() if k not in _WRITTEN})
    return node


def normalise_descriptor(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The descriptor dora-rs 1.1 gives nodes, from the graph's YAML as parsed."""
    interval = raw.get("health_check_interval")
    out: dict[str, Any] = {
        "nodes": [_node(n) for n in raw.get("nodes") or () if isinstance(n, Mapping)],
        "deploy": raw.get("deploy"),
        "debug": dict(raw.get("debug") or DEFAULT_DEBUG),
        "health_check_interval": None if interval is None else float(interval),
    }
    if raw.get("env") is not None:
        out["env"] = _env(raw["env"])
    return out
