"""ROS 2 quality-of-service policies: the Python API's classes and the YAML `qos:` parser.

`Ros2QosPolicies`, `Ros2Durability` and `Ros2Liveliness` carry the names and constructor signature of
dora-rs 1.1's `dora.Ros2QosPolicies` & co., so code written for `dora` runs by changing its import.
The *defaults* differ on purpose: an argument left as `None` takes ROS 2's default profile
(reliable, volatile, keep_last 10, automatic liveliness, infinite lease), which is what every default
rclpy/rclcpp publisher and subscription uses. dora-rs defaults to best-effort keep_last 1, which a
default (reliable) rclpy subscription never matches; see `docs/bridge.md`.

Both backends (rclpy and Cyclone DDS) read the plain attributes of a `Ros2QosPolicies`:

=====================  =================================================================
`reliable`             bool; True = RELIABLE, False = BEST_EFFORT
`durability`           `Ros2Durability` (Volatile, TransientLocal, Transient, Persistent)
`liveliness`           `Ros2Liveliness` (Automatic, ManualByParticipant, ManualByTopic)
`lease_duration`       float seconds; `math.inf` = infinite (DDS default)
`max_blocking_time`    float seconds a reliable writer may block on a full history
`keep_all`             bool; True = KEEP_ALL history (then `keep_last` is ignored)
`keep_last`            int >= 1; history depth when `keep_all` is False
`deadline`             float seconds between samples (DDS 2.2.3.7); `math.inf` = none
`lifespan`             float seconds a sample stays valid (DDS 2.2.3.16); `math.inf` = for ever
=====================  =================================================================

`deadline` and `lifespan` are dora-ros extensions (dora-rs 1.1 has neither), added at the end of the
constructor's arguments so dora-rs's calls are unchanged. Deadline is a requested/offered policy: a
ROS subscription that requests a deadline matches only publishers offering one at least as short,
so a bridge publisher needs it to reach such a subscription.

`keep_last` accepts what dora-rs accepts, any 32-bit integer: dora-rs hands the value to RustDDS
unchecked, where a depth of 0 or below makes the writer keep no history beyond the sample being
sent, and rmw reads a KEEP_LAST depth of 0 as "the middleware's default" (1 for Fast DDS). Both
amount to a depth of 1, which is what such a value becomes here. Values above 2**31 - 1 are an error
(dora-rs: OverflowError); large depths construct (DDS allocates history lazily).
"""

from __future__ import annotations

import difflib
import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..errors import BridgeError

__all__ = [
    "ACTION_STATUS_QOS",
    "DEFAULT_QOS",
    "LATCHED_READER_DEPTH",
    "PARAMETER_EVENTS_QOS",
    "SERVICE_QOS",
    "QosError",
    "Ros2Durability",
    "Ros2Liveliness",
    "Ros2QosPolicies",
    "parse_qos",
    "reader_qos",
]


class QosError(BridgeError):
    """A QoS setting is invalid (unknown `qos:` key, bad value, out-of-range depth)."""


