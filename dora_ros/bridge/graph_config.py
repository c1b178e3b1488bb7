"""The `ros2:` key of a dataflow node, parsed once into an immutable `BridgeSpec`.

Keys are dora-rs's (`docs/ros2-bridge.md`): exactly one of `topic` (+ `message_type`,
`direction`), `topics` (a list of those, each with optional `output`/`input`/`qos`), `service`
(+ `service_type`, `role`) or `action` (+ `action_type`, `role`); and `qos`, `namespace`,
`node_name`, `transport` (DDS only). Ours: `backend` (`rclpy`, `cyclonedds`), for a service
`response_timeout` (seconds; dora-rs fixes it at 30), for an action client `goal_timeout`
(seconds a goal may take in all before the bridge cancels it; 3600), and for an action server
`result_timeout` (seconds an ended goal's result is kept for clients; ROS 2's 900).

Every mistake raises `DescriptorError` naming `file:line`, the node and the key, with a suggestion
when one is clear.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import BridgeError, DescriptorError
from .backend import BACKENDS
from .names import canonical_type, dora_id_from_topic, resolve_name
from .qos import DEFAULT_QOS, QOS_KEYS, Ros2QosPolicies, parse_qos

__all__ = ["BridgeSpec", "TopicSpec", "parse_bridge_config"]

BRIDGE_KEYS = (
    "topic",
    "message_type",
    "direction",
    "topics",
    "service",
    "service_type",
    "action",
    "action_type",
    "role",
    "qos",
    "namespace",
    "node_name",
    "transport",
    "backend",
    "response_timeout",
    "goal_timeout",
    "result_timeout",
)
TOPIC_KEYS = ("topic", "message_type", "direction", "output", "input", "qos")
MAX_TOPICS = 64
# How long a service waits for its response (s): a server for the dora handler's, after which the
# request is dropped; a client for the ROS server's. dora-rs's SERVICE_RESPONSE_TIMEOUT.
DEFAULT_RESPONSE_TIMEOUT = 30.0
# How long a YAML action client's goal may take in all, from sending to its result, before the
# bridge cancels it and reports the failure (s).
DEFAULT_GOAL_TIMEOUT = 3600.0
# How long an action server keeps an ended goal's result for clients that ask later (s): ROS 2's
# default `result_timeout` (rclpy's ActionServer, rcl_action's server options).
DEFAULT_RESULT_TIMEOUT = 900.0


@dataclass(frozen=True)
class TopicSpec:
    """One bridged topic."""

    topic: str  # as written (resolved against the namespace by the bridge node)
    message_type: str  # canonical pkg/msg/Type
    direction: Literal["subscribe", "publish"]
    dora_id: str  # output id (subscribe) or input id (publish)
    explicit_id: bool  # `output`/`input` given (multi-topic) rather than derived
    qos: Ros2QosPolicies


@dataclass(frozen=True)
class BridgeSpec:
    """A whole `ros2:` mapping."""

    mode: Literal["topics", "service", "action"]
    topics: tuple[TopicSpec, ...]
    single: bool  # `topic:` rather than `topics:`
    name: str | None  # service or action name
    type_name: str | None  # canonical pkg/srv/T or pkg/action/T
    role: Literal["client", "server"] | None
    qos: Ros2QosPolicies
    namespace: str
    node_name: str | None
    backend: str | None
    # Services only; see DEFAULT_RESPONSE_TIMEOUT.
    response_timeout: float = DEFAULT_RESPONSE_TIMEOUT
    # Action clients only; see DEFAULT_GOAL_TIMEOUT.
    goal_timeout: float = DEFAULT_GOAL_TIMEOUT
    # Action servers only; see DEFAULT_RESULT_TIMEOUT.
    result_timeout: float = DEFAULT_RESULT_TIMEOUT

    def implied_outputs(self) -> tuple[str, ...]:
        if self.mode == "topics":
            return tuple(t.dora_id for t in self.topics if t.direction == "subscribe")
        if self.mode == "service":
            return ("response",) if self.role == "client" else ("request",)
        return ("feedback", "result") if self.role == "client" else ("goal", "cancel")

    def output_types(self) -> dict[str, str]:
        """The ROS 2 type of each output's values (`output id -> pkg/msg/T`, `pkg/srv/T_Response`,
        ...), which the bridge node sends as the `ros2.type` metadata parameter. An action
        server's `cancel` output carries a goal id string, no ROS type."""
        if self.mode == "topics":
            return {t.dora_id: t.message_type for t in self.topics if t.direction == "subscribe"}
        parts = {
            ("service", "client"): {"response": "Response"},
            ("service", "server"): {"request": "Request"},
            ("action", "client"): {"feedback": "Feedback", "result": "Result"},
            ("action", "server"): {"goal": "Goal"},
        }[(self.mode, self.role or "")]
        return {output: f"{self.type_name}_{part}" for output, part in parts.items()}

    def implied_inputs(self) -> tuple[str, ...]:
        if self.mode == "topics":
            return tuple(t.dora_id for t in self.topics if t.direction == "publish")
        if self.mode == "service":
            return ("request",) if self.role == "client" else ("response",)
        return ("goal",) if self.role == "client" else ("feedback", "result")


