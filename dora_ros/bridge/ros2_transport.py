"""`Ros2Transport`: which middleware a `Ros2Context` speaks, as dora-rs 1.1's `dora.Ros2Transport`.

dora-rs 1.1 makes one with `Ros2Transport.dds()` or `Ros2Transport.zenoh(compatibility, config_uri)`
(the class itself cannot be instantiated) and passes it as `Ros2Context(transport=...)`; `.kind`
says which (`"dds"`, `"zenoh"`). dora-ros has the same constructors and checks, so code written for
dora-rs runs unchanged. DDS selects the bridge's DDS backends (rclpy/Fast DDS or Cyclone DDS, see
`backend.py`). Zenoh is accepted here but refused by `Ros2Context` with a clear error: speaking to
`rmw_zenoh` peers needs rmw_zenoh's key-expression and liveliness-token protocol, which dora-ros does
not implement (and no rmw_zenoh is installed alongside the ROS 2 wheels dora-ros tests against).
"""

from __future__ import annotations

from typing import Any

from ..errors import BridgeError

__all__ = ["ZENOH_COMPATIBILITIES", "Ros2Transport", "transport_kind"]

#: The `compatibility` values dora-rs 1.1 accepts: rmw_zenoh's Humble key expressions, or REP 2016's.
ZENOH_COMPATIBILITIES = ("humble", "rep2016")


class Ros2Transport:
    """The middleware of a `Ros2Context`: `Ros2Transport.dds()` or `Ros2Transport.zenoh(...)`.

    Attributes:
        kind: `"dds"` or `"zenoh"`.
        compatibility: for zenoh, `"humble"` or `"rep2016"`; None for DDS (extension).
        config_uri: for zenoh, the Zenoh configuration file, or None (extension).
    """

    __slots__ = ("compatibility", "config_uri", "kind")

    kind: str
    compatibility: str | None
    config_uri: str | None

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        # As dora-rs: only the two constructors make one.
        raise TypeError("use Ros2Transport.dds() or Ros2Transport.zenoh(compatibility=...)")

    @classmethod
    def _make(cls, kind: str, compatibility: str | None, config_uri: str | None) -> Ros2Transport:
        transport = object.__new__(cls)
        object.__setattr__(transport, "kind", kind)
        object.__setattr__(transport, "compatibility", compatibility)
        object.__setattr__(transport, "config_uri", config_uri)
        return transport

    @classmethod
    def dds(cls) -> Ros2Transport:
        """DDS (the default): ROS 2's own rmw_fastrtps / rmw_cyclonedds peers."""
        return cls._make("dds", None, None)

    @classmethod
    def zenoh(cls, compatibility: str, config_uri: str | None = None) -> Ros2Transport:
        """Zenoh, as rmw_zenoh speaks it (`compatibility` `"humble"` or `"rep2016"`).

        Raises:
            ValueError: `compatibility` is neither (as dora-rs).
        """
        if compatibility not in ZENOH_COMPATIBILITIES:
            raise ValueError("compatibility must be `humble` or `rep2016`")
        return cls._make("zenoh", compatibility, None if config_uri is None else str(config_uri))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Ros2Transport is immutable (cannot set {name!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Ros2Transport):
            return NotImplemented
        return (self.kind, self.compatibility, self.config_uri) == (
            other.kind,
            other.compatibility,
            other.config_uri,
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.compatibility, self.config_uri))

    def __repr__(self) -> str:
        if self.kind == "dds":
            return "Ros2Transport.dds()"
        return f"Ros2Transport.zenoh({self.compatibility!r}, config_uri={self.config_uri!r})"


def transport_kind(transport: Any) -> str:
    """The kind (`"dds"`, `"zenoh"`, ...) of a `Ros2Context(transport=...)` argument.

    Accepts None (DDS), a `Ros2Transport` (ours or dora-rs's: anything with a `kind`), or a string.

    Raises:
        BridgeError: anything else.
    """
    if transport is None:
        return "dds"
    if isinstance(transport, str):
        return transport.strip().lower()
    kind = getattr(transport, "kind", None)
    if isinstance(kind, str):
        return kind.lower()
    raise BridgeError(
        f"transport {transport!r} is not a Ros2Transport: use Ros2Transport.dds() (or leave it unset)"
    )