class _DoraEnum(enum.IntEnum):
    """An IntEnum shown as dora shows its enums, `Ros2Durability.Volatile`, by repr and str."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    __str__ = __repr__


class Ros2Durability(_DoraEnum):
    """DDS 2.2.3.4 DURABILITY (same members and integer values as `dora.Ros2Durability`)."""

    Volatile = 0
    TransientLocal = 1
    Transient = 2
    Persistent = 3


class Ros2Liveliness(_DoraEnum):
    """DDS 2.2.3.11 LIVELINESS (same members and integer values as `dora.Ros2Liveliness`)."""

    Automatic = 0
    ManualByParticipant = 1
    ManualByTopic = 2


# ROS 2's rmw_qos_profile_default (reliable, volatile, keep_last 10); DDS's 100 ms blocking time.
_DEFAULT_RELIABLE = True
_DEFAULT_KEEP_LAST = 10
_DEFAULT_MAX_BLOCKING_TIME = 0.1
# dora-rs's keep_last is an i32; DDS's history depth is a 32-bit signed integer too.
_MIN_DEPTH, _MAX_DEPTH = -(2**31), 2**31 - 1


@dataclass(frozen=True, init=False)
class Ros2QosPolicies:
    """ROS 2 QoS policies for a topic, service or action (signature of `dora.Ros2QosPolicies`).

    Every argument left as `None` takes ROS 2's default (reliable, volatile, keep_last 10, no
    deadline, infinite lifespan). `deadline` and `lifespan` are dora-ros extensions.

    Raises:
        QosError: `keep_last` not a 32-bit integer, or a negative/NaN duration.
    """

    durability: Ros2Durability
    liveliness: Ros2Liveliness
    reliable: bool
    keep_all: bool
    lease_duration: float
    max_blocking_time: float
    keep_last: int
    deadline: float
    lifespan: float

    def __init__(
        self,
        durability: Ros2Durability | None = None,
        liveliness: Ros2Liveliness | None = None,
        reliable: bool | None = None,
        keep_all: bool | None = None,
        lease_duration: float | None = None,
        max_blocking_time: float | None = None,
        keep_last: int | None = None,
        deadline: float | None = None,
        lifespan: float | None = None,
    ) -> None:
        values = {
            "durability": Ros2Durability(
                Ros2Durability.Volatile if durability is None else int(durability)
            ),
            "liveliness": Ros2Liveliness(
                Ros2Liveliness.Automatic if liveliness is None else int(liveliness)
            ),
            "reliable": _DEFAULT_RELIABLE if reliable is None else bool(reliable),
            "keep_all": False if keep_all is None else bool(keep_all),
            "lease_duration": _duration(
                "lease_duration", math.inf if lease_duration is None else lease_duration
            ),
            "max_blocking_time": _duration(
                "max_blocking_time",
                _DEFAULT_MAX_BLOCKING_TIME if max_blocking_time is None else max_blocking_time,
            ),
            "keep_last": _depth(_DEFAULT_KEEP_LAST if keep_last is None else keep_last),
            "deadline": _duration("deadline", math.inf if deadline is None else deadline),
            "lifespan": _duration("lifespan", math.inf if lifespan is None else lifespan),
        }
        for key, value in values.items():
            object.__setattr__(self, key, value)

    @property
    def depth(self) -> int:
        """History depth as rmw reports it: `keep_last`, or 0 for keep_all."""
        return 0 if self.keep_all else self.keep_last

    def describe(self) -> str:
        """The policies in a log line's words: `reliable, transient_local, keep_last 1, ...`."""
        parts = [
            "reliable" if self.reliable else "best_effort",
            _DURABILITY_NAMES[self.durability],
            "keep_all" if self.keep_all else f"keep_last {self.keep_last}",
        ]
        if self.liveliness != Ros2Liveliness.Automatic or not math.isinf(self.lease_duration):
            parts.append(f"liveliness {self.liveliness.name} {_seconds(self.lease_duration)}")
        if not math.isinf(self.deadline):
            parts.append(f"deadline {_seconds(self.deadline)}")
        if not math.isinf(self.lifespan):
            parts.append(f"lifespan {_seconds(self.lifespan)}")
        return ", ".join(parts)

    def with_(self, **changes: Any) -> Ros2QosPolicies:
        """A copy with some policies changed (validated like the constructor)."""
        return replace(self, **changes)


_DURABILITY_NAMES = {
    Ros2Durability.Volatile: "volatile",
    Ros2Durability.TransientLocal: "transient_local",
    Ros2Durability.Transient: "transient",
    Ros2Durability.Persistent: "persistent",
}


def _seconds(value: float) -> str:
    return "infinite" if math.isinf(value) else f"{value:g} s"


def _duration(name: str, value: float) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError) as err:
        raise QosError(f"qos '{name}': {value!r} is not a number of seconds") from err
    if math.isnan(seconds) or seconds < 0:
        raise QosError(f"qos '{name}': {value!r} must be a non-negative number of seconds")
    return seconds