class _Where:
    """Builds `file:line: node 'x': ros2.<path>: ...` messages from line-annotated YAML maps."""

    def __init__(self, node_id: str, location: Any) -> None:
        self.node_id = node_id
        self.location = location

    def fail(self, mapping: Any, key: Any, message: str) -> DescriptorError:
        line = self.location.line if self.location is not None else 0
        line_of = getattr(mapping, "line_of", None)
        if callable(line_of) and key is not None:
            try:
                line = line_of(key)
            except Exception:  # a plain dict from a Python caller has no line numbers
                pass
        file = getattr(self.location, "file", None)
        prefix = f"{getattr(file, 'name', file)}:{line}: " if file is not None else ""
        return DescriptorError(f"{prefix}node '{self.node_id}': ros2: {message}")


def _suggest(key: str, known: tuple[str, ...]) -> str:
    hint = difflib.get_close_matches(key, known, n=1)
    return f"; did you mean '{hint[0]}'?" if hint else f" (known keys: {', '.join(known)})"


def parse_bridge_config(
    config: Mapping[str, Any], node_id: str, location: Any = None
) -> BridgeSpec:
    """Parse and check a `ros2:` mapping (raises DescriptorError naming file:line and the key)."""
    where = _Where(node_id, location)
    if not isinstance(config, Mapping):
        raise where.fail(None, None, "must be a mapping")
    for key in config:
        if key not in BRIDGE_KEYS:
            raise where.fail(config, key, f"unknown key '{key}'{_suggest(str(key), BRIDGE_KEYS)}")
    modes = [k for k in ("topic", "topics", "service", "action") if k in config]
    if len(modes) != 1:
        found = " and ".join(f"'{m}'" for m in modes) or "none"
        raise where.fail(
            config,
            modes[1] if len(modes) > 1 else None,
            f"needs exactly one of 'topic', 'topics', 'service', 'action' (found {found})",
        )
    mode = modes[0]

    transport = config.get("transport")
    if transport is not None:
        kind = transport.get("kind") if isinstance(transport, Mapping) else transport
        if str(kind).lower() != "dds":
            raise where.fail(
                config,
                "transport",
                f"transport '{kind}' is not supported (dora-ros speaks DDS only)",
            )
    backend = config.get("backend")
    if backend is not None and str(backend).lower() not in (*BACKENDS, "cyclone"):
        raise where.fail(
            config, "backend", f"unknown backend {backend!r} (use one of {', '.join(BACKENDS)})"
        )
    backend = (
        None
        if backend is None
        else ("cyclonedds" if str(backend).lower() == "cyclone" else str(backend).lower())
    )

    qos = _qos(config, DEFAULT_QOS, where, "")

    namespace = config.get("namespace", "/")
    if not isinstance(namespace, str) or (namespace.strip("/") and _invalid_name(namespace)):
        raise where.fail(
            config, "namespace", f"namespace {namespace!r} is not a valid ROS 2 namespace"
        )
    node_name = config.get("node_name")
    if node_name is not None and (
        not isinstance(node_name, str) or "/" in node_name or _invalid_name(node_name)
    ):
        raise where.fail(
            config, "node_name", f"node_name {node_name!r} is not a valid ROS 2 node name"
        )

    common: dict[str, Any] = {
        "qos": qos,
        "namespace": namespace,
        "node_name": node_name,
        "backend": backend,
    }
    if mode != "service" and "response_timeout" in config:
        raise where.fail(
            config, "response_timeout", f"'response_timeout' belongs to a service, not to '{mode}'"
        )
    # An action with a role that is neither client nor server: the role check below says so.
    if "goal_timeout" in config and (mode != "action" or config.get("role") == "server"):
        raise where.fail(
            config, "goal_timeout", f"'goal_timeout' belongs to an action client, not to '{mode}'"
        )
    if "result_timeout" in config and (mode != "action" or config.get("role") == "client"):
        raise where.fail(
            config,
            "result_timeout",
            f"'result_timeout' belongs to an action server, not to '{mode}'"
            + (" (a client's goals end with 'goal_timeout')" if mode == "action" else ""),
        )
    if mode in ("topic", "topics"):
        for key in ("service_type", "action_type", "role"):
            if key in config:
                raise where.fail(
                    config, key, f"'{key}' belongs to a service or action, not to '{mode}'"
                )
        if mode == "topic":
            if "message_type" not in config:
                raise where.fail(
                    config, "topic", "'topic' needs 'message_type' (e.g. std_msgs/String)"
                )
            topics: tuple[TopicSpec, ...] = (_topic(config, config, where, qos, single=True),)
        else:
            items = config["topics"]
            if not isinstance(items, list) or not items:
                raise where.fail(
                    config, "topics", "'topics' must be a non-empty list of topic mappings"
                )
            if len(items) > MAX_TOPICS:
                raise where.fail(config, "topics", f"at most {MAX_TOPICS} topics per bridge node")
            for key in ("message_type", "direction"):
                if key in config:
                    raise where.fail(config, key, f"'{key}' goes inside each entry of 'topics'")
            topics = tuple(
                _topic(item, items, where, qos, single=False, index=i)
                for i, item in enumerate(items)
            )
            seen: dict[str, str] = {}
            for spec in topics:
                if spec.dora_id in seen:
                    raise where.fail(
                        config,
                        "topics",
                        f"topics '{seen[spec.dora_id]}' and '{spec.topic}' both map to dora id "
                        f"'{spec.dora_id}'; give one an explicit 'output'/'input'",
                    )
                seen[spec.dora_id] = spec.topic
        return BridgeSpec("topics", topics, mode == "topic", None, None, None, **common)

    kind, type_key = ("srv", "service_type") if mode == "service" else ("action", "action_type")
    for key in ("message_type", "direction"):
        if key in config:
            raise where.fail(config, key, f"'{key}' belongs to topics, not to '{mode}'")
    name = config[mode]
    if not isinstance(name, str) or _invalid_name(name):
        raise where.fail(config, mode, f"{mode} name {name!r} is not a valid ROS 2 name")
    if type_key not in config:
        raise where.fail(config, mode, f"'{mode}' needs '{type_key}'")
    type_name = _type(config, type_key, kind, where)
    role = config.get("role")
    if role not in ("client", "server"):
        raise where.fail(
            config,
            "role" if "role" in config else mode,
            f"'{mode}' needs 'role: client' or 'role: server' (got {role!r})",
        )
    if backend == "cyclonedds":
        raise where.fail(
            config,
            "backend",
            f"{'a service' if mode == 'service' else 'an action'} needs backend 'rclpy': the Cyclone DDS backend cannot pair service "
            "replies with requests the way Fast DDS does",
        )
    if mode == "service":
        common["response_timeout"] = _seconds(
            config, "response_timeout", DEFAULT_RESPONSE_TIMEOUT, where
        )
    elif role == "client":
        common["goal_timeout"] = _seconds(config, "goal_timeout", DEFAULT_GOAL_TIMEOUT, where)
    else:
        common["result_timeout"] = _seconds(config, "result_timeout", DEFAULT_RESULT_TIMEOUT, where)
    return BridgeSpec(mode, (), False, name, type_name, role, **common)  # type: ignore[arg-type]


