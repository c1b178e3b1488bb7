"""DDS types for the Cyclone DDS backend, built at run time from message definitions.

A DDS reader and writer match only if their types match. Cyclone DDS and Fast DDS (Kilted) both
send XTypes type information (a hash of the type's structure) in discovery and compare it, so a type
with ROS 2's *name* but another structure never matches an rclpy peer. Each type is therefore built
exactly as rosidl builds it for DDS:

- names ``pkg::msg::dds_::T_`` (nested types too: ``builtin_interfaces::msg::dds_::Time_``);
- ``@final`` structs, members in definition order with their .msg names;
- ``string<=N`` -> ``string<N>``, ``T[N]`` -> array, ``T[]`` / ``T[<=N]`` -> (bounded) sequence;
- ``char`` -> ``uint8`` and ``byte`` -> ``octet``, as rosidl maps them;
- ``@key`` members (.idl definitions) keep their key flag;
- an empty message gets rosidl's ``uint8 structure_needs_at_least_one_member``.

Type *information* is another matter: Fast DDS (Kilted) announces type objects whose plain
collections (``sequence<uint8>``, ``uint8[16]``) carry no element flags, which Cyclone's XTypes
validation rejects as invalid; Cyclone then cannot resolve the peer's type and never matches any
Fast DDS endpoint whose type has a sequence or an array (``sensor_msgs/Image``,
``rmw_dds_common``'s discovery types). Nor can we announce Fast DDS's hashes ourselves: Cyclone
checks that a type object hashes to its identifier and validates it. So the backend tells Cyclone
to ignore type information from eProsima participants (``Compatibility/IgnoreTypeInformation``,
see ``cyclone_config.py``): against Fast DDS, endpoints match on the type *name* as rmw_fastrtps
does itself (Fast DDS does not check type information either), and against Cyclone peers (other
bridges, rmw_cyclonedds) the full XTypes check still applies, which is why the structure matters.

The backend's topics use `serialized_type`: a twin of `build_type`'s struct (same name, members and
so XTypes type information) whose samples *are* serialized CDR, so that cyclonedds-python's public
``DataWriter.write`` / ``DataReader.take`` move msgconv's bytes without its Python serializer; it
only needs the type for its name, XTypes type information and key extraction (done in C). The
plain structs stay what they are for `launch/dds_service.py`, which nests them in its own types.
"""

from __future__ import annotations

import keyword
import threading
import types
from collections.abc import Callable
from typing import Any

from cyclonedds.idl import IdlStruct, make_idl_struct
from cyclonedds.idl import types as _idl_types

from ..errors import BridgeError
from ..msgconv import Field, FieldType, MessageDefinition

# cyclonedds-python's IDL type constructors (`sequence[T, N]`) are not typed as generics.
idl: Any = _idl_types

__all__ = [
    "PRIMITIVES",
    "SerializedCdr",
    "build_type",
    "dds_type_name",
    "serialized_type",
]

# ROS 2 primitive type names (.msg spelling) -> cyclonedds-python IDL types (rosidl's mapping).
PRIMITIVES: dict[str, Any] = {
    "bool": bool,
    "byte": idl.byte,
    "octet": idl.byte,
    "char": idl.uint8,
    "int8": idl.int8,
    "uint8": idl.uint8,
    "int16": idl.int16,
    "uint16": idl.uint16,
    "int32": idl.int32,
    "uint32": idl.uint32,
    "int64": idl.int64,
    "uint64": idl.uint64,
    "float32": idl.float32,
    "float64": idl.float64,
    "float": idl.float32,
    "double": idl.float64,
    "string": str,
}


def dds_type_name(type_name: str) -> str:
    """``pkg/msg/T`` -> ``pkg::msg::dds_::T_``, the name rmw implementations register."""
    parts = type_name.split("/")
    if len(parts) != 3 or not all(parts):
        raise BridgeError(f"{type_name!r} is not a ROS 2 type name like 'std_msgs/msg/String'")
    pkg, kind, name = parts
    return f"{pkg}::{kind}::dds_::{name}_"


# rosidl's member for messages without fields (DDS structs need one).
EMPTY_MEMBER = Field("structure_needs_at_least_one_member", FieldType("uint8"))

# Built classes, by structure: two bridges in one process share them (cyclonedds-python keeps one
# class per type for its XTypes data), and a structurally different definition gets its own.
_built: dict[tuple[str, tuple[Field, ...]], type[IdlStruct]] = {}
_build_lock = threading.RLock()


def build_type(type_name: str, resolve: Callable[[str], MessageDefinition]) -> type[IdlStruct]:
    """The cyclonedds-python struct for the message `type_name` (canonical ``pkg/msg/T``).

    `resolve` gives msgconv's definition of a message (the message itself and each nested type),
    e.g. `dora_ros.msgconv.message_definition`.

    Raises:
        BridgeError: a member type DDS (or cyclonedds-python) cannot express (``wstring``).
    """
    with _build_lock:
        return _build(type_name, resolve, ())


