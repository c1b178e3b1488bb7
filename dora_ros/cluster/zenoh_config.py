"""Zenoh sessions as dora-rs 1.1 configures them, and the one place that opens them.

The base configuration is the file named by ``ZENOH_CONFIG`` (a whole Zenoh config, JSON5), else
Zenoh's defaults. On top of it come, in order: the role's settings (mode, endpoints; multicast
scouting off: the cluster is found through the coordinator's address), then an overlay file
(``--zenoh-config-overlay``, a JSON object of config paths, e.g.
``{"transport/link/tls/root_ca_certificate": "ca.pem"}``, or nested keys), which wins. TLS and access
control are set in those files (docs/cluster.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DoraRosError

ENV_CONFIG = "ZENOH_CONFIG"
ENV_ADDR = "DORA_COORDINATOR_ADDR"
ENV_INTERFACE = "DORA_COORDINATOR_INTERFACE"  # the coordinator's --interface, as dora-rs 1.1
ENV_PORT = "DORA_COORDINATOR_PORT"
DEFAULT_ADDR = "127.0.0.1"
DEFAULT_PORT = 6013
# A CLI command gives up on an absent coordinator after this long (one clear line).
CLI_CONNECT_TIMEOUT_MS = 1000
# Zenoh closes a link it has heard nothing on for this long: a partition shorter than this is
# survived (reported by the coordinator's pings, docs/cluster.md), a longer one is a lost
# machine. Zenoh's default (10 s) would end a dataflow on a 10-s cable pull.
LEASE_MS = 30000
# A daemon with multicast scouting on and no coordinator address looks this long for one.
SCOUT_TIMEOUT_S = 3.0


class ClusterError(DoraRosError):
    """A control-plane request failed: no coordinator, no daemon for a machine, a refused
    dataflow, an unknown dataflow name, or a bad Zenoh configuration."""


# glibc's malloc gives each thread that allocates its own arena (up to 8 per core), and a
# receiving node's Zenoh threads allocate every incoming message there while its own thread
# frees them: the arenas fragment, and the node's memory grew for as long as it ran (the cluster
# soak, producer at 10 ms with messages up to 1 MiB, 15 minutes: a cross-machine consumer
# 32.4 -> 36.9 MiB, still growing; with at most 2 arenas, flat at 32.1 MiB; docs/benchmarks.md).
# Every process of ours that opens a Zenoh session limits its arenas first.
ARENA_MAX = 2
_M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)


def limit_malloc_arenas() -> None:
    """At most ``ARENA_MAX`` malloc arenas in this process from now on, all its threads
    included (glibc's ``mallopt``; arenas made before stay), unless ``MALLOC_ARENA_MAX`` or the ``glibc.malloc.arena_max``
    tunable is set (the user's choice, read by glibc itself) or the C library is not glibc."""
    if "MALLOC_ARENA_MAX" in os.environ or "arena_max" in os.environ.get("GLIBC_TUNABLES", ""):
        return
    import ctypes

    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(_M_ARENA_MAX, ARENA_MAX)


@dataclass(frozen=True)
class ZenohSettings:
    """How a process joins the cluster's Zenoh network (a description; ``open`` makes a session).

    ``overlay`` holds config paths -> values already read from the overlay file, so the settings
    can travel to other processes (daemon -> machine run -> nodes) as JSON.
    """

    mode: str = "peer"
    connect: tuple[str, ...] = ()
    listen: tuple[str, ...] | None = None
    multicast: bool = False
    overlay: Mapping[str, Any] = field(default_factory=dict)
    connect_timeout_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "connect": list(self.connect),
            "listen": None if self.listen is None else list(self.listen),
            "multicast": self.multicast,
            "overlay": dict(self.overlay),
            "connect_timeout_ms": self.connect_timeout_ms,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ZenohSettings:
        listen = data.get("listen")
        return cls(
            mode=str(data.get("mode", "peer")),
            connect=tuple(data.get("connect") or ()),
            listen=None if listen is None else tuple(listen),
            multicast=bool(data.get("multicast", False)),
            overlay=dict(data.get("overlay") or {}),
            connect_timeout_ms=data.get("connect_timeout_ms"),
        )

    def replace(self, **changes: Any) -> ZenohSettings:
        values = self.to_json()
        values.update(changes)
        return ZenohSettings.from_json(values)

    def config(self) -> Any:
        """The ``zenoh.Config`` for these settings."""
        import zenoh

        path = os.environ.get(ENV_CONFIG)
        try:
            config = zenoh.Config.from_file(path) if path else zenoh.Config()
        except Exception as err:  # zenoh raises ZError for a missing or invalid file
            raise ClusterError(
                f"{ENV_CONFIG}={path}: not a Zenoh configuration: {_short(err)}"
            ) from err
        # The role's settings first, then the overlay: a user's file has the last word.
        items: list[tuple[str, Any]] = [("mode", self.mode), ("transport/link/tx/lease", LEASE_MS)]
        items.append(("scouting/multicast/enabled", self.multicast))
        if self.connect:
            items.append(("connect/endpoints", list(self.connect)))
        if self.listen is not None:
            items.append(("listen/endpoints", list(self.listen)))
        if self.connect_timeout_ms is not None:
            items.append(("connect/timeout_ms", self.connect_timeout_ms))
        items.extend(self.overlay.items())
        for key, value in items:
            try:
                config.insert_json5(key, json.dumps(value))
            except Exception as err:
                raise ClusterError(
                    f"Zenoh configuration {key!r} = {value!r}: {_short(err)}"
                ) from err
        return config

    def open(self, what: str) -> Any:
        """Open a session; ``what`` names the caller in the error (e.g. 'daemon robot')."""
        import zenoh

        limit_malloc_arenas()  # before the session's threads start (a process's first)
        try:
            return zenoh.open(self.config())
        except ClusterError:
            raise
        except Exception as err:
            where = ", ".join(self.connect) or "the network"
            raise ClusterError(f"{what}: cannot reach {where}: {_short(err)}") from err


def scout_coordinator(settings: ZenohSettings, port: int,
                      timeout: float = SCOUT_TIMEOUT_S) -> str:  # fmt: skip
    """The address of a coordinator on this LAN, found by Zenoh multicast scouting.

    The coordinator is a Zenoh router listening on ``port``; routers on other ports (an
    rmw_zenoh router, say) are not it. Loopback and link-local locators are skipped: a
    coordinator on another machine is not reached there, and one on this machine answers on its
    LAN address too.
    """
    import ipaddress
    import threading

    import zenoh

    found: list[str] = []
    done = threading.Event()

    def on_hello(hello: zenoh.Hello) -> None:
        for locator in hello.locators:
            text = str(locator).split("?", 1)[0]
            proto, _, address = text.partition("/")
            host, _, tail = address.rpartition(":")
            host = host.strip("[]")
            try:
                ip = ipaddress.ip_address(host)
                unusable = ip.is_loopback or ip.is_link_local  # link-local needs a scope id
            except ValueError:
                unusable = host == "localhost"
            if proto == "tcp" and tail == str(port) and not unusable and not found:
                found.append(host)
                done.set()

    try:
        # zenoh's stub splits scout's overloads (a __doc__ assignment between them), so mypy
        # sees only the channel form; a callback is documented and what zenoh's examples use.
        scout_fn: Any = zenoh.scout
        scout = scout_fn(on_hello, what="router", config=settings.config())
    except ClusterError:
        raise
    except Exception as err:
        raise ClusterError(f"multicast scouting: {_short(err)}") from err
    try:
        done.wait(timeout)
    finally:
        scout.stop()
    if not found:
        raise ClusterError(
            f"daemon: multicast scouting found no coordinator (a Zenoh router on port {port}) on"
            f" this LAN within {timeout:g} s; start one with `dora-ros coordinator --interface"
            " 0.0.0.0` and multicast on, or give its address with -c/--coordinator-addr"
        )
    return found[0]


def _short(err: BaseException) -> str:
    """Zenoh's message on one line, without the Rust source location it ends with."""
    text = " ".join(str(err).split())
    return text.split(" at /", 1)[0].strip()


def coordinator_endpoint(addr: str, port: int) -> str:
    host = f"[{addr}]" if ":" in addr and not addr.startswith("[") else addr
    return f"tcp/{host}:{port}"


def read_overlay(path: Path | None) -> dict[str, Any]:
    """Config paths -> values of an overlay file (JSON: flat ``"a/b": v`` keys or nested)."""
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise ClusterError(f"--zenoh-config-overlay {path}: cannot read: {err}") from err
    except ValueError as err:
        raise ClusterError(f"--zenoh-config-overlay {path}: not JSON: {err}") from err
    if not isinstance(data, dict):
        raise ClusterError(f"--zenoh-config-overlay {path}: expected a JSON object")
    flat: dict[str, Any] = {}
    _flatten(data, "", flat)
    return flat


def _flatten(data: Mapping[str, Any], prefix: str, out: dict[str, Any]) -> None:
    # Endpoint lists and other leaves stay whole; only objects of known sections are walked,
    # so `{"transport": {"link": {"tls": {...}}}}` and `{"transport/link/tls": {...}}` agree.
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and path.count("/") < 3:
            _flatten(value, path + "/", out)
        else:
            out[path] = value


def cli_settings(addr: str, port: int) -> ZenohSettings:
    """A CLI command's session: a client of the coordinator that fails fast when it is absent."""
    return ZenohSettings(
        mode="client",
        connect=(coordinator_endpoint(addr, port),),
        connect_timeout_ms=CLI_CONNECT_TIMEOUT_MS,
    )


def check_id(kind: str, value: str) -> str:
    """A machine or dataflow name is one chunk of a key expression."""
    if not value or any(c in value for c in "/*$#?@ \t\n"):
        raise ClusterError(
            f"{kind} {value!r}: use letters, digits, '-', '_' or '.' (it is part of Zenoh keys)"
        )
    return value


def endpoints(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(v for v in values if v)
