"""wire.py's metadata codec against an obviously correct reference (json.dumps/json.loads).

The codec's hot path keeps one JSON encoder and decoder and skips per-value work for plain
scalars; these tests pin that the bytes on the wire and the values read back are exactly what
the straightforward version gives, for every kind of parameter dora-rs allows.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import time
from typing import Any

import pytest

from dora_ros.runtime import wire

_UTC = dt.timezone.utc


def _reference_encode(metadata: dict[str, Any]) -> bytes:
    params = {str(k): wire._param(v) for k, v in metadata.items() if k != "timestamp"}
    return json.dumps(params, separators=(",", ":")).encode() if params else b""


def _reference_decode(raw: bytes) -> dict[str, Any]:
    def hook(obj: dict[str, Any]) -> Any:
        if len(obj) == 1 and "$dt" in obj:
            return wire._EPOCH + dt.timedelta(microseconds=obj["$dt"])
        return obj

    return json.loads(raw, object_hook=hook) if raw else {}


class _Color(enum.IntEnum):
    RED = 1


class _Tag(str):
    pass


_CASES: list[dict[Any, Any]] = [
    {"t": 1_765_000_000_123_456_789, "size": 8, "phase": "lat"},
    {"flag": True, "off": False, "ratio": 0.25, "neg": -3, "big": 2**63 - 1},
    {"name": 'caméra ✓ \u0000 "q" \\ $dt', "empty": ""},
    {"stamp": dt.datetime(2026, 12, 7, 10, 0, 0, 123456, tzinfo=_UTC)},
    {"naive": dt.datetime(2001, 2, 3, 4, 5, 6, 7)},
    {"ints": [1, 2, 3], "floats": [0.5, 1.5], "strs": ["a", "b"], "mixed": [1, 2.5]},
    {"times": [dt.datetime(2020, 1, 1, tzinfo=_UTC), dt.datetime(2021, 1, 1, tzinfo=_UTC)]},
    {"tuple": (1, 2), "nested": [[1, 2], [3]], "empty_list": []},
    {"enum": _Color.RED, "tag": _Tag("x"), 7: "int key", None: 1.0},
    {"other": {"a": 1}, "none": None, "obj": object()},
    {"looks_like_dt": '{"$dt": 5}', "$dt": 3},
    {"timestamp": dt.datetime(2020, 1, 1, tzinfo=_UTC), "k": 1},
    {"timestamp": 5},
    {"negzero": -0.0, "tiny": 5e-324, "huge": 1e300, "bigint": 10**30, "negbig": -(10**30)},
    {"ctrl": "\x01\x1f\x7f", "emoji": "🤖", 'key \u00e9 "q"': "v", "bool_then_int": [True, 1]},
]


@pytest.mark.parametrize("metadata", _CASES, ids=range(len(_CASES)))
def test_metadata_bytes_and_values_match_the_reference(metadata: dict[Any, Any]) -> None:
    raw = wire.encode_metadata(metadata)
    assert raw == _reference_encode(metadata)
    ts = time.time_ns()
    decoded = wire.decode_metadata(raw, ts)
    expected = _reference_decode(raw)
    stamp = decoded.pop("timestamp")
    assert stamp == dt.datetime.fromtimestamp(ts / 1e9, _UTC)
    assert decoded == expected
    # Same types, not only equal values (True == 1 == 1.0 in Python).
    assert repr(decoded) == repr(expected)
    # Also through a memoryview, as the receive path hands it over.
    assert repr(wire.decode_metadata(memoryview(raw), ts)) == repr({**expected, "timestamp": stamp})


def test_metadata_datetime_inside_a_string_stays_a_string() -> None:
    raw = wire.encode_metadata({"s": '"$dt"', "d": dt.datetime(2020, 1, 1, tzinfo=_UTC)})
    decoded = wire.decode_metadata(raw, 0)
    assert decoded["s"] == '"$dt"'
    assert decoded["d"] == dt.datetime(2020, 1, 1, tzinfo=_UTC)


def test_empty_and_missing_metadata_carry_nothing() -> None:
    assert wire.encode_metadata(None) == b""
    assert wire.encode_metadata({}) == b""
    assert wire.encode_metadata({"timestamp": 1}) == b""
    assert wire.decode_metadata(b"", 1_000_000_000) == {
        "timestamp": dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=_UTC)
    }


def test_metadata_that_is_not_a_dict_is_an_error_naming_it() -> None:
    with pytest.raises(wire.NodeError, match="metadata must be a dict, not list"):
        wire.encode_metadata([1])  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", [b'{"a":1} x', b"[1]", b'{"a":1}{"b":2}', b"{"])
def test_metadata_that_is_not_one_json_object_is_an_error(raw: bytes) -> None:
    with pytest.raises((wire.NodeError, ValueError)):
        wire.decode_metadata(raw, 0)


def test_metadata_non_finite_floats_are_written_as_json_writes_them() -> None:
    # NaN compares unequal to itself: bytes only (the straight-line encoder leaves them to JSON).
    metadata = {"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf"), "k": 1}
    raw = wire.encode_metadata(metadata)
    assert (
        raw == _reference_encode(metadata) == b'{"nan":NaN,"inf":Infinity,"ninf":-Infinity,"k":1}'
    )


def test_metadata_key_cache_is_bounded() -> None:
    for i in range(wire._KEY_CACHE_LIMIT + 100):
        metadata = {f"key-{i}": i, "phase": "lat"}
        assert wire.encode_metadata(metadata) == _reference_encode(metadata)
    assert len(wire._KEYS) <= wire._KEY_CACHE_LIMIT
