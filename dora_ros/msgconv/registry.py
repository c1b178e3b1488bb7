"""The type store: resolves type names to parsed definitions and caches what is derived from them.

A `TypeRegistry` owns an `InterfaceIndex` (where files are), the definitions parsed from them (each
file parsed once), and per-type Arrow types and CDR codecs (generated once, on first use). The
module-level functions of `dora_ros.msgconv` use one shared registry, `default_registry()`.

Its caches are keyed by type name and hold one entry per type that was asked for and exists (a
miss is not cached), so they are bounded by the interfaces installed and added; they are filled
under one lock and read without it (a dict read is atomic), so threads share one codec per type.
A type's Arrow type and codec are built from the definitions of every type nested in it, so
redefining any message (`add_definition` of a name already known; rare) drops every derived
entry (Arrow types, codecs with their fixed layouts and arenas, the by-name codec cache), not only
the redefined type's: a parent built on the old nested definition would otherwise keep its old
Arrow type and decoder while its reference encoder reads the new nested definition. A codec
someone still holds keeps working on the types it was built from: it reads them from a
`TypeSnapshot` taken when it was made, never from the registry again.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .definitions import (
    ActionDefinition,
    Field,
    FieldType,
    MessageDefinition,
    ServiceDefinition,
    make_action,
)
from .discovery import InterfaceIndex
from .errors import DefinitionError, UnknownTypeError
from .msg_parser import parse_action, parse_message, parse_service
from .names import candidates, split_type_name

if TYPE_CHECKING:
    import pyarrow as pa

    from .codec import Codec

__all__ = [
    "Definition",
    "TypeRegistry",
    "TypeSnapshot",
    "TypeSource",
    "add_search_path",
    "default_registry",
]

Definition = MessageDefinition | ServiceDefinition | ActionDefinition

SERVICE_EVENT_INFO = "service_msgs/msg/ServiceEventInfo"


def _service_event(
    name: str, request: MessageDefinition, response: MessageDefinition
) -> MessageDefinition:
    """`pkg/srv/T_Event` as rosidl generates it (service introspection, ROS 2 Iron and later);
    also for the services of an action (`pkg/action/T_SendGoal_Event`, `_GetResult_Event`)."""
    return MessageDefinition(
        name + "_Event",
        (
            Field("info", FieldType(SERVICE_EVENT_INFO)),
            Field("request", FieldType(request.name, None, "bounded", 1)),
            Field("response", FieldType(response.name, None, "bounded", 1)),
        ),
    )


class TypeSource(Protocol):
    """Where generators and codecs look nested types up: a `TypeRegistry` or a `TypeSnapshot`."""

    def message(self, type_name: str, context: str | None = None) -> MessageDefinition: ...

    def arrow_type(self, type_name: str) -> pa.StructType: ...


class TypeSnapshot:
    """The definitions and Arrow types of one message type and every type nested in it, as they
    were when taken (`TypeRegistry.snapshot`): what a `Codec` reads, so that a codec made before
    a redefinition keeps encoding, decoding and building Arrow values of the types it was built
    from (its generated code, Arrow type and fixed layout), with its lazily made parts (the
    big-endian decoder, columnar decoders, row plans) and its reference codec alike.
    """

    __slots__ = ("_arrow", "_messages")

    def __init__(
        self, messages: dict[str, MessageDefinition], arrow: dict[str, pa.StructType]
    ) -> None:
        self._messages = messages
        self._arrow = arrow

    def message(self, type_name: str, context: str | None = None) -> MessageDefinition:
        """The definition `type_name` named when the snapshot was taken."""
        try:
            return self._messages[type_name]
        except KeyError:
            raise UnknownTypeError(
                f"'{type_name}' is not among the types this codec was built from "
                f"({', '.join(sorted(self._messages))})"
            ) from None

    def arrow_type(self, type_name: str) -> pa.StructType:
        """The Arrow struct type of `type_name` when the snapshot was taken."""
        try:
            return self._arrow[type_name]
        except KeyError:
            raise UnknownTypeError(
                f"'{type_name}' is not among the types this codec was built from "
                f"({', '.join(sorted(self._arrow))})"
            ) from None


class TypeRegistry:
    """Resolves ROS 2 type names to definitions; caches Arrow types and codecs per type.

    Args:
        paths: extra folders to search first (see `discovery`).
        use_default_roots: also search DORA_ROS_MSG_PATH, AMENT_PREFIX_PATH and sys.prefix.
    """

    def __init__(self, paths: Iterable[str | Path] = (), *, use_default_roots: bool = True) -> None:
        self.index = InterfaceIndex(None if use_default_roots else [])
        for path in reversed(list(paths)):
            self.index.add_root(path)
        self._interfaces: dict[str, Definition] = {}
        self._messages: dict[str, MessageDefinition] = {}
        self._aliases: dict[tuple[str, str | None], str] = {}
        self._arrow: dict[str, pa.StructType] = {}
        self._codecs: dict[str, Codec] = {}
        # the codec of each name as asked (a few spellings per resolved type, like `_aliases`):
        # one dict lookup for `msgconv.encode(name, ...)`; cleared when a codec is replaced
        self._codec_by_name: dict[str, Codec] = {}
        self._lock = threading.RLock()

    # --- sources -------------------------------------------------------------------------------

    def add_search_path(self, path: str | Path) -> None:
        """Search `path` (a prefix, a package or a folder of packages) before the others.

        Types already resolved keep their definition; only types not yet seen are looked up anew.
        """
        with self._lock:
            self.index.add_root(path)
            self._aliases = {k: v for k, v in self._aliases.items() if v in self._messages}

    def add_definition(self, type_name: str, text: str) -> Definition:
        """Register an interface from text: `pkg/msg/T` (.msg), `pkg/srv/T` (.srv), `pkg/action/T`.

        Handy for types that exist nowhere on disk (tests, generated types).
        """
        split = split_type_name(type_name)
        if split is None or split[1] is None:
            raise UnknownTypeError(f"'{type_name}' is not a full name like 'pkg/msg/Type'")
        with self._lock:
            definition = self._parse_text(type_name.strip("/"), split[1], text, None)
            self._store(definition)
            return definition

    # --- resolution ----------------------------------------------------------------------------

    def resolve(self, type_name: str, context: str | None = None) -> Definition:
        """The definition `type_name` names (a message, a service or an action).

        Args:
            type_name: any form in `names` (`pkg/Type`, `pkg/msg/Type`, `pkg/srv/T_Request`, ...).
            context: `message_type`, `service_type` or `action_type` (or msg/srv/action) to choose
                where `pkg/Type` is ambiguous; messages without one.

        Raises:
            UnknownTypeError: no such type (with close matches).
            DefinitionError: its file is malformed.
        """
        key = (type_name, context)
        with self._lock:
            canonical = self._aliases.get(key)
            if canonical is not None:
                return self._messages.get(canonical) or self._interfaces[canonical]
            try:
                readings = candidates(type_name, context)
            except ValueError as err:
                raise UnknownTypeError(str(err)) from None
            for reading in readings:
                definition = self._load(reading.package, reading.kind, reading.base)
                if definition is None:
                    continue
                found = self._messages.get(reading.canonical) if reading.part else definition
                if found is None:
                    continue
                self._aliases[key] = found.name
                return found
            raise UnknownTypeError(self._unknown_message(type_name))

    def message(self, type_name: str, context: str | None = None) -> MessageDefinition:
        """The message definition `type_name` names (a part, for services and actions).

        Raises:
            UnknownTypeError: unknown, or a whole service/action (the message names its parts).
        """
        definition = self.resolve(type_name, context)
        if isinstance(definition, MessageDefinition):
            return definition
        if isinstance(definition, ServiceDefinition):
            parts = f"'{definition.name}_Request' or '{definition.name}_Response'"
        else:
            parts = f"'{definition.name}_Goal', '{definition.name}_Result' or '{definition.name}_Feedback'"
        kind = "service" if isinstance(definition, ServiceDefinition) else "action"
        raise UnknownTypeError(f"'{type_name}' is a {kind}, not a message: use {parts}")

    def messages_used(self, type_name: str) -> list[MessageDefinition]:
        """`type_name`'s message and every message nested in it, dependencies first (DDS builders)."""
        out: dict[str, MessageDefinition] = {}

        def visit(definition: MessageDefinition) -> None:
            if definition.name in out:
                return
            for f in definition.fields:
                if f.type.is_nested:
                    visit(self.message(f.type.name))
            out[definition.name] = definition

        visit(self.message(type_name))
        return list(out.values())

    def snapshot(self, type_name: str) -> TypeSnapshot:
        """The definitions and Arrow types of `type_name` and every type nested in it, under
        every spelling its definitions use, as they are now (taken under the lock)."""
        with self._lock:
            top = self.message(type_name)
            messages: dict[str, MessageDefinition] = {type_name: top, top.name: top}
            todo = [top]
            seen: set[str] = set()
            while todo:
                definition = todo.pop()
                if definition.name in seen:
                    continue
                seen.add(definition.name)
                for f in definition.fields:
                    if f.type.is_nested:
                        sub = self.message(f.type.name)
                        messages[f.type.name] = messages[sub.name] = sub
                        todo.append(sub)
            arrow = {name: self.arrow_type(m.name) for name, m in messages.items()}
            return TypeSnapshot(messages, arrow)

    def interfaces(self) -> list[str]:
        """Every `pkg/kind/Type` file found on the search path (sorted)."""
        return self.index.interfaces()

    # --- caches for derived things -------------------------------------------------------------

    def arrow_type(self, type_name: str) -> pa.StructType:
        """The Arrow struct type of a message (cached)."""
        definition = self.message(type_name)
        cached = self._arrow.get(definition.name)
        if cached is None:
            from .arrow_schema import struct_type

            with self._lock:  # one Arrow type per message type, also when threads race here
                definition = self.message(type_name)  # as of now (a redefinition takes the lock)
                cached = self._arrow.get(definition.name)
                if cached is None:
                    cached = self._arrow[definition.name] = struct_type(definition, self)
        return cached

    def codec(self, type_name: str) -> Codec:
        """The generated CDR codec of a message (generated on first use, then cached)."""
        codec = self._codec_by_name.get(type_name)
        if codec is not None:
            return codec
        with self._lock:
            # resolved under the lock: a redefinition (which takes it) cannot come between the
            # definition read here and the codec stored for it
            definition = self.message(type_name)
            codec = self._codecs.get(definition.name)
            if codec is None:
                from .codec import Codec

                codec = self._codecs[definition.name] = Codec(definition, self)
            self._codec_by_name[type_name] = codec
        return codec

    # --- loading -------------------------------------------------------------------------------

    def _load(self, package: str, kind: str, base: str) -> Definition | None:
        interface = f"{package}/{kind}/{base}"
        if interface in self._interfaces:
            return self._interfaces[interface]
        path = self.index.find(package, kind, base)
        if path is None:
            return None
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise DefinitionError(f"{path}: cannot read: {err}") from err
        if path.suffix == ".idl":
            definition = self._parse_idl(interface, kind, text, str(path))
        else:
            definition = self._parse_text(interface, kind, text, str(path))
        self._store(definition)
        return definition

    @staticmethod
    def _parse_text(interface: str, kind: str, text: str, source: str | None) -> Definition:
        if kind == "msg":
            return parse_message(text, interface, source)
        if kind == "srv":
            return parse_service(text, interface, source)
        return parse_action(text, interface, source)

    @staticmethod
    def _parse_idl(interface: str, kind: str, text: str, source: str) -> Definition:
        from .idl_parser import parse_idl

        structs = parse_idl(text, source)
        try:
            if kind == "msg":
                return structs[interface]
            if kind == "srv":
                return ServiceDefinition(
                    interface,
                    structs[interface + "_Request"],
                    structs[interface + "_Response"],
                    source,
                )
            return make_action(
                interface,
                structs[interface + "_Goal"],
                structs[interface + "_Result"],
                structs[interface + "_Feedback"],
                source,
            )
        except KeyError as err:
            raise DefinitionError(f"{source}: defines no struct {err.args[0]!r}") from None

    def _store(self, definition: Definition) -> None:
        self._interfaces[definition.name] = definition
        if isinstance(definition, MessageDefinition):
            messages = [definition]
        elif isinstance(definition, ServiceDefinition):
            event = _service_event(definition.name, definition.request, definition.response)
            messages = [definition.request, definition.response, event]
        else:
            messages = [
                *definition.messages,
                _service_event(
                    definition.name + "_SendGoal",
                    definition.send_goal_request,
                    definition.send_goal_response,
                ),
                _service_event(
                    definition.name + "_GetResult",
                    definition.get_result_request,
                    definition.get_result_response,
                ),
            ]
        redefined = False
        for m in messages:
            redefined = redefined or m.name in self._messages
            self._messages[m.name] = m
        if redefined:
            # every type that nests a redefined one (at any depth) derived its Arrow type, codec,
            # fixed layout and arenas from the old definition: drop them all (see the docstring)
            self._arrow.clear()
            self._codecs.clear()
            self._codec_by_name.clear()

    def _unknown_message(self, type_name: str) -> str:
        split = split_type_name(type_name)
        if split is None:
            return (
                f"'{type_name}' is not a ROS 2 type name (write 'pkg/Type', 'pkg/msg/Type', "
                "'pkg/srv/Type_Request', 'pkg/action/Type_Goal', ...)"
            )
        known = self.interfaces()
        forms: dict[str, str] = {}
        for name in known:
            pkg, _kind, base = name.split("/")
            forms.setdefault(f"{pkg}/{base}", name)
            forms[name] = name
        for name in self._interfaces:
            forms[name] = name
        close = difflib.get_close_matches(type_name.strip("/"), list(forms), n=3, cutoff=0.6)
        suggestions = list(dict.fromkeys(forms[c] for c in close))
        message = f"unknown ROS 2 type '{type_name}'"
        if split[0] not in self.index.packages() and not any(
            n.startswith(split[0] + "/") for n in self._interfaces
        ):
            message += f" (no interface package '{split[0]}' found)"
        if suggestions:
            message += ": did you mean " + " or ".join(f"'{s}'" for s in suggestions) + "?"
        return message


_default: TypeRegistry | None = None
_default_lock = threading.Lock()


def default_registry() -> TypeRegistry:
    """The registry the module-level functions use (created on first use)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = TypeRegistry()
    return _default


def add_search_path(path: str | Path) -> None:
    """Search `path` for interface packages in the default registry (before the others)."""
    default_registry().add_search_path(path)