def positive_seconds(value: Any) -> bool:
    """A number of seconds a timeout may be: finite, above 0 (a bool is not a number here)."""
    return (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
        and value > 0
    )


def _seconds(config: Mapping[str, Any], key: str, default: float, where: _Where) -> float:
    value = config.get(key, default)
    if not positive_seconds(value):
        raise where.fail(
            config,
            key,
            f"{key} {value!r} must be a positive number of seconds",
        )
    return float(value)


def _qos(
    mapping: Mapping[str, Any], base: Ros2QosPolicies, where: _Where, label: str
) -> Ros2QosPolicies:
    """Parse `mapping["qos"]`, pointing an error at the line of the bad QoS key."""
    raw = mapping.get("qos")
    try:
        return parse_qos(raw, base)
    except BridgeError as err:
        if isinstance(raw, Mapping):
            for key, value in raw.items():  # find the key at fault for its line number
                try:
                    parse_qos({key: value}, base)
                except BridgeError:
                    raise where.fail(raw, key, f"{label}{err}") from err
        raise where.fail(mapping, "qos", f"{label}{err}") from err


def _invalid_name(name: str) -> bool:
    try:
        resolve_name(name, "/", "n")
    except BridgeError:
        return True
    return False


def _type(mapping: Mapping[str, Any], key: str, kind: str, where: _Where) -> str:
    try:
        canonical = canonical_type(mapping[key], kind)
    except BridgeError as err:
        raise where.fail(mapping, key, f"'{key}': {err}") from err
    _check_known(mapping, key, canonical, kind, where)
    return canonical


