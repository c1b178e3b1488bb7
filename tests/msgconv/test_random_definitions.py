"""Differential test on random message definitions nobody wrote by hand (issue 11).

For each random family of types (`random_definitions`: every primitive, strings and wstrings,
bounded or not, fixed arrays, bounded and unbounded sequences, nesting several levels deep,
sequences of nested messages, constants, defaults, empty messages) and random values of them:

- msgconv's parser gives the constants and defaults the text says;
- the generated encoder, `Codec.encode` (of a dict, of a one-row Arrow array, of a sliced one
  and of ones with offsets inside, `arrow_offsets.with_offsets`), `encode_many` from Arrow
  (also as one BinaryArray), the reference encoder, the plain serializer of `cdr_reference`
  and rosbags write the same bytes;
- the row decoder, the column decoder and the reference decoder read those bytes, little- and
  big-endian, as the value, and so does rosbags; msgconv reads rosbags' bytes of both orders;
- damaged copies (cut short, a bit flipped, a count planted) are read alike or refused alike by
  the row, column and reference decoders.

rosbags has no wstring or wchar (families reaching a wstring skip it) and reads `byte` as int8
(values are converted both ways). Its bounds go unchecked, but every value here is within them.

Each fixed-seed chunk is a separate test so xdist spreads them; one more test takes a fresh seed
each run, and says how to replay it. `make fuzz` runs the fresh-seed test for minutes
(DORA_ROS_FUZZ_SECONDS); DORA_ROS_FUZZ_SEED replays a seed.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from dora_ros.msgconv import TypeRegistry

try:
    from . import cdr_reference as ref_cdr
    from .arrow_offsets import with_offsets
    from .paths import decode_every_way, encode_every_way
    from .random_definitions import Family, random_family, random_value
except ImportError:  # tests/msgconv is not a package: pytest put this folder on sys.path
    import cdr_reference as ref_cdr  # type: ignore[no-redef]
    from arrow_offsets import with_offsets  # type: ignore[no-redef]
    from paths import decode_every_way, encode_every_way  # type: ignore[no-redef]
    from random_definitions import (  # type: ignore[no-redef]
        Family,
        random_family,
        random_value,
    )

CHUNKS = 8
FAMILIES_PER_CHUNK = 150  # ~2.5 types each: ~3,000 types per run over the chunks
VALUES_PER_TYPE = 3

_NUMPY = {
    "bool": np.bool_,
    "byte": np.int8,  # rosbags reads ROS 2's byte (an octet) as int8
    "char": np.uint8,
    "float32": np.float32,
    "float64": np.float64,
    **{n: getattr(np, n) for n in ("int8", "uint8", "int16", "uint16", "int32", "uint32")},
    "int64": np.int64,
    "uint64": np.uint64,
}


def _to_rosbags(store: Any, family: Family, desc: tuple[Any, ...], value: Any) -> Any:
    kind = desc[0]
    if kind == "prim":
        return value - 256 if desc[1] == "byte" and value > 127 else value
    if kind == "string":
        return value
    if kind == "struct":
        fields = family.schema[desc[1]]
        return store.types[desc[1]](
            **{name: _to_rosbags(store, family, d, value[name]) for name, d in fields}
        )
    element = desc[1]
    if element[0] == "prim":
        items = [_to_rosbags(store, family, element, v) for v in value]
        return np.array(items, dtype=_NUMPY[element[1]])
    return [_to_rosbags(store, family, element, v) for v in value]


def _from_rosbags(family: Family, desc: tuple[Any, ...], value: Any) -> Any:
    kind = desc[0]
    if kind == "prim":
        name = desc[1]
        if name == "bool":
            return bool(value)
        if name in ("float32", "float64"):
            return float(value)
        return int(value) & 0xFF if name == "byte" else int(value)
    if kind == "string":
        return value
    if kind == "struct":  # rosbags adds `structure_needs_at_least_one_member` to empty ones
        return {n: _from_rosbags(family, d, getattr(value, n)) for n, d in family.schema[desc[1]]}
    return [_from_rosbags(family, desc[1], v) for v in value]


def _mutations(blob: bytes, rng: random.Random) -> list[bytes]:
    """A few damaged copies: cut short, one byte changed, a small or huge count planted."""
    out = [blob[: rng.randrange(4, len(blob))]] if len(blob) > 4 else []
    body = len(blob) - 4
    if body > 0:
        damaged = bytearray(blob)
        damaged[4 + rng.randrange(body)] ^= 1 << rng.randrange(8)
        out.append(bytes(damaged))
    if body >= 4:
        damaged = bytearray(blob)
        at = 4 + rng.randrange(body // 4) * 4  # counts sit at 4-aligned offsets
        count = rng.choice([0, 1, 2, 3, 0xFFFFFFFF, rng.randrange(2**32)])
        damaged[at : at + 4] = count.to_bytes(4, "little")
        out.append(bytes(damaged))
    return out


def check_family(family: Family, rng: random.Random) -> int:
    """Every check of the module docstring on one family; returns the number of values run."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    registry = TypeRegistry(use_default_roots=False)
    for name, text in family.texts.items():
        registry.add_definition(name, text)
    store = get_typestore(Stores.EMPTY)
    for name, text in family.field_texts.items():
        if name not in family.wide:
            store.register(get_types_from_msg(text, name))
    checked = 0
    for name in family.texts:
        schema = family.schema
        definition = registry.message(name)
        assert [f.name for f in definition.fields] == [n for n, _ in schema[name]], name
        assert definition.constants_dict == family.constants[name], f"{name} constants"
        codec = registry.codec(name)
        assert codec.arrow_type.names == [n for n, _ in schema[name]]
        default = family.default_value(name)
        want_default, _ = ref_cdr.serialize(schema, name, default)
        assert encode_every_way(codec, {}, f"{name} default") == want_default
        ref_cdr.assert_same(decode_every_way(codec, want_default), default, f"{name} default")
        values = [random_value(family, name, rng) for _ in range(VALUES_PER_TYPE)]
        little, big = [], []
        for value in values:
            le, _ = ref_cdr.serialize(schema, name, value)
            be, _ = ref_cdr.serialize(schema, name, value, big_endian=True)
            little.append(le)
            big.append(be)
            assert encode_every_way(codec, value) == le, name
            # one row from Arrow: from its buffers where `buffer_encoder` reads the type, and a
            # row with an offset (always the general path)
            assert codec.encode(pa.array([value], type=codec.arrow_type)) == le, f"{name} row"
            two = pa.array([value, value], type=codec.arrow_type)
            assert codec.encode(two.slice(1, 1)) == le, f"{name} sliced row"
            # rows with offsets inside: list offsets from 1 (read from the buffers), and
            # slices of list values, elements and leaves too (left to the general path)
            for slices in (0.0, 0.3):
                row = with_offsets(pa.array([value], type=codec.arrow_type), rng, slices)
                assert codec.encode(row) == le, f"{name} row with offsets inside ({slices=})"
            ref_cdr.assert_same(decode_every_way(codec, le), value, f"{name} little-endian")
            ref_cdr.assert_same(decode_every_way(codec, be), value, f"{name} big-endian")
            if name not in family.wide:
                message = _to_rosbags(store, family, ("struct", name), value)
                for order, want in ((True, le), (False, be)):
                    theirs = bytes(store.serialize_cdr(message, name, little_endian=order))
                    assert theirs == want, f"{name}: rosbags wrote {theirs.hex()}, we {want.hex()}"
                    back = _from_rosbags(
                        family, ("struct", name), store.deserialize_cdr(want, name)
                    )
                    ref_cdr.assert_same(back, value, f"{name}: rosbags read ours ({order=})")
            for bad in _mutations(le, rng):  # damaged: all paths read alike or refuse alike
                decode_every_way(codec, bad, f"{name} damaged")
            checked += 1
        # many at once: from Arrow, as one BinaryArray, and decoded column by column
        array = pa.array(values, type=codec.arrow_type)
        assert codec.encode_many(array) == little, f"{name} encode_many from Arrow"
        assert codec.encode_many(array, as_arrow=True).to_pylist() == little, name
        ref_cdr.assert_same(codec.decode_many(little).to_pylist(), values, f"{name} decode_many")
        mixed = [b if i % 2 else le for i, (le, b) in enumerate(zip(little, big, strict=True))]
        ref_cdr.assert_same(codec.decode_many(mixed).to_pylist(), values, f"{name} mixed orders")
    return checked


