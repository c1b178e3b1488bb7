"""The C helpers of msgconv (`msgconv/native.py`, `_arrow_native.c`) against the Python paths.

`make test` also runs every msgconv test with DORA_ROS_NO_NATIVE=1, so the lifetime tests of
test_arrow_build.py cover both the C release of a decoded tree and the Python one. Here the two
paths are compared directly, value for value, in one process.
"""

from __future__ import annotations

import gc
import os
import random
import shutil
import subprocess
import sys
import sysconfig
import weakref
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from dora_ros import msgconv
from dora_ros.msgconv import arrow_build, native
from tests.msgconv.test_codec import _message_types, _random_value

needs_native = pytest.mark.skipif(
    not native.AVAILABLE, reason="the C helpers are off (DORA_ROS_NO_NATIVE) or were not built"
)
# The paths a test of behaviour both must share runs on: C and Python, or Python alone when the C
# helpers are off (the DORA_ROS_NO_NATIVE run of `make test`).
PATHS = [True, False] if native.AVAILABLE else [False]


def _under_debug_malloc(script: str) -> str:
    """What `script` prints in a child whose allocator overwrites freed memory (it must exit 0):
    code that reads memory after freeing it crashes there instead of passing by luck."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONMALLOC": "debug"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _plain(value: Any) -> Any:
    """`value` with numpy arrays as lists (what to_pylist gives)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def test_the_c_helpers_are_built_where_a_compiler_is() -> None:
    # setup.py builds them as an optional extension: a compile error would only show up as a
    # slower msgconv, so where a compiler exists, their absence is a failure
    if os.environ.get("DORA_ROS_NO_NATIVE", "") not in ("", "0"):
        pytest.skip("turned off by DORA_ROS_NO_NATIVE")
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip(f"no C compiler ({compiler}) on this machine")
    if not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")):
        pytest.skip("no Python headers (Python.h) on this machine")
    assert native.AVAILABLE


@needs_native
def test_rows_read_what_to_pylist_reads_for_every_type() -> None:
    registry = msgconv.default_registry()
    rng = random.Random(7)
    checked = 0
    for name in _message_types():
        definition = registry.message(name)
        arrow = registry.arrow_type(name)
        values = [_random_value(definition, registry, rng) for _ in range(4)]
        full = [msgconv.decode(name, msgconv.encode(name, v)).to_pylist()[0] for v in values]
        array = pa.array(full, type=arrow)  # made by pyarrow, not by our builder
        for part in (array, array.slice(1, 2), array.slice(3)):
            rows = native.rows(part)
            assert rows is not None, name
            assert _plain(rows) == part.to_pylist(), name
        checked += 1
    assert checked > 150


def _first_list_view() -> tuple[np.ndarray, int, Any]:
    """The numpy view `rows` makes of a list column, its buffer's address, and a weak reference
    to the struct array it came from (of which nothing else is left)."""
    lists = pa.array([[1.5, 2.5], [3.0]], pa.list_(pa.float64()))
    array = pa.StructArray.from_arrays([lists], names=["lists"])
    rows = native.rows(array)
    assert rows is not None
    return rows[0]["lists"], lists.values.buffers()[1].address, weakref.ref(array)


