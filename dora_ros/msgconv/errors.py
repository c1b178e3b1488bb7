"""The errors msgconv raises: one `MsgConvError` subclass per kind of mistake.

Every message names the interface type and, for value errors, the field path
(`geometry_msgs/msg/Pose: field 'position.x': ...`), so the user can find the bad value.
"""

from __future__ import annotations

from ..errors import MsgConvError

__all__ = [
    "ArrayLengthError",
    "BoundError",
    "CdrError",
    "DefinitionError",
    "MsgConvError",
    "OutOfRangeError",
    "UnknownFieldError",
    "UnknownTypeError",
    "ValueKindError",
]


class UnknownTypeError(MsgConvError):
    """A type name names no installed interface (the message lists close matches)."""


class DefinitionError(MsgConvError):
    """An interface file (.msg, .srv, .action, .idl) is malformed; names `file:line`."""


class UnknownFieldError(MsgConvError):
    """A value to encode has a field the type does not have."""


class ValueKindError(MsgConvError):
    """A value is of a kind that cannot convert to the field's type (a string for a number)."""


class OutOfRangeError(MsgConvError):
    """A number does not fit the field's type (`uint8` = 300, 1e40 for `float32`)."""


class BoundError(MsgConvError):
    """A string or sequence is longer than its bound (`string<=10`, `int32[<=5]`)."""


class ArrayLengthError(MsgConvError):
    """A fixed-size array (`float64[9]`) got a value of another length."""


class CdrError(MsgConvError):
    """CDR bytes are truncated or malformed (bad header, length past the end, bad UTF-8)."""


def a_or_an(word: str) -> str:
    """`word` with its indefinite article as it is read: "an int32[3]", "a uint8", "an ndarray"."""
    lower = word.lower()
    vowel = lower[:1] in ("a", "e", "i", "o") or (lower[:1] == "u" and not lower.startswith("uint"))
    return f"{'an' if vowel or lower.startswith('nd') else 'a'} {word}"


def field_error(cls: type[MsgConvError], type_name: str, path: str, message: str) -> MsgConvError:
    """An error of class `cls` worded `type: field 'path': message` (path may be empty)."""
    where = f"{type_name}: field '{path}': " if path else f"{type_name}: "
    return cls(where + message)
