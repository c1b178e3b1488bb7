"""Helpers shared by the rclpy peer scripts (run as subprocesses by the bridge tests).

Each peer prints one JSON object per line on stdout: `{"event": "ready"}` once set up, then what it
received or answered. Messages are printed as plain values (`to_plain`); long byte/number arrays
(image data) as `{"len": n, "sha256": ...}` so a 1080p image stays one short line.
"""

from __future__ import annotations

import array
import hashlib
import importlib
import json
import sys
import threading
from typing import Any

import rclpy
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

LONG = 256


def emit(**event: Any) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def interface(type_name: str) -> Any:
    pkg, kind, name = type_name.split("/")
    return getattr(importlib.import_module(f"{pkg}.{kind}"), name)


def qos(spec: dict[str, Any] | None) -> QoSProfile:
    """`depth`, `reliable`, `durability` and, in seconds, `deadline` and `lifespan`."""
    from rclpy.duration import Duration

    spec = spec or {}
    profile = QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=int(spec.get("depth", 10)),
        reliability=ReliabilityPolicy.RELIABLE
        if spec.get("reliable", True)
        else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL
        if spec.get("durability") == "transient_local"
        else DurabilityPolicy.VOLATILE,
    )
    if "deadline" in spec:
        profile.deadline = Duration(seconds=spec["deadline"])
    if "lifespan" in spec:
        profile.lifespan = Duration(seconds=spec["lifespan"])
    return profile


def digest(data: Any) -> dict[str, Any]:
    raw = bytes(data) if not isinstance(data, (list, tuple)) else bytes(bytearray(data))
    return {"len": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


def to_plain(value: Any) -> Any:
    if hasattr(value, "get_fields_and_field_types"):
        return {f: to_plain(getattr(value, f)) for f in value.get_fields_and_field_types()}
    if isinstance(value, (bytes, bytearray)):
        return digest(value) if len(value) > LONG else list(value)
    if isinstance(value, array.array) or type(value).__module__ == "numpy":
        if len(value) > LONG:
            return digest(
                memoryview(value).cast("B") if isinstance(value, array.array) else value.tobytes()
            )
        return [v.item() if hasattr(v, "item") else v for v in value]
    if isinstance(value, (list, tuple)):
        if len(value) > LONG and all(isinstance(v, bytes) for v in value[:4]):
            return digest(b"".join(value))
        return [to_plain(v) for v in value]
    if isinstance(value, bytes):
        return list(value)
    return value


def from_plain(cls: Any, plain: dict[str, Any]) -> Any:
    message = cls()
    fields = cls.get_fields_and_field_types()
    for key, value in plain.items():
        current = getattr(message, key)
        if hasattr(current, "get_fields_and_field_types"):
            setattr(message, key, from_plain(type(current), value))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            inner = fields[key].split("[")[0].replace("sequence<", "").rstrip(">").split(",")[0]
            pkg, name = inner.split("/")
            item_cls = interface(f"{pkg}/msg/{name}")
            setattr(message, key, [from_plain(item_cls, v) for v in value])
        elif fields[key].startswith(("octet", "sequence<octet")) and isinstance(value, list):
            setattr(message, key, [bytes([v]) for v in value])
        else:
            setattr(message, key, value)
    return message


def spin_in_thread(node: Any) -> threading.Thread:
    from rclpy.executors import MultiThreadedExecutor

    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    return thread


def config() -> dict[str, Any]:
    return json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}


def _exit_with_parent() -> None:
    # The tests start peers in their own session; make sure none outlives a killed test run.
    import os
    import time

    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def init(name: str) -> Any:
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    rclpy.init()
    return rclpy.create_node(name)