@needs_native
def test_rows_of_every_arrow_layout() -> None:
    # nulls at every level, offsets in children, large and fixed-size lists, other widths
    inner = pa.array([{"a": 1, "b": "x"}, None, {"a": None, "b": "zz"}, {"a": 4, "b": None}])
    lists = pa.array([[1.5, 2.5], None, [], [3.0, 4.0]], pa.list_(pa.float64()))
    holes = pa.array([[1, None], [2], None, []], pa.list_(pa.int16()))
    large = pa.array([["a"], ["b", "c"], None, []], pa.large_list(pa.large_string()))
    fixed = pa.array([[1, 2], [3, 4], [5, 6], None], pa.list_(pa.int8(), 2))
    flags = pa.array([[True, False], [False], None, [True]], pa.list_(pa.bool_()))
    wide = pa.array([2**64 - 1, 0, 7, None], pa.uint64())
    array = pa.StructArray.from_arrays(
        [inner, lists, holes, large, fixed, flags, wide],
        names=["inner", "lists", "holes", "large", "fixed", "flags", "wide"],
        mask=pa.array([False, False, True, False]),
    )
    sliced = pa.StructArray.from_arrays(
        [inner.slice(1), lists.slice(1), fixed.slice(1)], names=["inner", "lists", "fixed"]
    )
    for part in (array, array.slice(1), sliced, sliced.slice(2)):
        rows = native.rows(part)
        assert rows is not None
        assert _plain(rows) == part.to_pylist()
    # numeric lists without nulls are numpy views of the Arrow buffer, and keep it alive
    view, address, alive = _first_list_view()
    assert isinstance(view, np.ndarray) and not view.flags.writeable
    assert view.ctypes.data == address
    gc.collect()
    assert alive() is not None  # only the view holds the array now
    assert view.tolist() == [1.5, 2.5]
    del view
    gc.collect()
    assert alive() is None
    # types without a C reader: the Python path reads them
    stamps = pa.StructArray.from_arrays([pa.array([1], pa.timestamp("s"))], names=["t"])
    assert native.rows(stamps) is None


@needs_native
def test_encode_from_arrow_gives_the_same_bytes_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    cases = [
        # these two have uint64 maximums among their defaults, which pa.array cannot infer
        ("test_msgs/msg/Arrays", {}),
        ("test_msgs/msg/UnboundedSequences", {"int32_values": [1, -2], "string_values": ["é"]}),
        ("test_msgs/msg/BasicTypes", {"int32_value": -5, "float32_value": 1.5, "byte_value": 7}),
        ("sensor_msgs/msg/JointState", {"name": ["a", "b"], "position": [1.0, 2.0]}),
        ("sensor_msgs/msg/PointCloud2", {"data": np.arange(64, dtype=np.uint8), "width": 4}),
        ("geometry_msgs/msg/Twist", {"linear": {"x": 1.0}}),
    ]
    for name, value in cases:
        array = msgconv.decode(name, msgconv.encode(name, value))
        forms = [array, pa.concat_arrays([array, array]).slice(1)]  # and a row at offset 1
        if not name.startswith(("test_msgs/msg/Arrays", "test_msgs/msg/Unbounded")):
            # lenient types: int64 for int32, float64 for float32 arrays (pa.array's choices)
            forms.append(pa.array(array.to_pylist()))
        with_c = [msgconv.encode(name, a) for a in forms]
        monkeypatch.setattr(native, "AVAILABLE", False)
        with_python = [msgconv.encode(name, a) for a in forms]
        monkeypatch.setattr(native, "AVAILABLE", True)
        assert with_c == with_python, name
        assert len(set(with_c)) == 1, name


def test_nulls_in_an_arrow_value(monkeypatch: pytest.MonkeyPatch) -> None:
    # a null field takes its default, as a missing one does; a null list element is an error
    value = pa.array([{"linear": {"x": None, "y": 1.0, "z": 0.0}}])
    expected = msgconv.encode("geometry_msgs/msg/Twist", {"linear": {"y": 1.0}})
    cloud = pa.array([{"data": [1, None, 3]}], pa.struct([("data", pa.list_(pa.uint8()))]))
    for available in PATHS:
        monkeypatch.setattr(native, "AVAILABLE", available)
        assert msgconv.encode("geometry_msgs/msg/Twist", value) == expected
        with pytest.raises(msgconv.MsgConvError, match=r"'data\[1\]'.*None"):
            msgconv.encode("sensor_msgs/msg/PointCloud2", cloud)