def _check_known(
    mapping: Mapping[str, Any], key: str, canonical: str, kind: str, where: _Where
) -> None:
    """Reject a type msgconv does not know (with its close-match suggestion), when msgconv is there."""
    try:
        from .. import msgconv
    except ImportError:  # pragma: no cover
        return
    arrow_type = getattr(msgconv, "arrow_type", None)
    if arrow_type is None:  # pragma: no cover - msgconv not built yet
        return
    probe = canonical if kind == "msg" else canonical + ("_Request" if kind == "srv" else "_Goal")
    try:
        arrow_type(probe)
    except Exception as err:  # MsgConvError: unknown type, with close matches
        raise where.fail(mapping, key, f"'{key}': {err}") from err


def _topic(
    item: Any,
    parent: Any,
    where: _Where,
    base_qos: Ros2QosPolicies,
    *,
    single: bool,
    index: int | None = None,
) -> TopicSpec:
    label = "" if single else f"topics[{index}]: "
    if not isinstance(item, Mapping):
        raise where.fail(
            parent, index, f"{label}each topic must be a mapping with 'topic' and 'message_type'"
        )
    if not single:
        for key in item:
            if key not in TOPIC_KEYS:
                raise where.fail(
                    item, key, f"{label}unknown key '{key}'{_suggest(str(key), TOPIC_KEYS)}"
                )
        for key in ("topic", "message_type"):
            if key not in item:
                raise where.fail(item, None, f"{label}missing '{key}'")
    topic = item["topic"]
    if not isinstance(topic, str) or _invalid_name(topic):
        raise where.fail(item, "topic", f"{label}topic {topic!r} is not a valid ROS 2 topic name")
    message_type = _type(item, "message_type", "msg", where)
    direction = item.get("direction", "subscribe")
    if direction not in ("subscribe", "publish"):
        raise where.fail(
            item, "direction", f"{label}direction {direction!r} must be 'subscribe' or 'publish'"
        )
    id_key = "output" if direction == "subscribe" else "input"
    wrong_key = "input" if direction == "subscribe" else "output"
    if not single and wrong_key in item:
        raise where.fail(
            item, wrong_key, f"{label}a '{direction}' topic has '{id_key}', not '{wrong_key}'"
        )
    explicit = item.get(id_key) if not single else None
    if explicit is not None and (not isinstance(explicit, str) or not explicit or "/" in explicit):
        raise where.fail(item, id_key, f"{label}'{id_key}' must be a dora id without '/'")
    qos = base_qos
    if not single and "qos" in item:
        qos = _qos(item, base_qos, where, label)
    return TopicSpec(
        topic=topic,
        message_type=message_type,
        direction=direction,
        dora_id=explicit or dora_id_from_topic(topic),
        explicit_id=explicit is not None,
        qos=qos,
    )


__all__ += ["BRIDGE_KEYS", "DEFAULT_RESPONSE_TIMEOUT", "QOS_KEYS", "TOPIC_KEYS"]
