"""Bytes on the runtime's sockets: data frames, Arrow payloads and metadata.

Every message between two nodes is one SOCK_SEQPACKET record (so no length framing and no
partial reads): a fixed header, the metadata, a type descriptor, then the payload inline (below
4 KiB) or a reference to a shared-memory region (see ``shm_pool``).

Why not Arrow IPC for everything: an IPC stream of one 8-byte uint8 array is ~600 bytes and costs
~25 us to write and read back in Python, while the header below plus ``pa.Array.from_buffers``
costs ~3 us. So flat arrays (bytes, and primitive arrays without nulls) take a raw path, and
everything else (nested, strings, nulls, slices) takes IPC, which round-trips any Arrow type.
"""

from __future__ import annotations

import datetime as dt
import json
import json.encoder
import struct
from typing import Any

import pyarrow as pa

from ..errors import NodeError

# Frame kinds.
KIND_INLINE = 1  # payload follows the descriptor in the same record
KIND_SHM = 2  # payload is in a shared-memory region (fd passed once per link)
KIND_RELEASE = 3  # receiver -> sender: regions no longer referenced
KIND_HELLO = 4  # sender -> receiver, first record of a link: the sender's node id
KIND_RETIRE = 5  # sender -> receiver: regions the sender gave up; the receiver unmaps them

# Payload encodings.
ENC_BYTES = 0  # raw bytes, delivered as pa.UInt8Array (as dora-rs does for `bytes`)
ENC_FLAT = 1  # primitive fixed-width array without nulls: one type code + the values buffer
ENC_IPC = 2  # Arrow IPC stream of a one-column record batch

# kind, encoding, output index, type-code, metadata length, timestamp (ns, UTC), payload length
HEADER = struct.Struct("<BBHBxxxIQQ")
# region id, region generation, region size (the payload starts at offset 0)
SHM_REF = struct.Struct("<IIQ")
RELEASE_ITEM = struct.Struct("<II")  # region id, generation
RETIRE_ITEM = struct.Struct("<I")  # region id

INLINE_LIMIT = 4096