@needs_native
def test_decode_builds_the_same_arrays_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = msgconv.default_registry()
    rng = random.Random(11)
    for name in _message_types():
        definition = registry.message(name)
        codec = registry.codec(name)
        for _ in range(2):
            blob = msgconv.encode(name, _random_value(definition, registry, rng))
            with_c = codec.to_arrow([codec.decode_tree(blob)])
            monkeypatch.setattr(native, "AVAILABLE", False)
            with_python = codec.to_arrow([codec.decode_tree(blob)])
            monkeypatch.setattr(native, "AVAILABLE", True)
            with_c.validate(full=True)
            assert with_c.type == with_python.type, name
            assert with_c.equals(with_python), name


@pytest.mark.parametrize("with_c", PATHS)
def test_build_points_into_aligned_input_and_copies_the_rest(
    monkeypatch: pytest.MonkeyPatch, with_c: bool
) -> None:
    monkeypatch.setattr(native, "AVAILABLE", with_c)
    codec = msgconv.default_registry().codec("test_msgs/msg/UnboundedSequences")
    walk = native.spec(codec.arrow_type)

    def build(row: dict[str, Any]) -> pa.StructArray:
        if with_c:  # straight to the C builder: a fallback to Python would hide a C bug
            built = arrow_build._native_one_row(codec.arrow_type, walk, row)
            assert built is not None
            return built
        return codec.to_arrow([row])

    row = codec.decode_tree(msgconv.encode("test_msgs/msg/UnboundedSequences", {}))
    memory = np.zeros(8 * 5 + 1, np.uint8)
    aligned = memory[:40].view(np.float64)
    aligned[:] = [1, 2, 3, 4, 5]
    unaligned = memory[1:].view(np.float64)  # float64 at an odd address
    row["float64_values"] = unaligned
    row["int64_values"] = np.arange(3, dtype=np.int64)
    row["float32_values"] = [0.5, 1.5]  # a list: converted
    built = build(row)
    built.validate(full=True)
    values = built.field("float64_values").values
    assert values.buffers()[1].address != unaligned.ctypes.data
    assert values.to_pylist() == unaligned.tolist()
    assert built.field("int64_values").values.buffers()[1].address == (
        row["int64_values"].ctypes.data
    )
    assert built.field("float32_values").to_pylist() == [[0.5, 1.5]]
    row["float64_values"] = aligned
    built = build(row)
    assert built.field("float64_values").values.buffers()[1].address == aligned.ctypes.data
    alive = weakref.ref(memory)
    del row, aligned, unaligned, memory
    gc.collect()
    assert alive() is not None  # the Arrow array pins the numpy memory it points into
    assert built.field("float64_values").to_pylist() == [[1.0, 2.0, 3.0, 4.0, 5.0]]
    del built, values
    gc.collect()
    assert alive() is None


@needs_native
def test_a_failed_import_gives_everything_back() -> None:
    # Arrow refuses a tree that does not match the type it is imported as: it has taken the root
    # by then and released it; nothing leaks and nothing is read after it is freed. In a child
    # under PYTHONMALLOC=debug, which overwrites freed memory: reading the root's release after
    # Arrow freed it crashed there.
    script = """
import gc, weakref
import numpy as np, pyarrow as pa
from dora_ros import msgconv
from dora_ros.msgconv import arrow_build, native
codec = msgconv.default_registry().codec("sensor_msgs/msg/PointCloud2")
received = np.frombuffer(msgconv.encode("sensor_msgs/msg/PointCloud2", {}), np.uint8).copy()
alive = weakref.ref(received)
row = codec.decode_tree(memoryview(received))
row["data"] = np.arange(16, dtype=np.uint8)
data = weakref.ref(row["data"])
wrong = pa.struct([(f.name, pa.string() if f.name == "width" else f.type) for f in codec.arrow_type])
for _ in range(3):
    try:
        arrow_build._native_one_row(wrong, native.spec(codec.arrow_type), row)
    except pa.ArrowInvalid:
        pass
del row, received
gc.collect()
print("ok", alive() is None and data() is None)
"""
    assert _under_debug_malloc(script) == "ok True\n"


