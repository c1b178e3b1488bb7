"""Parsed ROS 2 interface definitions: plain, immutable descriptions of messages.

A `.msg`, `.srv`, `.action` or `.idl` file is parsed once into these frozen dataclasses; everything
else (Arrow schemas, CDR codecs, the bridge's DDS types) is derived from them. Type names inside are
always canonical: `pkg/msg/Type`, `pkg/srv/Type_Request`, `pkg/action/Type_Goal`.

A `FieldType` says what one field holds:

- `name`: a primitive (`bool`, `byte`, `char`, `int8` .. `uint64`, `float32`, `float64`,
  `string`, `wstring`) or a nested message's canonical name (`geometry_msgs/msg/Point`).
- `string_bound`: `N` for `string<=N` / `wstring<=N` (bound in characters, as rclpy checks it).
- `array`: `None` (a single value), `"fixed"` (`T[N]`), `"bounded"` (`T[<=N]`) or `"sequence"`
  (`T[]`); `length` is `N` for the first two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "PRIMITIVES",
    "ActionDefinition",
    "Constant",
    "Field",
    "FieldType",
    "MessageDefinition",
    "Primitive",
    "ServiceDefinition",
]

ArrayKind = Literal["fixed", "bounded", "sequence"]


@dataclass(frozen=True)
class Primitive:
    """A fixed-size primitive type: its CDR size, `struct` code, numpy dtype and value range."""

    name: str
    size: int  # bytes in CDR, also its alignment
    code: str  # struct module format character
    dtype: str  # numpy dtype (little-endian)
    arrow: str  # pyarrow type factory name
    low: float | int | None  # None for floats and bool
    high: float | int | None


_I = [
    ("int8", 1, "b", "i1", True),
    ("uint8", 1, "B", "u1", False),
    ("int16", 2, "h", "i2", True),
    ("uint16", 2, "H", "u2", False),
    ("int32", 4, "i", "i4", True),
    ("uint32", 4, "I", "u4", False),
    ("int64", 8, "q", "i8", True),
    ("uint64", 8, "Q", "u8", False),
]

#: Every fixed-size primitive by its .msg name; `byte` and `char` are 8-bit unsigned numbers.
PRIMITIVES: dict[str, Primitive] = {
    "bool": Primitive("bool", 1, "?", "?", "bool_", None, None),
    "byte": Primitive("byte", 1, "B", "u1", "uint8", 0, 255),
    "char": Primitive("char", 1, "B", "u1", "uint8", 0, 255),
    "float32": Primitive("float32", 4, "f", "f4", "float32", None, None),
    "float64": Primitive("float64", 8, "d", "f8", "float64", None, None),
    **{
        n: Primitive(
            n,
            s,
            c,
            d,
            n,
            -(1 << (8 * s - 1)) if signed else 0,
            (1 << (8 * s - 1)) - 1 if signed else (1 << (8 * s)) - 1,
        )
        for n, s, c, d, signed in _I
    },
}

STRINGS = ("string", "wstring")


@dataclass(frozen=True)
class FieldType:
    """The type of one field (see the module docstring)."""

    name: str
    string_bound: int | None = None
    array: ArrayKind | None = None
    length: int | None = None

    @property
    def is_primitive(self) -> bool:
        """A fixed-size primitive (not a string), possibly in an array."""
        return self.name in PRIMITIVES

    @property
    def is_string(self) -> bool:
        """`string` or `wstring` (bounded or not), possibly in an array."""
        return self.name in STRINGS

    @property
    def is_nested(self) -> bool:
        """A message type, possibly in an array."""
        return "/" in self.name

    @property
    def element(self) -> FieldType:
        """The type of one element (the type itself when not an array)."""
        return FieldType(self.name, self.string_bound) if self.array else self

    def __str__(self) -> str:
        text = self.name
        if self.string_bound is not None:
            text += f"<={self.string_bound}"
        if self.array == "fixed":
            text += f"[{self.length}]"
        elif self.array == "bounded":
            text += f"[<={self.length}]"
        elif self.array == "sequence":
            text += "[]"
        return text


@dataclass(frozen=True)
class Constant:
    """A constant of a message (`uint8 RED=1`): primitive or string type name and Python value."""

    name: str
    type: str
    value: bool | int | float | str


@dataclass(frozen=True)
class Field:
    """One field: name, type, explicit default (None when the file gives none) and the @key flag."""

    name: str
    type: FieldType
    default: Any = None  # bool/int/float/str, or a tuple of them for arrays
    key: bool = False


@dataclass(frozen=True)
class MessageDefinition:
    """A message type (also each part of a service or action), as parsed from its file.

    An empty message (`std_msgs/msg/Empty`) has no fields; in CDR it still takes one byte, the
    `structure_needs_at_least_one_member` that ROS 2 adds, which the codec writes and skips.
    """

    name: str  # canonical: pkg/msg/Type, pkg/srv/Type_Request, pkg/action/Type_Goal, ...
    fields: tuple[Field, ...]
    constants: tuple[Constant, ...] = ()
    source: str | None = None  # file it came from (None for derived action types)

    @property
    def package(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def short_name(self) -> str:
        """`Type` of `pkg/msg/Type`."""
        return self.name.rsplit("/", 1)[1]

    @property
    def keys(self) -> tuple[str, ...]:
        """Names of the `@key` fields (DDS keyed topics), in order."""
        return tuple(f.name for f in self.fields if f.key)

    @property
    def constants_dict(self) -> dict[str, bool | int | float | str]:
        return {c.name: c.value for c in self.constants}

    def field(self, name: str) -> Field:
        """The field called `name` (KeyError if none)."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