_FLAT_TYPES: tuple[pa.DataType, ...] = (
    pa.uint8(),
    pa.int8(),
    pa.uint16(),
    pa.int16(),
    pa.uint32(),
    pa.int32(),
    pa.uint64(),
    pa.int64(),
    pa.float16(),
    pa.float32(),
    pa.float64(),
)
# Keyed by Arrow's type id: hashing a DataType costs ~1 us, reading `.id` ~0.1 us.
_FLAT_CODE = {t.id: i for i, t in enumerate(_FLAT_TYPES)}
_FLAT_WIDTH = tuple(t.bit_width // 8 for t in _FLAT_TYPES)


class Payload:
    """What a sender puts on the wire for one array: encoding, type code and the bytes to copy."""

    __slots__ = ("encoding", "length", "type_code", "view")

    def __init__(self, encoding: int, type_code: int, view: Any, length: int) -> None:
        self.encoding = encoding
        self.type_code = type_code
        self.view = view  # buffer-protocol object (memoryview/pa.Buffer) or None for IPC
        self.length = length  # bytes on the wire


def encode_payload(data: Any) -> tuple[Payload, pa.Array | None]:
    """Classify ``data`` (a pyarrow array or bytes-like) for the wire.

    Returns the payload description and, for IPC, the array to write with :func:`write_ipc`.
    """
    # Hot path, written for a sender that sends one message at a time: every pyarrow property
    # read costs a few microseconds when the process has slept since the last message (the CPU's
    # caches are cold; docs/benchmarks.md, "Cluster"), so an array is tested first and a flat one
    # reads its type, buffers, length and offset once each; null_count only with a validity
    # bitmap (none: no nulls).
    if not isinstance(data, pa.Array):
        if isinstance(data, (bytes, bytearray, memoryview)):
            view = memoryview(data).cast("B")
            return Payload(ENC_BYTES, 0, view, view.nbytes), None
        if not isinstance(data, pa.ChunkedArray):
            raise NodeError(
                f"send_output: data must be a pyarrow array or bytes, not {type(data).__name__}"
                " (wrap Python values with pa.array([...]))"
            )
        data = data.combine_chunks()
    code = _FLAT_CODE.get(data.type.id)
    if code is not None:
        validity, buf = data.buffers()
        if validity is None or data.null_count == 0:
            width = _FLAT_WIDTH[code]
            nbytes = len(data) * width
            if buf is None:
                return Payload(ENC_FLAT, code, b"", 0), None
            offset = data.offset
            if offset or buf.size != nbytes:
                buf = buf.slice(offset * width, nbytes)
            return Payload(ENC_FLAT, code, buf, nbytes), None
    size = ipc_size(data)
    return Payload(ENC_IPC, 0, None, size), data


def _batch(array: pa.Array) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([array], names=["v"])


def ipc_size(array: pa.Array) -> int:
    """Bytes an IPC stream of ``array`` takes (measured without copying the data)."""
    sink = pa.MockOutputStream()
    batch = _batch(array)
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return int(sink.size())


def write_ipc(array: pa.Array, target: pa.Buffer) -> None:
    """Write the IPC stream of ``array`` into the writable buffer ``target``."""
    stream = pa.FixedSizeBufferWriter(target)
    batch = _batch(array)
    with pa.ipc.new_stream(stream, batch.schema) as writer:
        writer.write_batch(batch)


def ipc_bytes(array: pa.Array) -> bytes:
    batch = _batch(array)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def decode_payload(encoding: int, type_code: int, buf: pa.Buffer) -> pa.Array:
    """Turn received bytes back into an Arrow array, without copying ``buf``."""
    if encoding == ENC_BYTES:
        return pa.Array.from_buffers(pa.uint8(), buf.size, [None, buf])
    if encoding == ENC_FLAT:
        return pa.Array.from_buffers(
            _FLAT_TYPES[type_code], buf.size // _FLAT_WIDTH[type_code], [None, buf]
        )
    reader = pa.ipc.open_stream(buf)
    batch = reader.read_next_batch()
    return batch.column(0)


def decode_inline(record: bytes) -> tuple[pa.Array, dict[str, Any]]:
    """The value and metadata of an inline data record (``KIND_INLINE``), over its bytes."""
    _, encoding, _, type_code, meta_len, ts, nbytes = HEADER.unpack_from(record)
    start = HEADER.size + meta_len
    meta = record[HEADER.size : start] if meta_len else b""
    buf = pa.py_buffer(record).slice(start, nbytes)
    return decode_payload(encoding, type_code, buf), decode_metadata(meta, ts)


# --- metadata ---------------------------------------------------------------------------------
# JSON keeps bool/int/float/str and lists apart exactly; datetimes travel as {"$dt": ns}.


def _param(value: Any) -> Any:
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        # Mixed lists ([1, 2.5]) round-trip as they are; dora-rs raises TypeError for them.
        return [_param(v) for v in value]
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        delta = value - _EPOCH
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return {"$dt": micros}
    # dora-rs turns anything else into its str() (with a warning); so do we, for portability.
    return str(value)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
# Exact classes only: a subclass (an IntEnum, a str subclass) takes `_param` as before.
_SCALARS = frozenset((bool, int, float, str))


def encode_metadata(metadata: dict[str, Any] | None) -> bytes:
    if not metadata:
        return b""
    if not isinstance(metadata, dict):
        raise NodeError(f"metadata must be a dict, not {type(metadata).__name__}")
    # The common case, str keys and str/int/float/bool values, is written here in one loop:
    # the same bytes as the JSON encoder (tests/runtime/test_wire.py checks them against
    # json.dumps), without its per-call set-up (a closure and a C encoder made per call), which
    # was half the cost of a paced message's metadata (three parameters: 48.7 -> 25.5 us cold,
    # 2.3 -> 0.9 us warm; docs/benchmarks.md, "Cluster", session 8). Anything else goes to the
    # general path.
    parts = []
    for k, v in metadata.items():
        if k.__class__ is not str:
            return _encode_general(metadata)
        if k == "timestamp":
            continue
        key = _KEYS.get(k)
        if key is None:
            key = _quote(k) + ":"
            if len(_KEYS) < _KEY_CACHE_LIMIT:
                _KEYS[k] = key
        cls = v.__class__
        if cls is str:
            parts.append(key + _quote(v))
        elif cls is int:
            parts.append(key + _int_repr(v))
        elif cls is float and v - v == 0.0:  # finite (JSON spells NaN and Infinity its own way)
            parts.append(key + _float_repr(v))
        elif cls is bool:
            parts.append(key + ("true" if v else "false"))
        else:
            return _encode_general(metadata)
    if not parts:
        return b""
    return ("{" + ",".join(parts) + "}").encode()


def _encode_general(metadata: dict[Any, Any]) -> bytes:
    # Scalars (the common case) skip `_param`; `str` keys skip `str()`.
    params = {
        (k if k.__class__ is str else str(k)): (v if v.__class__ in _SCALARS else _param(v))
        for k, v in metadata.items()
        if k != "timestamp"
    }
    if not params:
        return b""
    return _encode_json(params).encode()


# What the JSON encoder writes for a str (ensure_ascii), and for ints and finite floats.
_quote = json.encoder.encode_basestring_ascii
_int_repr = int.__repr__
_float_repr = float.__repr__
# Metadata keys as written ('"key":'): a node sends the same few keys again and again. Bounded:
# past the limit a key is quoted each time.
_KEYS: dict[str, str] = {}
_KEY_CACHE_LIMIT = 1024


def _hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and "$dt" in obj:
        return _EPOCH + dt.timedelta(microseconds=obj["$dt"])
    return obj


_UTC = dt.timezone.utc
_from_timestamp = dt.datetime.fromtimestamp


# One encoder and decoder for the module: `json.dumps`/`json.loads` given any keyword argument
# build a new one per call, which was half of their cost here (8-byte messages with three
# parameters: encode 3.4 -> 2.3 us, decode 6.4 -> 2.5 us, unloaded; docs/benchmarks.md). Same
# settings as json.dumps(separators=(",", ":")) and json.loads(object_hook=_hook).
# Decoding goes through `raw_decode`: `decode` adds two regex matches for whitespace, which our
# encoder never writes (0.83 -> 0.50 us for three parameters); the length check below keeps
# `decode`'s error for anything after the document.
_encode_json = json.JSONEncoder(separators=(",", ":")).encode
_decode_json = json.JSONDecoder(object_hook=_hook).raw_decode
_decode_plain = json.JSONDecoder().raw_decode


def decode_metadata(raw: bytes | memoryview, timestamp_ns: int) -> dict[str, Any]:
    if len(raw):
        # Our encoder writes ASCII (ensure_ascii), so UTF-8 is what json.loads would detect.
        text = str(raw, "utf-8", "surrogatepass")
        # Without a datetime in it, no object needs the hook: skip a Python call per object.
        metadata, end = (_decode_json if '"$dt"' in text else _decode_plain)(text)
        if end != len(text) or metadata.__class__ is not dict:
            raise NodeError(f"metadata on the wire is not one JSON object: {text[:80]!r}")
    else:
        metadata = {}
    # Float seconds keep microseconds here (the float's step is ~0.2 us) at a third of the cost
    # of exact timedelta arithmetic; dora-rs itself rounds to microseconds.
    metadata["timestamp"] = _from_timestamp(timestamp_ns / 1e9, _UTC)
    return metadata
