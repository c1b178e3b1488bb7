"""Forms of ROS 2 interface type names and how they resolve to a file and a part of it.

Accepted forms (all resolve to one canonical name):

| written                              | canonical                              |
|--------------------------------------|----------------------------------------|
| `pkg/Type`, `pkg/msg/Type`           | `pkg/msg/Type`                         |
| `pkg/srv/Type_Request` / `_Response` | same (a part of service `pkg/srv/Type`)|
| `pkg/action/Type_Goal` / `_Result` / `_Feedback` | same                       |
| `pkg/action/Type_SendGoal_Request`, `_SendGoal_Response`, `_GetResult_Request`, `_GetResult_Response`, `_FeedbackMessage`, `_SendGoal_Event`, `_GetResult_Event` | same (derived action types) |
| `pkg/Type_Request`, `pkg/Type_Goal`, ... | the part, when `pkg` has no message of that name |

`pkg/Type` is ambiguous where a package has a message and a service of one name (test_msgs has
`Arrays` as both): a context (`message_type`/`msg`, `service_type`/`srv`, `action_type`/`action`)
chooses; without one it is the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "ACTION_PARTS",
    "CONTEXTS",
    "SERVICE_PARTS",
    "TypeName",
    "candidates",
    "split_type_name",
]

#: Suffixes of the message types inside a service, in file order (Event: ROS 2 Iron+ introspection).
SERVICE_PARTS = ("Request", "Response", "Event")
#: Suffixes of the message types of an action (longest first so `_SendGoal_Request` wins).
ACTION_PARTS = (
    "SendGoal_Event",
    "GetResult_Event",
    "SendGoal_Request",
    "SendGoal_Response",
    "GetResult_Request",
    "GetResult_Response",
    "FeedbackMessage",
    "Goal",
    "Result",
    "Feedback",
)
#: Context words (as the bridge's YAML keys say them) -> interface kind.
CONTEXTS = {
    None: "msg",
    "msg": "msg",
    "message": "msg",
    "message_type": "msg",
    "srv": "srv",
    "service": "srv",
    "service_type": "srv",
    "action": "action",
    "action_type": "action",
}

_PART = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class TypeName:
    """One way to read a name: the interface file (`pkg`, `kind`, `base`) and the part in it.

    `part` is None for the whole interface (a message, or a whole service/action).
    """

    package: str
    kind: str  # msg, srv, action
    base: str  # file stem: Type
    part: str | None = None

    @property
    def interface(self) -> str:
        """`pkg/kind/Type` of the file."""
        return f"{self.package}/{self.kind}/{self.base}"

    @property
    def canonical(self) -> str:
        """`pkg/msg/Type`, `pkg/srv/Type_Request`, `pkg/action/Type_Goal`, ..."""
        return self.interface + (f"_{self.part}" if self.part else "")


def split_type_name(name: str) -> tuple[str, str | None, str] | None:
    """(`pkg`, `kind` or None, `Type`) of `pkg/Type` or `pkg/kind/Type`; None if malformed."""
    if not isinstance(name, str):
        return None
    parts = name.strip().strip("/").split("/")
    if len(parts) == 2 and _PART.match(parts[0]) and _PART.match(parts[1]):
        return parts[0], None, parts[1]
    if (
        len(parts) == 3
        and parts[1] in ("msg", "srv", "action")
        and _PART.match(parts[0])
        and _PART.match(parts[2])
    ):
        return parts[0], parts[1], parts[2]
    return None


def _part_readings(package: str, kind: str, stem: str) -> list[TypeName]:
    out = []
    suffixes = SERVICE_PARTS if kind == "srv" else ACTION_PARTS
    for suffix in suffixes:
        if stem.endswith("_" + suffix) and len(stem) > len(suffix) + 1:
            out.append(TypeName(package, kind, stem[: -len(suffix) - 1], suffix))
    return out


def candidates(name: str, context: str | None = None) -> list[TypeName]:
    """The readings of `name`, most likely first; the registry takes the first whose file exists.

    Raises:
        ValueError: `context` is not one of `CONTEXTS`.
    """
    if context not in CONTEXTS:
        raise ValueError(
            f"unknown context {context!r} (one of message_type, service_type, action_type)"
        )
    split = split_type_name(name)
    if split is None:
        return []
    package, kind, stem = split
    want = CONTEXTS[context]
    if kind == "msg":
        return [TypeName(package, "msg", stem)]
    if kind in ("srv", "action"):
        return [TypeName(package, kind, stem), *_part_readings(package, kind, stem)]
    # pkg/Type: the context's kind first, then the message, then parts of services and actions.
    out = [TypeName(package, want, stem)]
    if want != "msg":
        out.append(TypeName(package, "msg", stem))
    out += _part_readings(package, "srv", stem) + _part_readings(package, "action", stem)
    if want == "msg":
        out += [TypeName(package, "srv", stem), TypeName(package, "action", stem)]
    return out
