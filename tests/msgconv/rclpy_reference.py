"""rclpy as a reference CDR serializer, in its own process, for the msgconv tests and benchmark.

`RclpyReference()` starts this file as a script under the same interpreter and talks to it over a
pipe (length-prefixed pickles). The child imports the ROS 2 Python message classes and uses
`rclpy.serialization.serialize_message` / `deserialize_message`; the test process never imports
them, so msgconv is checked without ROS Python classes anywhere near it. Values cross the pipe in
the plain form of `cdr_reference` (dict / list / int / float / bool / str; byte and char as int).

Requests (a tuple, first item the verb):
  ("describe", [type names])         -> schema: {struct type name: ((field, desc), ...)} for the
                                        closure of nested types, from the classes' SLOT_TYPES
  ("constants", type name)           -> {name: value} of the class's constants
  ("default", type name)             -> the value of a default-constructed message
  ("serialize", type name, [values]) -> [bytes]
  ("deserialize", type name, [bytes])-> [value or ("error", text)]
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ACTION_SUFFIXES = (
    "Goal",
    "Result",
    "Feedback",
    "SendGoal_Request",
    "SendGoal_Response",
    "GetResult_Request",
    "GetResult_Response",
    "FeedbackMessage",
    "SendGoal_Event",
    "GetResult_Event",
)


def _prefixes() -> Iterator[Path]:
    yield Path(sys.prefix)
    for entry in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if entry:
            yield Path(entry)


def installed_type_names() -> list[str]:
    """Every msg, srv Request/Response/Event and action (and derived action) type in the ament index
    of this interpreter's prefix and AMENT_PREFIX_PATH, as `pkg/kind/Name`."""
    names: set[str] = set()
    for prefix in _prefixes():
        index = prefix / "share" / "ament_index" / "resource_index" / "rosidl_interfaces"
        if not index.is_dir():
            continue
        for resource in index.iterdir():
            for line in resource.read_text().split():
                kind, _, file = line.partition("/")
                base, _dot, ext = file.partition(".")
                if ext != "idl":
                    continue
                if kind == "msg":
                    names.add(f"{resource.name}/msg/{base}")
                elif kind == "srv":
                    names.update(
                        f"{resource.name}/srv/{base}_{s}" for s in ("Request", "Response", "Event")
                    )
                elif kind == "action":
                    names.update(f"{resource.name}/action/{base}_{s}" for s in ACTION_SUFFIXES)
    return sorted(names)


class ReferenceError(RuntimeError):
    """The rclpy child failed to do what was asked (its traceback is the message)."""