def _depth(value: int) -> int:
    """A history depth as dora-rs takes it (any i32); 0 and below mean 1 (see the module doc)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not _MIN_DEPTH <= value <= _MAX_DEPTH
    ):
        raise QosError(
            f"qos 'keep_last': {value!r} must be a 32-bit integer (at most {_MAX_DEPTH}; "
            "0 and below mean 1)"
        )
    return max(1, value)


# `dataclasses.replace` calls __init__ with every field; our __init__ accepts them all by name.

LATCHED_READER_DEPTH = 100
"""The least history a transient_local subscription keeps (tf2_ros's static listener keeps 100)."""


def reader_qos(qos: Ros2QosPolicies) -> Ros2QosPolicies:
    """The QoS a subscription is created with: `qos`, but a latched one keeps at least 100 samples.

    A late joiner to a transient_local topic receives every matched publisher's history at once:
    on `/tf_static` one sample from each static broadcaster. With the depth 1 that the publishers
    use (and a user copies), all but the last would be overwritten before they are taken. History
    is not a requested/offered policy, so the larger depth changes no match.
    """
    if qos.durability == Ros2Durability.Volatile or qos.keep_all:
        return qos
    if qos.keep_last >= LATCHED_READER_DEPTH:
        return qos
    return qos.with_(keep_last=LATCHED_READER_DEPTH)


DEFAULT_QOS = Ros2QosPolicies()
"""ROS 2's default profile for topics: reliable, volatile, keep_last 10."""

SERVICE_QOS = Ros2QosPolicies()
"""rmw_qos_profile_services_default: reliable, volatile, keep_last 10."""

ACTION_STATUS_QOS = Ros2QosPolicies(durability=Ros2Durability.TransientLocal, keep_last=1)
"""rcl_action_qos_profile_status_default: reliable, transient_local, keep_last 1."""

PARAMETER_EVENTS_QOS = Ros2QosPolicies(keep_last=1000)
"""rmw_qos_profile_parameter_events: reliable, volatile, keep_last 1000."""


# --- YAML `qos:` ------------------------------------------------------------------------------

_DURABILITIES = {
    "volatile": Ros2Durability.Volatile,
    "transient_local": Ros2Durability.TransientLocal,
    "transient": Ros2Durability.Transient,
    "persistent": Ros2Durability.Persistent,
}
_LIVELINESSES = {
    "automatic": Ros2Liveliness.Automatic,
    "manual_by_participant": Ros2Liveliness.ManualByParticipant,
    "manual_by_topic": Ros2Liveliness.ManualByTopic,
}
QOS_KEYS = (
    "reliable",
    "durability",
    "liveliness",
    "lease_duration",
    "keep_last",
    "keep_all",
    "max_blocking_time",
    "deadline",
    "lifespan",
)


def parse_qos(raw: Any, base: Ros2QosPolicies = DEFAULT_QOS) -> Ros2QosPolicies:
    """Parse a YAML `qos:` mapping on top of `base` (keys not given keep `base`'s value).

    Keys: `reliable` (bool), `durability` (`volatile`, `transient_local`, `transient`,
    `persistent`), `liveliness` (`automatic`, `manual_by_participant`, `manual_by_topic`),
    `lease_duration`, `max_blocking_time`, `deadline` and `lifespan` (seconds), `keep_last` (an
    integer; 0 and below mean 1), `keep_all` (bool).

    Raises:
        QosError: naming the bad key and value (the caller prefixes the file:line).
    """
    if raw is None:
        return base
    if not isinstance(raw, Mapping):
        raise QosError(f"'qos' must be a mapping of QoS policies, not {type(raw).__name__}")
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in QOS_KEYS:
            hint = difflib.get_close_matches(str(key), QOS_KEYS, n=1)
            suggestion = (
                f"; did you mean '{hint[0]}'?" if hint else f" (known: {', '.join(QOS_KEYS)})"
            )
            raise QosError(f"unknown qos key '{key}'{suggestion}")
        if key in ("reliable", "keep_all"):
            if not isinstance(value, bool):
                raise QosError(f"qos '{key}': {value!r} must be true or false")
            changes[key] = value
        elif key == "durability":
            changes[key] = _choice(key, value, _DURABILITIES)
        elif key == "liveliness":
            changes[key] = _choice(key, value, _LIVELINESSES)
        elif key == "keep_last":
            changes[key] = _depth(value)
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise QosError(f"qos '{key}': {value!r} must be a number of seconds")
            changes[key] = _duration(key, value)
    return replace(base, **changes)


def _choice(key: str, value: Any, choices: Mapping[str, Any]) -> Any:
    if not isinstance(value, str) or value.lower() not in choices:
        raise QosError(f"qos '{key}': {value!r} is not one of {', '.join(choices)}")
    return choices[value.lower()]