@needs_native
def test_every_decoded_message_takes_the_c_path() -> None:
    # what the CDR decoder makes (numpy arrays of every width, bool arrays, nested lists) is
    # all the C builder's; a fallback to the Python builder would only show up as time
    registry = msgconv.default_registry()
    rng = random.Random(3)
    for name in _message_types():
        definition = registry.message(name)
        codec = registry.codec(name)
        blob = msgconv.encode(name, _random_value(definition, registry, rng))
        walk = native.spec(codec.arrow_type)
        assert walk is not None, name
        built = arrow_build._native_one_row(codec.arrow_type, walk, codec.decode_tree(blob))
        assert built is not None, name  # None: C left it to the Python builder
        built.validate(full=True)
        assert built.to_pylist() == msgconv.decode(name, blob).to_pylist(), name


class _Sneaky(dict):  # type: ignore[type-arg]
    def __getitem__(self, key: str) -> Any:
        return 5 if key == "int32_value" else super().__getitem__(key)


class _Shrinking:
    """A number whose conversion empties the list it sits in (a use-after-free in C once)."""

    def __init__(self, home: list[Any]) -> None:
        self.home = home

    def __float__(self) -> float:
        self.home.clear()
        return 1.0


def test_odd_python_values_get_the_python_builder(monkeypatch: pytest.MonkeyPatch) -> None:
    # C reads exact dicts, lists, str and numbers only; anything else goes to the Python
    # builder, so both paths give the same answer (or the same error)
    basic = msgconv.default_registry().codec("test_msgs/msg/BasicTypes")
    joints = msgconv.default_registry().codec("sensor_msgs/msg/JointState")
    cloud = msgconv.default_registry().codec("sensor_msgs/msg/PointCloud2")

    def outcome(codec: Any, row: dict[str, Any]) -> Any:
        try:
            return codec.to_arrow([row]).to_pylist()
        except Exception as err:  # the Python builder's own answer, whatever it is
            return type(err).__name__

    rows = [
        (basic, _Sneaky(basic.decode_tree(msgconv.encode("test_msgs/msg/BasicTypes", {})))),
        (cloud, dict(cloud.decode_tree(msgconv.encode("sensor_msgs/msg/PointCloud2", {})))),
        (joints, dict(joints.decode_tree(msgconv.encode("sensor_msgs/msg/JointState", {})))),
    ]
    rows[1][1]["data"] = b"\x01\x02\x03"
    rows[2][1]["position"] = [np.float32(1.5), 2]
    for codec, row in rows:
        answers = []
        for available in PATHS:
            monkeypatch.setattr(native, "AVAILABLE", available)
            answers.append(outcome(codec, row))
        assert answers[0] == answers[-1], (codec.definition.name, answers)
    assert outcome(basic, rows[0][1])[0]["int32_value"] == 5  # the subclass's __getitem__ counts
    # a value whose conversion changes the row under the builder: no crash (in a child under
    # PYTHONMALLOC=debug, where reading freed memory would)
    script = """
from dora_ros import msgconv
from tests.msgconv.test_native import _Shrinking
codec = msgconv.default_registry().codec("sensor_msgs/msg/JointState")
row = codec.decode_tree(msgconv.encode("sensor_msgs/msg/JointState", {}))
values = [i + 0.5 for i in range(64)]
values.insert(0, _Shrinking(values))
row["position"] = values
try:
    codec.to_arrow([row])
except Exception as err:
    pass
print("ok")
"""
    assert _under_debug_malloc(script) == "ok\n"