class RclpyReference:
    """A long-lived rclpy child process; use as a context manager (or call close())."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env.setdefault("ROS_DOMAIN_ID", "229")  # never used for DDS here, but keep to our range
        # rclpy checks field values (ranges, bounds, kinds) only when asked; unchecked, it wraps
        # int8 = 128 to -128 and writes garbage for a str in a float64 field.
        env["ROS_PYTHON_CHECK_FIELDS"] = "1"
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )

    def __enter__(self) -> RclpyReference:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def call(self, *request: Any) -> Any:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        _send(self._proc.stdin, request)
        ok, reply = _receive(self._proc.stdout)
        if not ok:
            raise ReferenceError(reply)
        return reply

    def describe(self, type_names: Sequence[str]) -> dict[str, Any]:
        return dict(self.call("describe", list(type_names)))

    def serialize(self, type_name: str, values: Sequence[Any]) -> list[bytes]:
        return list(self.call("serialize", type_name, list(values)))

    def deserialize(self, type_name: str, blobs: Sequence[bytes]) -> list[Any]:
        return list(self.call("deserialize", type_name, [bytes(b) for b in blobs]))

    def default(self, type_name: str) -> Any:
        return self.call("default", type_name)

    def constants(self, type_name: str) -> dict[str, Any]:
        return dict(self.call("constants", type_name))


def _send(stream: Any, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _receive(stream: Any) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("rclpy reference process closed its pipe")
    (size,) = struct.unpack("<Q", head)
    return pickle.loads(stream.read(size))


# ---------------------------------------------------------------------------------------------
# The child: everything below runs only in the rclpy process.

_BASIC = {
    "boolean": "bool",
    "octet": "byte",
    "char": "char",
    "float": "float32",
    "double": "float64",
    **{n: n for n in ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64")},
}


def _class(type_name: str) -> Any:
    import importlib

    pkg, kind, name = type_name.split("/")
    module = importlib.import_module(f"{pkg}.{kind}")
    if hasattr(module, name):
        return getattr(module, name)
    if kind == "action":  # Goal/Result/Feedback/FeedbackMessage hang off the action class
        for suffix in ACTION_SUFFIXES:
            if name.endswith("_" + suffix):
                action = getattr(module, name[: -len(suffix) - 1])
                if suffix == "FeedbackMessage":
                    return action.Impl.FeedbackMessage
                if "_" in suffix:  # SendGoal_Request -> Impl.SendGoalService.Request
                    service, part = suffix.split("_")
                    return getattr(getattr(action.Impl, service + "Service"), part)
                return getattr(action, suffix)
    raise KeyError(type_name)


def _desc(slot: Any) -> tuple[Any, ...]:
    from rosidl_parser import definition as d

    if isinstance(slot, d.BasicType):
        return ("prim", _BASIC[slot.typename])
    if isinstance(slot, d.BoundedString):
        return ("string", slot.maximum_size)
    if isinstance(slot, d.UnboundedString):
        return ("string", None)
    if isinstance(slot, d.BoundedWString):
        return ("wstring", slot.maximum_size)
    if isinstance(slot, d.UnboundedWString):
        return ("wstring", None)
    if isinstance(slot, d.NamespacedType):
        return ("struct", "/".join([*slot.namespaces, slot.name]))
    if isinstance(slot, d.Array):
        return ("array", _desc(slot.value_type), slot.size)
    if isinstance(slot, d.BoundedSequence):
        return ("sequence", _desc(slot.value_type), slot.maximum_size)
    if isinstance(slot, d.UnboundedSequence):
        return ("sequence", _desc(slot.value_type), None)
    raise TypeError(f"unknown slot type {slot!r}")


def _fields(cls: Any) -> list[tuple[str, tuple[Any, ...]]]:
    names = list(cls.get_fields_and_field_types())
    return list(zip(names, (_desc(s) for s in cls.SLOT_TYPES), strict=True))


def _describe(type_names: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {}
    todo = list(type_names)
    while todo:
        name = todo.pop()
        if name in schema:
            continue
        fields = _fields(_class(name))
        schema[name] = tuple(fields)
        stack = [d for _, d in fields]
        while stack:
            desc = stack.pop()
            if desc[0] == "struct":
                todo.append(desc[1])
            elif desc[0] in ("array", "sequence"):
                stack.append(desc[1])
    return schema


def _to_py(desc: tuple[Any, ...], value: Any) -> Any:
    kind = desc[0]
    if kind == "prim":
        return bytes([value]) if desc[1] == "byte" else value
    if kind in ("string", "wstring"):
        return value
    if kind == "struct":
        return _to_msg(desc[1], value)
    return [_to_py(desc[1], v) for v in value]


def _to_msg(type_name: str, value: dict[str, Any]) -> Any:
    cls = _class(type_name)
    msg = cls()
    for name, desc in _fields(cls):
        setattr(msg, name, _to_py(desc, value[name]))
    return msg


def _from_py(desc: tuple[Any, ...], value: Any) -> Any:
    kind = desc[0]
    if kind == "prim":
        name = desc[1]
        if name == "byte":
            return value[0] if isinstance(value, bytes) else int(value)
        if name == "bool":
            return bool(value)
        if name in ("float32", "float64"):
            return float(value)
        return int(value)
    if kind in ("string", "wstring"):
        return str(value)
    if kind == "struct":
        return _from_msg(value)
    if isinstance(value, bytes):
        value = [bytes([b]) for b in value]
    return [_from_py(desc[1], v) for v in value]


def _from_msg(msg: Any) -> dict[str, Any]:
    return {name: _from_py(desc, getattr(msg, name)) for name, desc in _fields(type(msg))}


def _constants(type_name: str) -> dict[str, Any]:
    cls = _class(type_name)
    meta = type(cls)
    table = getattr(meta, f"_{meta.__name__}__constants", {})
    return {k: (v[0] if isinstance(v, bytes) and len(v) == 1 else v) for k, v in table.items()}


def _handle(request: tuple[Any, ...]) -> Any:
    from rclpy.serialization import deserialize_message, serialize_message

    verb = request[0]
    if verb == "describe":
        return _describe(request[1])
    if verb == "constants":
        return _constants(request[1])
    if verb == "default":
        return _from_msg(_class(request[1])())
    if verb == "serialize":
        return [serialize_message(_to_msg(request[1], v)) for v in request[2]]
    if verb == "deserialize":
        cls = _class(request[1])
        out: list[Any] = []
        for blob in request[2]:
            try:
                out.append(_from_msg(deserialize_message(blob, cls)))
            except Exception as err:  # reported to the test, which fails with it
                out.append(("error", f"{type(err).__name__}: {err}"))
        return out
    raise ValueError(f"unknown request {verb!r}")


def _serve() -> None:
    import traceback

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the pipe
    while True:
        try:
            request = _receive(stdin)
        except EOFError:
            return
        try:
            reply: tuple[bool, Any] = (True, _handle(request))
        except Exception:
            reply = (False, traceback.format_exc())
        _send(stdout, reply)


if __name__ == "__main__" and sys.argv[1:] == ["--serve"]:
    _serve()
