"""Participant tuning of the rclpy backend: Fast DDS's built-in transports sized for large data.

Fast DDS reads `FASTDDS_BUILTIN_TRANSPORTS` when a participant is created; the rclpy backend wraps
the creation of its participant in `fastdds_transports_sized()` so that a 1080p image fits the
shared-memory segment (docs/bridge.md, Fast DDS transport sizes). Nothing else of the backend
depends on this module.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator

from ..errors import BridgeError

# The backend's logger: these lines are about the participant it creates.
log = logging.getLogger("dora_ros.bridge.rclpy_backend")

__all__ = ["FASTDDS_SOCKETS_ENV", "fastdds_sockets_size", "fastdds_transports_sized"]

# Fast DDS sizes its built-in transports from the OS socket defaults: UDP buffers of
# `net.core.rmem_default` (~208 kB) and a shared-memory segment of 512 kB. A 6 MB image does not fit
# the sender's segment: its fragments wait for space or are dropped and repaired by the reliable
# protocol, so a 1080p image between two default rclpy nodes on one host takes ~115 ms here, ~20 ms
# with an 8 MiB segment (docs/bridge.md, Performance). So the bridge's own participant asks for
# 4 MiB sockets, which Fast DDS also takes for the segment (twice the requested socket size).
FASTDDS_SOCKETS_ENV = "DORA_ROS_FASTDDS_SOCKETS_SIZE"
DEFAULT_FASTDDS_SOCKETS_SIZE = 4 * 1024 * 1024
# Fast DDS's own minimum: its UDP transport refuses buffers smaller than its 65500-byte messages.
MIN_FASTDDS_SOCKETS_SIZE = 65500
# Below this much free /dev/shm (a container's default is 64 MB) the segment, which Fast DDS fills
# with zeros when it creates the participant, is left at Fast DDS's default.
_MIN_FREE_SHM_SEGMENTS = 4
# Any of these means the user configures Fast DDS 3's transports: leave them to it.
_FASTDDS_USER_ENV = ("FASTDDS_BUILTIN_TRANSPORTS", "FASTDDS_DEFAULT_PROFILES_FILE")
_FASTDDS_USER_FILE = "DEFAULT_FASTDDS_PROFILES.xml"  # read from the working directory
_environ_lock = threading.Lock()


def fastdds_sockets_size() -> int | None:
    """The `sockets_size` the bridge gives Fast DDS's built-in transports, or None for Fast DDS's own.

    `$DORA_ROS_FASTDDS_SOCKETS_SIZE` in bytes (0: Fast DDS's defaults), else 4 MiB. None as well
    when the user configures Fast DDS (`FASTDDS_BUILTIN_TRANSPORTS`,
    `FASTDDS_DEFAULT_PROFILES_FILE`, or a `DEFAULT_FASTDDS_PROFILES.xml` in the working directory
    that `SKIP_DEFAULT_XML_FILE=1` does not turn off), and when /dev/shm has less room than four
    segments.

    Raises:
        BridgeError: the variable is not 0 or a whole number of bytes from 65500 to 2 GiB.
    """
    configured = [name for name in _FASTDDS_USER_ENV if os.environ.get(name)]
    if os.environ.get("SKIP_DEFAULT_XML_FILE") != "1" and os.path.exists(_FASTDDS_USER_FILE):
        configured.append(_FASTDDS_USER_FILE)
    if configured:
        log.debug("Fast DDS transports left as configured by %s", ", ".join(configured))
        return None
    text = os.environ.get(FASTDDS_SOCKETS_ENV, "").strip()
    if not text:
        size = DEFAULT_FASTDDS_SOCKETS_SIZE
    else:
        try:
            size = int(text)
        except ValueError:
            size = -1
        if size != 0 and not MIN_FASTDDS_SOCKETS_SIZE <= size < 2**31:  # C ints in Fast DDS
            raise BridgeError(
                f"{FASTDDS_SOCKETS_ENV}={text!r} is not a size in bytes from "
                f"{MIN_FASTDDS_SOCKETS_SIZE} to 2 GiB (0 keeps Fast DDS's defaults)"
            )
        if size == 0:
            return None
    try:
        shm = os.statvfs("/dev/shm")
    except OSError:
        return size
    free = shm.f_bavail * shm.f_frsize
    if free < _MIN_FREE_SHM_SEGMENTS * 2 * size:
        log.info(
            "Fast DDS keeps its default transport sizes: /dev/shm has %d MB free, too little for "
            "%d-MB segments (see %s in docs/bridge.md)",
            free // 10**6,
            2 * size // 10**6,
            FASTDDS_SOCKETS_ENV,
        )
        return None
    return size


@contextlib.contextmanager
def fastdds_transports_sized() -> Iterator[None]:
    """While a context's participant is created: Fast DDS's built-in transports sized for large data.

    Fast DDS reads `FASTDDS_BUILTIN_TRANSPORTS` when it creates a participant, so the variable is
    set only meanwhile, then put back as it was: processes the user starts afterwards keep their own
    Fast DDS defaults. The lock keeps two bridge nodes created at once from reading each other's
    value as the user's; threads of the user's that read the environment meanwhile see it too.
    rmw_fastrtps replaces the built-in transports with its own under
    `ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`, and then the variable has no effect.
    """
    localhost = os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "").upper() == "LOCALHOST" or (
        not os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE")
        and os.environ.get("ROS_LOCALHOST_ONLY") == "1"
    )
    with _environ_lock:
        size = fastdds_sockets_size()  # checked under LOCALHOST too: a bad value is an error
        if size is None or localhost:
            yield
            return
        previous = os.environ.get("FASTDDS_BUILTIN_TRANSPORTS")  # unset or empty: not the user's
        os.environ["FASTDDS_BUILTIN_TRANSPORTS"] = f"DEFAULT?sockets_size={size}"
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("FASTDDS_BUILTIN_TRANSPORTS", None)
            else:
                os.environ["FASTDDS_BUILTIN_TRANSPORTS"] = previous