def test_number_ranges_are_checked_as_in_python(monkeypatch: pytest.MonkeyPatch) -> None:
    # a hand-made row with a number that does not fit is an error on both paths, never a wrap
    codec = msgconv.default_registry().codec("test_msgs/msg/BasicTypes")
    base = codec.decode_tree(msgconv.encode("test_msgs/msg/BasicTypes", {}))
    cases: list[tuple[str, Any, bool]] = []  # field, value, fits
    for n in (8, 16, 32, 64):
        low, high = -(2 ** (n - 1)), 2 ** (n - 1) - 1
        for value, fits in ((low, True), (high, True), (low - 1, False), (high + 1, False)):
            cases.append((f"int{n}_value", value, fits))
        for value, fits in ((0, True), (2**n - 1, True), (-1, False), (2**n, False)):
            cases.append((f"uint{n}_value", value, fits))
    for value, fits in ((3.4028234663852886e38, True), (3.5e38, False), (float("inf"), True)):
        cases.append(("float32_value", value, fits))
    cases += [("float64_value", 2, True), ("bool_value", 1, True)]  # as struct.pack does
    walk = native.spec(codec.arrow_type)
    for field, value, fits in cases:
        results = []
        for available in PATHS:
            monkeypatch.setattr(native, "AVAILABLE", available)
            try:
                results.append(codec.to_arrow([dict(base, **{field: value})]).to_pylist())
            except msgconv.MsgConvError:
                results.append("error")
        assert results[0] == results[-1], (field, value, results)
        assert (results[0] != "error") == fits, (field, value, results[0])
        lenient = field == "bool_value" and value is not True and value is not False
        if native.AVAILABLE and fits and not lenient:  # no need for the Python builder
            assert arrow_build._native_one_row(codec.arrow_type, walk, dict(base, **{field: value}))


@needs_native
def test_a_buffer_changed_by_the_garbage_collector_is_never_half_read() -> None:
    # A __del__ run by a collection that an allocation inside the C builder triggers empties the
    # array.array given as `position`: the built array must agree with it (both before or both
    # after), never carry the old length over freed memory (the first version took the length
    # from one buffer export and the pointer from another).
    script = """
import array, gc
from dora_ros import msgconv
from dora_ros.msgconv import arrow_build, native
codec = msgconv.default_registry().codec("sensor_msgs/msg/JointState")
walk = native.spec(codec.arrow_type)
for attempt in range(60):
    row = codec.decode_tree(msgconv.encode("sensor_msgs/msg/JointState", {}))
    values = array.array("d", [1.0]) * 100_000
    row["position"] = values
    class Trap:
        def __del__(self, values=values):
            try:
                del values[:]
            except BufferError:  # exported: the builder holds it
                pass
    trap = Trap()
    trap.cycle = trap
    del trap
    gc.set_threshold(1)
    try:
        built = arrow_build._native_one_row(codec.arrow_type, walk, row)
    finally:
        gc.set_threshold(700)
    position = built.field("position").values
    assert len(position) == len(values), (attempt, len(position), len(values))
    assert position.to_pylist() == values.tolist()
print("ok")
"""
    assert _under_debug_malloc(script) == "ok\n"


def test_number_arrays_are_never_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    # a hand-made row's numeric list that does not fit its element type is an error on both
    # paths (numpy's casts in the Python builder wrapped 300 into uint8 as 44, 1.5 into 1)
    codec = msgconv.default_registry().codec("test_msgs/msg/UnboundedSequences")
    base = codec.decode_tree(msgconv.encode("test_msgs/msg/UnboundedSequences", {}))
    cases: list[tuple[str, Any, Any]] = [  # field, value, what it reads back as (None: error)
        ("uint8_values", np.array([300]), None),
        ("uint8_values", [-1], None),
        ("int32_values", [1.5], None),
        ("int64_values", [2.0**63], None),
        ("uint64_values", np.array([2.0**64]), None),
        ("int64_values", np.array([2**64 - 1], np.uint64), None),
        ("float32_values", [1e39], None),
        ("int8_values", np.array([1, -2], np.int64), [1, -2]),
        ("int64_values", [2.0**62], [2**62]),
        ("uint64_values", np.array([2**63], np.uint64), [2**63]),
        ("float64_values", np.array([1, 2], np.int32), [1.0, 2.0]),
    ]
    for field, value, expected in cases:
        for available in PATHS:
            monkeypatch.setattr(native, "AVAILABLE", available)
            row = dict(base, **{field: value})
            if expected is None:
                with pytest.raises(msgconv.MsgConvError, match="cannot build Arrow value"):
                    codec.to_arrow([row])
            else:
                assert codec.to_arrow([row]).field(field).to_pylist() == [expected], field