def _build(
    type_name: str, resolve: Callable[[str], MessageDefinition], stack: tuple[str, ...]
) -> Any:
    if type_name in stack:
        raise BridgeError(f"{type_name}: recursive message definition ({' -> '.join(stack)})")
    definition = resolve(type_name)
    type_name = definition.name  # canonical
    fields = definition.fields or (EMPTY_MEMBER,)
    key = (type_name, fields)
    cached = _built.get(key)
    if cached is not None:
        return cached
    members: dict[str, Any] = {}
    annotations: dict[str, dict[str, Any]] = {}
    for f in fields:
        members[f.name] = _member_type(type_name, f, resolve, (*stack, type_name))
        if f.key:
            annotations[f.name] = {"key": True}
    class_name = type_name.replace("/", "_")
    # dataclassify=False: members may be Python keywords (`from`), and we never build instances.
    cls = make_idl_struct(
        class_name,
        dds_type_name(type_name),
        members,
        dataclassify=not any(keyword.iskeyword(n) for n in members),
        field_annotations=annotations or None,
    )
    _built[key] = cls
    return cls


def _member_type(
    owner: str, f: Field, resolve: Callable[[str], MessageDefinition], stack: tuple[str, ...]
) -> Any:
    t = f.type
    if t.name in ("wstring", "wchar"):
        raise BridgeError(
            f"{owner}: field '{f.name}': {t.name} is not supported by the cyclonedds backend "
            "(cyclonedds-python has no wide strings); use backend 'rclpy'"
        )
    if t.name == "string" and t.string_bound is not None:
        element: Any = idl.bounded_str[t.string_bound]
    elif t.name in PRIMITIVES:
        element = PRIMITIVES[t.name]
    else:
        element = _build(t.name, resolve, stack)
    if t.array == "fixed":
        return idl.array[element, t.length]
    if t.array == "bounded":
        return idl.sequence[element, t.length]
    if t.array == "sequence":
        return idl.sequence[element]
    return element


class SerializedCdr:
    """The methods of every `serialized_type`: a sample of it *is* one serialized message.

    cyclonedds-python's public ``DataWriter.write(sample)`` checks that the sample is an instance of
    the topic's type, calls its public ``sample.serialize(use_version_2=...)`` and hands the bytes
    to Cyclone's C layer; its public ``DataReader.take()`` gives each sample's bytes to the type's
    public classmethod ``deserialize(data)``. These override both to pass the CDR (the 4-byte
    encapsulation header and the body, as msgconv makes and decodes it) through unchanged: no
    Python field work on either side (the inherited ones take ~200 ms for a 1080p Image).

    Not a base class: the XTypes builder of cyclonedds-python reads a struct's ``__base__`` as a
    base *struct* (inheritance changes the type information), and ``make_idl_struct`` puts
    ``IdlStruct`` last among the bases, so a mixin would become ``__base__``. `serialized_type`
    copies these methods into the class body instead, as a ``class T(IdlStruct, typename=...)``
    statement with methods would define them.
    """

    @classmethod
    def of(cls, cdr: bytes) -> Any:
        """A sample that *is* `cdr` (no copy; it has no fields)."""
        sample: Any = cls()
        sample.cdr = cdr
        return sample

    def serialize(
        self, buffer: Any = None, endianness: Any = None, use_version_2: bool | None = None
    ) -> bytes:
        """The CDR given to `of`, unchanged (what ``DataWriter.write`` sends)."""
        cdr: bytes = self.cdr  # type: ignore[attr-defined]
        return cdr

    @classmethod
    def deserialize(cls, data: bytes, has_header: bool = True, use_version_2: Any = None) -> Any:
        """A sample holding `data` as ``DataReader.take`` got it from C (no decoding, no copy)."""
        return cls.of(data)

    # An invalid sample (a dispose or an unregister) carries its key only; nobody decodes it.
    deserialize_key = deserialize


_SERIALIZED_METHODS = ("of", "serialize", "deserialize", "deserialize_key")
_serialized: dict[type[IdlStruct], Any] = {}  # bounded like _built: one per built struct


def serialized_type(type_name: str, resolve: Callable[[str], MessageDefinition]) -> Any:
    """The topic type of the Cyclone backend for `type_name`: `build_type`'s struct, with the same
    DDS type name, members (its nested types are the plain structs) and so the same XTypes type
    information, whose samples are serialized CDR (`SerializedCdr`: ``T.of(cdr)`` to write, the
    ``cdr`` attribute of what ``take`` returns).

    Raises:
        BridgeError: as `build_type`.
    """
    with _build_lock:
        plain = _build(type_name, resolve, ())
        cached = _serialized.get(plain)
        if cached is not None:
            return cached

        def body(namespace: dict[str, Any]) -> None:
            # What IdlMeta's __prepare__ set up, filled as make_idl_struct fills it.
            namespace["__annotations__"].update(plain.__annotations__)
            namespace["__idl_annotations__"].update(plain.__idl_annotations__)
            namespace["__idl_field_annotations__"].update(plain.__idl_field_annotations__)
            for name in _SERIALIZED_METHODS:
                namespace[name] = SerializedCdr.__dict__[name]

        cls = types.new_class(
            plain.__name__, (IdlStruct,), {"typename": plain.__idl_typename__}, body
        )
        _serialized[plain] = cls
        return cls
