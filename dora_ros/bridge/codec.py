"""Arrow <-> CDR for the bridge's two faces (the Python API and the YAML bridge), with msgconv.

One place for the conversion rules both faces share: a value is encoded row by row (a struct
array of n rows is n messages), a value that does not fit raises `BridgeError` naming what was
being sent and the field, and a sample decodes into a one-row struct array. A sample that does not
decode is a `MalformedSample` from `decode_as` naming the endpoint and the type: a `BridgeError`,
so a `RuntimeError` as code written for dora-rs catches (`decode` alone raises msgconv's error).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from ..errors import BridgeError, MsgConvError

__all__ = ["MalformedSample", "decode", "decode_as", "encode", "encode_rows"]


class MalformedSample(BridgeError):
    """A sample from the network does not decode as its type (a peer with another definition of
    the type, or damaged bytes). Raised by `decode_as`; names the endpoint (`what`) and the type,
    and keeps msgconv's error naming the field as `cause`."""

    def __init__(self, what: str, type_name: str, size: int, cause: MsgConvError) -> None:
        super().__init__(
            f"{what}: malformed {type_name} sample ({size} bytes) from the network: {cause}"
        )
        self.what = what
        self.type_name = type_name
        self.cause = cause


def encode(type_name: str, value: Any, what: str) -> bytes:
    """Serialize `value` as `type_name` with msgconv; BridgeError naming `what` and the field."""
    from .. import msgconv

    try:
        return bytes(msgconv.encode(type_name, value))
    except MsgConvError as err:
        raise BridgeError(f"{what}: {err}") from err


def encode_rows(type_name: str, value: Any, what: str) -> list[bytes]:
    """Serialize every row of a struct array (or one dict) as `type_name`."""
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if isinstance(value, pa.StructArray) and len(value) != 1:
        from .. import msgconv

        try:
            return [bytes(b) for b in msgconv.encode_many(type_name, value)]
        except MsgConvError as err:
            raise BridgeError(f"{what}: {err}") from err
    return [encode(type_name, value, what)]


def decode(type_name: str, data: bytes | memoryview) -> pa.StructArray:
    """Deserialize one CDR message of `type_name` into a one-row struct array (MsgConvError)."""
    from .. import msgconv

    return msgconv.decode(type_name, data)


def decode_as(type_name: str, data: bytes | memoryview, what: str) -> pa.StructArray:
    """`decode`, with a malformed sample raised as a `MalformedSample` (a BridgeError, so a
    RuntimeError) naming `what` (the endpoint: `response of service /add`) and the type."""
    try:
        return decode(type_name, data)
    except MsgConvError as err:
        raise MalformedSample(what, type_name, len(data), err) from err
