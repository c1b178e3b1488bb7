"""ROS 2 names as the bridge uses them: interface type names, topic names and default dora ids."""

from __future__ import annotations

import re

from ..errors import BridgeError

__all__ = ["canonical_type", "dora_id_from_topic", "part_type", "resolve_name"]

_KINDS = ("msg", "srv", "action")
_PART = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_NAME_TOKEN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def canonical_type(type_name: str, kind: str) -> str:
    """`pkg/Type` or `pkg/<kind>/Type` as `pkg/<kind>/Type`, where `kind` is msg, srv or action.

    Raises:
        BridgeError: a malformed name, or one of another kind (`pkg/srv/X` as a message type).
    """
    if not isinstance(type_name, str):
        raise BridgeError(f"{kind} type must be a string like 'pkg/Type', not {type_name!r}")
    parts = type_name.strip().split("/")
    if len(parts) == 2 and all(_PART.match(p) for p in parts):
        return f"{parts[0]}/{kind}/{parts[1]}"
    if len(parts) == 3 and _PART.match(parts[0]) and _PART.match(parts[2]):
        if parts[1] != kind:
            raise BridgeError(
                f"{type_name!r} is a '{parts[1]}' type, but a '{kind}' type is needed here"
                f" (e.g. '{parts[0]}/{kind}/{parts[2]}')"
            )
        return "/".join(parts)
    raise BridgeError(f"{type_name!r} is not a ROS 2 {kind} type name like 'pkg/{kind}/Type'")


def part_type(canonical: str, part: str) -> str:
    """The msgconv name of one part of a service or action: `pkg/srv/T` + `Request` -> `pkg/srv/T_Request`."""
    return f"{canonical}_{part}"


def resolve_name(name: str, namespace: str, node_name: str) -> str:
    """The fully qualified ROS 2 name of topic/service/action `name` for a node in `namespace`.

    Raises:
        BridgeError: the name is not a valid ROS 2 name.
    """
    if not isinstance(name, str) or not name.strip():
        raise BridgeError(f"{name!r} is not a ROS 2 name")
    namespace = "/" + namespace.strip("/") if namespace.strip("/") else ""
    if name.startswith("~"):
        full = f"{namespace}/{node_name}{name[1:]}"
    elif name.startswith("/"):
        full = name
    else:
        full = f"{namespace}/{name}"
    tokens = full.strip("/").split("/")
    if full.endswith("/") or not all(_NAME_TOKEN.match(t) for t in tokens):
        raise BridgeError(
            f"{name!r} is not a valid ROS 2 name (tokens of letters, digits and '_', "
            "not starting with a digit, separated by '/')"
        )
    return "/" + "/".join(tokens)


def dora_id_from_topic(topic: str) -> str:
    """The default dora input/output id of a ROS topic: `/turtle1/pose` -> `turtle1_pose`."""
    return topic.strip("/").replace("/", "_").replace("~", "")
