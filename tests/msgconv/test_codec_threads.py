"""The codec and the registry under threads, and the bounds of their caches (issue 11).

Several threads encode and decode many types at once through one fresh registry (so codecs are
generated while other threads use them), with Python switching threads every microsecond; every
result must equal a single-threaded run's. The per-codec row plans hold at most PLANS_PER_TYPE
Arrow types per message type, and nothing keeps a registry or its definitions alive once the
user drops them (the old caches were module-level dicts keyed by `id()`, which kept every key).
"""

from __future__ import annotations

import gc
import random
import sys
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pytest

from dora_ros.msgconv import FieldType, TypeRegistry
from dora_ros.msgconv.codec import PLANS_PER_TYPE

try:
    from . import cdr_reference as ref_cdr
except ImportError:  # tests/msgconv is not a package: pytest put this folder on sys.path
    import cdr_reference as ref_cdr  # type: ignore[no-redef]

TYPES = [
    "geometry_msgs/msg/Twist",
    "geometry_msgs/msg/PoseArray",
    "sensor_msgs/msg/Image",
    "sensor_msgs/msg/PointCloud2",
    "sensor_msgs/msg/Imu",
    "sensor_msgs/msg/JointState",
    "sensor_msgs/msg/LaserScan",
    "nav_msgs/msg/Odometry",
    "nav_msgs/msg/Path",
    "std_msgs/msg/String",
    "std_msgs/msg/Float64MultiArray",
    "std_msgs/msg/Empty",
    "test_msgs/msg/Arrays",
    "test_msgs/msg/BoundedSequences",
    "test_msgs/msg/UnboundedSequences",
    "test_msgs/msg/WStrings",
    "test_msgs/msg/MultiNested",
    "trajectory_msgs/msg/JointTrajectory",
    "trajectory_msgs/msg/JointTrajectoryPoint",
    "visualization_msgs/msg/MarkerArray",
]


def _desc(t: FieldType) -> tuple[Any, ...]:
    element = t.element
    if element.is_nested:
        desc: tuple[Any, ...] = ("struct", element.name)
    elif element.is_string:
        desc = (element.name, element.string_bound)
    else:
        desc = ("prim", element.name)
    if t.array == "fixed":
        return ("array", desc, t.length)
    if t.array:
        return ("sequence", desc, t.length if t.array == "bounded" else None)
    return desc


def _schema(registry: TypeRegistry) -> dict[str, Any]:
    """msgconv's definitions in the plain form of `cdr_reference` (for its value generator)."""
    schema: dict[str, Any] = {}
    for name in TYPES:
        for definition in registry.messages_used(name):
            schema[definition.name] = tuple((f.name, _desc(f.type)) for f in definition.fields)
    return schema


def _work(registry: TypeRegistry, name: str, values: list[Any]) -> Any:
    """Everything one thread does with one type; a plain, comparable result."""
    codec = registry.codec(name)
    blobs = [codec.encode(v) for v in values]
    array = pa.array(values, type=registry.arrow_type(name))
    return [
        blobs,
        codec.encode_many(array),
        codec.encode_many(array.slice(1), as_arrow=True).to_pylist(),
        [codec.decode(b).to_pylist()[0] for b in blobs],
        codec.decode_many(blobs).to_pylist(),
    ]


@pytest.fixture
def fast_switching() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def test_many_threads_many_types_give_single_threaded_results(fast_switching: None) -> None:
    schema = _schema(TypeRegistry())
    rng = random.Random(5)
    values = {
        name: [ref_cdr.random_value(schema, ("struct", name), rng, max_seq=3) for _ in range(3)]
        for name in TYPES
    }
    alone = TypeRegistry()
    want = {name: _work(alone, name, values[name]) for name in TYPES}

    shared = TypeRegistry()  # fresh: codecs are generated while other threads run
    jobs = [name for name in TYPES for _ in range(4)]
    random.Random(6).shuffle(jobs)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda name: (name, _work(shared, name, values[name])), jobs))
    assert len(results) == len(jobs)
    for name, got in results:
        ref_cdr.assert_same(got, want[name], f"{name} under threads")
    # one codec per type, whichever thread made it
    codecs = {name: shared.codec(name) for name in TYPES}
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(lambda name: shared.codec(name) is codecs[name], jobs))


def test_row_plans_are_bounded_per_type() -> None:
    registry = TypeRegistry(use_default_roots=False)
    definition = registry.add_definition("plans/msg/T", "int32 a\nfloat64[] b\n")
    codec = registry.codec("plans/msg/T")
    assert definition is registry.message("plans/msg/T")
    kinds = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32()]
    arrows = [
        pa.struct([pa.field("a", a), pa.field("b", pa.list_(b))])
        for a in kinds
        for b in (pa.float32(), pa.float64())
    ]
    assert len(arrows) > PLANS_PER_TYPE
    for arrow in arrows:
        plan = codec._plans.plan(arrow, definition)
        assert [(i, name, kind) for i, name, kind, _ in plan] == [
            (0, "a", "plain"),
            (1, "b", "list"),
        ]
        # and encoding such an array works, whatever the plan cache dropped
        array = pa.array([{"a": 1, "b": [0.5]}], type=arrow)
        assert codec.encode(array) == codec.encode({"a": 1, "b": [0.5]})
    assert 0 < len(codec._plans) <= PLANS_PER_TYPE


def test_a_dropped_registry_and_its_definitions_are_freed() -> None:
    def use() -> tuple[weakref.ref[Any], weakref.ref[Any], weakref.ref[Any]]:
        registry = TypeRegistry(use_default_roots=False)
        registry.add_definition("gone/msg/Inner", "uint8[] data\n")
        registry.add_definition("gone/msg/T", "gone/Inner inner\nint16[] v\n")
        codec = registry.codec("gone/msg/T")
        array = pa.array(
            [{"inner": {"data": [1, 2]}, "v": [3]}, {"inner": None, "v": []}],
            type=registry.arrow_type("gone/msg/T"),
        )
        assert len(codec.encode_many(array)) == 2
        assert len(codec.encode_many(array.slice(1))) == 1
        return (
            weakref.ref(registry),
            weakref.ref(registry.message("gone/msg/T")),
            weakref.ref(registry.message("gone/msg/Inner")),
        )

    refs = use()
    gc.collect()
    assert [r() for r in refs] == [None, None, None], "something still holds the registry's types"


def test_a_redefined_type_gets_a_new_codec_under_every_spelling() -> None:
    # `codec()` answers from a cache keyed by the name as asked; a redefinition must clear it
    registry = TypeRegistry(use_default_roots=False)
    registry.add_definition("rd/msg/Value", "int32 a\n")
    spellings = ("rd/msg/Value", "rd/Value", "/rd/msg/Value")
    old = [registry.codec(name) for name in spellings]
    assert old[0] is old[1] is old[2]
    assert registry.codec("rd/Value").decode(old[0].encode({"a": 7})).to_pylist() == [{"a": 7}]
    registry.add_definition("rd/msg/Value", "float64 b\nint32 a\n")
    new = [registry.codec(name) for name in spellings]
    assert new[0] is new[1] is new[2] and new[0] is not old[0]
    assert [f.name for f in new[0].arrow_type] == ["b", "a"]
