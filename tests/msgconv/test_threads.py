"""msgconv from several threads at once gives what one thread gives (issue 11).

`native.spec` used to move a found type to the front of its bucket and then answer with whatever
sat at the front: a thread switch in between gave another type's spec (same Arrow kind and width,
other field names), and the encoder then read the value under the wrong names, silently. Here
threads encode and decode many types, each from a fresh Arrow value (whose `.type` is a new object,
found by equality), with thread switches forced as often as Python allows, and every result is
compared with a single-threaded run. The caches are bounded too.
"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from dora_ros import msgconv
from dora_ros.msgconv import arrow_build, native
from tests.msgconv.test_codec import _message_types, _random_value
from tests.msgconv.test_fixed_layout import ARENA_TYPES, _distinct_blobs

PATHS = [True, False] if native.AVAILABLE else [False]


@pytest.fixture
def switch_often() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _cases() -> list[tuple[str, pa.StructArray, bytes]]:
    """(type, a one-row value as a fresh pa.array, its CDR bytes) for many types of few fields:
    the types that share a (kind, width) bucket in native.spec."""
    registry = msgconv.default_registry()
    rng = random.Random(5)
    cases = []
    for name in _message_types():
        definition = registry.message(name)
        if not 1 <= len(definition.fields) <= 4:
            continue
        blob = msgconv.encode(name, _random_value(definition, registry, rng))
        value = msgconv.decode(name, blob)
        cases.append((name, value, blob))
    return cases


def _work(cases: list[tuple[str, pa.StructArray, bytes]], order: list[int]) -> list[Any]:
    out = []
    for i in order:
        name, value, blob = cases[i]
        # a new array object, and a new type object equal to the registry's: found by equality
        fresh = pa.array(value.to_pylist(), type=pa.struct(list(value.type)))
        out.append((i, msgconv.encode(name, fresh), msgconv.decode(name, blob).to_pylist()))
    return out


@pytest.mark.parametrize("with_c", PATHS)
def test_threads_get_what_one_thread_gets(
    monkeypatch: pytest.MonkeyPatch, switch_often: None, with_c: bool
) -> None:
    monkeypatch.setattr(native, "AVAILABLE", with_c)
    cases = _cases()
    assert len(cases) > 50
    expected = {i: (blob, r) for i, blob, r in _work(cases, list(range(len(cases))))}
    results: list[list[Any]] = []
    errors: list[BaseException] = []

    def run(seed: int) -> None:
        order = list(range(len(cases))) * 3
        random.Random(seed).shuffle(order)
        try:
            results.append(_work(cases, order))
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors[0]
    assert len(results) == 4
    wrong = [
        cases[i][0]
        for result in results
        for i, blob, decoded in result
        if (blob, decoded) != expected[i]
    ]
    assert not wrong, f"{len(wrong)} results differ from one thread's, e.g. {wrong[:3]}"


def test_threads_decoding_into_shared_arenas_get_what_one_thread_gets(switch_often: None) -> None:
    # Fixed-layout types decode into slots of a shared arena (fixed_layout.py), taken without a
    # lock: two threads given one slot would overwrite each other's message, and a full arena is
    # replaced while other threads take slots. Every thread decodes messages of its own (each
    # element distinct) through three arenas and more of each type and keeps them all; then each
    # kept message must equal a single-threaded decode, and no two may share a slot.
    registry = msgconv.default_registry()
    work: list[tuple[msgconv.Codec, list[list[bytes]]]] = []
    for name in ARENA_TYPES:
        codec = registry.codec(name)
        assert codec._fixed is not None
        per_thread = codec._fixed.slots * 3 + 5
        blobs = _distinct_blobs(codec, per_thread * 4, "<")
        work.append((codec, [blobs[t * per_thread : (t + 1) * per_thread] for t in range(4)]))
    expected = [[[c.decode(b).to_pylist() for b in part] for part in parts] for c, parts in work]
    kept: list[list[list[pa.StructArray]]] = [[[] for _ in range(4)] for _ in work]
    errors: list[BaseException] = []

    def run(t: int) -> None:
        try:
            for k, (codec, parts) in enumerate(work):
                out = kept[k][t]
                for blob in parts[t]:
                    out.append(codec.decode(blob))
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors[0]
    for k, (codec, _) in enumerate(work):
        name = codec.definition.name
        got = [[a.to_pylist() for a in kept[k][t]] for t in range(4)]
        wrong = sum(g != e for t in range(4) for g, e in zip(got[t], expected[k][t], strict=True))
        assert wrong == 0, f"{name}: {wrong} kept messages differ from one thread's decode"
        position = codec._fixed.data_positions[0]  # type: ignore[union-attr]
        slots = {(a.buffers()[position].address, a.offset) for part in kept[k] for a in part}
        assert len(slots) == sum(len(part) for part in kept[k]), f"{name}: a slot given twice"


def test_type_caches_are_bounded() -> None:
    # a new Arrow type per call (a stream of ever-changing user types) cannot grow them for ever
    for n in range(1500):
        dtype = pa.struct([(f"f{n}", pa.int32()), ("b", pa.float64())])
        native.spec(dtype, keep=True)
        arrow_build._BUILDERS.get(dtype)
    assert len(native._KEPT) <= native._KEPT_LIMIT
    assert sum(len(bucket) for bucket in native._SPECS.values()) <= (
        native._BUCKET_LIMIT * native._BUCKETS_LIMIT
    )
    assert all(len(bucket) <= native._BUCKET_LIMIT for bucket in native._SPECS.values())
    assert len(arrow_build._BUILDERS.by_id) <= arrow_build._BUILDERS.limit


def test_spec_answers_for_the_type_asked_whatever_runs_in_between() -> None:
    # Another thread's lookup is made to run at every line of `native.spec` (a trace function
    # starts it and waits a little for it; one that waits for a lock of ours finishes later), so
    # every interleaving a thread switch could make is tried. The first version answered with
    # the front of a bucket that the other lookup had just changed.
    types = [pa.struct([(f"a{n}", pa.int32()), (f"b{n}", pa.float64())]) for n in range(6)]
    for t in types:
        native.spec(pa.struct(list(t)))  # all in one bucket
    spec_code = native.spec.__code__
    others: list[threading.Thread] = []
    wrong: list[Any] = []

    def other_lookup(n: int) -> None:
        found = native.spec(pa.struct(list(types[n])))
        if found[1] != (f"a{n}", f"b{n}"):
            wrong.append(found[1])

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code is not spec_code:
            return None

        def line(frame: Any, event: str, arg: Any) -> Any:
            if event == "line":
                thread = threading.Thread(target=other_lookup, args=(len(others) % len(types),))
                others.append(thread)
                thread.start()
                thread.join(timeout=0.005)
            return line

        return line

    rng = random.Random(1)
    sys.settrace(tracer)
    try:
        for _ in range(40):
            n = rng.randrange(len(types))
            found = native.spec(pa.struct(list(types[n])))
            if found[1] != (f"a{n}", f"b{n}"):
                wrong.append(found[1])
    finally:
        sys.settrace(None)
    for thread in others:
        thread.join(timeout=60)
    assert not wrong, f"{len(wrong)} lookups answered another type's spec, e.g. {wrong[:3]}"