def run(seed: int, families: int, seconds: float | None = None) -> int:
    """Check `families` random families from `seed` (or as many as fit in `seconds`)."""
    rng = random.Random(seed)
    start = time.monotonic()
    checked = 0
    k = 0
    while (k < families) if seconds is None else (time.monotonic() - start < seconds):
        family = random_family(rng, f"fuzz{k}")
        try:
            checked += check_family(family, rng)
        except AssertionError as err:
            raise AssertionError(
                f"seed {seed}, family {k} (replay: DORA_ROS_FUZZ_SEED={seed} pytest "
                f"{__file__}::test_random_definitions_fresh_seed):\n{family.describe()}\n{err}"
            ) from None
        k += 1
    return checked


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_random_definitions_fixed_seed(chunk: int) -> None:
    assert run(1100 + chunk, FAMILIES_PER_CHUNK) >= FAMILIES_PER_CHUNK * VALUES_PER_TYPE


def test_random_definitions_fresh_seed() -> None:
    """A new seed each run (printed in any failure), or DORA_ROS_FUZZ_SEED; for
    DORA_ROS_FUZZ_SECONDS seconds if set (`make fuzz`), else as many families as one chunk."""
    seed = int(os.environ.get("DORA_ROS_FUZZ_SEED") or random.SystemRandom().randrange(2**32))
    seconds = os.environ.get("DORA_ROS_FUZZ_SECONDS")
    checked = run(seed, FAMILIES_PER_CHUNK, float(seconds) if seconds else None)
    print(f"seed {seed}: {checked} values checked")
    assert checked > 0