@dataclass(frozen=True)
class ServiceDefinition:
    """A service `pkg/srv/Type`: its request and response messages."""

    name: str
    request: MessageDefinition
    response: MessageDefinition
    source: str | None = None


@dataclass(frozen=True)
class ActionDefinition:
    """An action `pkg/action/Type`: goal, result, feedback and the messages ROS 2 derives from them.

    The derived types are built as rosidl does: `SendGoal_Request{goal_id: UUID, goal}`,
    `SendGoal_Response{accepted: bool, stamp: builtin_interfaces/msg/Time}`,
    `GetResult_Request{goal_id}`, `GetResult_Response{status: int8, result}`,
    `FeedbackMessage{goal_id, feedback}`.
    """

    name: str
    goal: MessageDefinition
    result: MessageDefinition
    feedback: MessageDefinition
    send_goal_request: MessageDefinition
    send_goal_response: MessageDefinition
    get_result_request: MessageDefinition
    get_result_response: MessageDefinition
    feedback_message: MessageDefinition
    source: str | None = None

    @property
    def messages(self) -> tuple[MessageDefinition, ...]:
        return (
            self.goal,
            self.result,
            self.feedback,
            self.send_goal_request,
            self.send_goal_response,
            self.get_result_request,
            self.get_result_response,
            self.feedback_message,
        )


UUID = "unique_identifier_msgs/msg/UUID"
TIME = "builtin_interfaces/msg/Time"


def make_action(
    name: str,
    goal: MessageDefinition,
    result: MessageDefinition,
    feedback: MessageDefinition,
    source: str | None = None,
) -> ActionDefinition:
    """The action `name` (`pkg/action/T`) with the derived types ROS 2 generates for it."""

    def msg(suffix: str, *fields: Field) -> MessageDefinition:
        return MessageDefinition(f"{name}_{suffix}", tuple(fields), (), None)

    goal_id = Field("goal_id", FieldType(UUID))
    return ActionDefinition(
        name=name,
        goal=goal,
        result=result,
        feedback=feedback,
        send_goal_request=msg("SendGoal_Request", goal_id, Field("goal", FieldType(goal.name))),
        send_goal_response=msg(
            "SendGoal_Response",
            Field("accepted", FieldType("bool")),
            Field("stamp", FieldType(TIME)),
        ),
        get_result_request=msg("GetResult_Request", goal_id),
        get_result_response=msg(
            "GetResult_Response",
            Field("status", FieldType("int8")),
            Field("result", FieldType(result.name)),
        ),
        feedback_message=msg(
            "FeedbackMessage", goal_id, Field("feedback", FieldType(feedback.name))
        ),
        source=source,
    )
