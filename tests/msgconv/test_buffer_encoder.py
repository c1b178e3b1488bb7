"""Encode from a one-row struct array's buffers (`buffer_encoder.py`): taken for the benchmark's
PointCloud2 row, byte for byte the general path's and rosbags' output, and given up (the general
path then encodes, or refuses with its error) wherever an offset or a null could apply."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from dora_ros import msgconv
from dora_ros.msgconv import TypeRegistry, ValueKindError
from dora_ros.msgconv.buffer_encoder import BufferEncoder, buffer_encoder
from dora_ros.msgconv.codec import Codec

try:
    from .arrow_offsets import with_offsets
except ImportError:  # tests/msgconv is not a package: pytest put this folder on sys.path
    from arrow_offsets import with_offsets  # type: ignore[no-redef]

try:
    from .benchmark_script import load_benchmark
except ImportError:  # tests/msgconv is not a package: pytest put this folder on sys.path
    from benchmark_script import load_benchmark  # type: ignore[no-redef]

CLOUD = "sensor_msgs/msg/PointCloud2"


def _general(codec: Codec, array: pa.StructArray) -> bytes:
    """What the general path (row reader + generated encoder) writes for a one-row array."""
    rows = codec.rows(array)
    assert len(rows) == 1
    return codec.encode_tree(rows[0])


def _encoder(codec: Codec) -> BufferEncoder:
    """The codec's buffer encoder, which its first encode of a struct array makes."""
    if codec._from_buffers is False:
        codec.encode(pa.array([{}], type=codec.arrow_type))  # nulls: the general path encodes
    fast = codec._from_buffers
    assert isinstance(fast, BufferEncoder), codec.definition.name
    return fast


def _taken(codec: Codec, array: pa.StructArray) -> bytes | None:
    """The buffer encoder's output for `array` (None: it leaves the row to the general path)."""
    return _encoder(codec).encode(array)


@pytest.fixture(scope="module")
def store() -> Any:
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_KILTED)


def _cloud_value(rng: random.Random) -> dict[str, Any]:
    """A random PointCloud2 as a plain value (data as a numpy uint8 array)."""
    names = ["x", "y", "z", "intensity", "ring", "t", ""]
    fields = [
        {
            "name": rng.choice(names) + "é" * rng.randrange(2),
            "offset": rng.randrange(2**32),
            "datatype": rng.randrange(256),
            "count": rng.randrange(2**32),
        }
        for _ in range(rng.randrange(6))
    ]
    size = rng.choice([0, 1, 3, 16, 1000])
    return {
        "header": {
            "stamp": {"sec": rng.randrange(-(2**31), 2**31), "nanosec": rng.randrange(2**32)},
            "frame_id": rng.choice(["", "lidar", "base_link/ñ" * rng.randrange(1, 4)]),
        },
        "height": rng.randrange(2**32),
        "width": rng.randrange(2**32),
        "fields": fields,
        "is_bigendian": rng.random() < 0.5,
        "point_step": rng.randrange(2**32),
        "row_step": rng.randrange(2**32),
        "data": np.frombuffer(rng.randbytes(size), dtype=np.uint8),
        "is_dense": rng.random() < 0.5,
    }


def _rosbags_cloud(store: Any, value: dict[str, Any]) -> bytes:
    types = store.types
    header = value["header"]
    message = types[CLOUD](
        header=types["std_msgs/msg/Header"](
            stamp=types["builtin_interfaces/msg/Time"](**header["stamp"]),
            frame_id=header["frame_id"],
        ),
        height=value["height"],
        width=value["width"],
        fields=[types["sensor_msgs/msg/PointField"](**f) for f in value["fields"]],
        is_bigendian=value["is_bigendian"],
        point_step=value["point_step"],
        row_step=value["row_step"],
        data=value["data"],
        is_dense=value["is_dense"],
    )
    return bytes(store.serialize_cdr(message, CLOUD))


def test_the_benchmark_row_takes_the_buffer_path_and_writes_rosbags_bytes(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = load_benchmark()
    case = next(c for c in bench.make_cases() if c.type_name == CLOUD)
    codec = msgconv.default_registry().codec(CLOUD)
    row = bench.fresh(bench.arrow_row(codec.arrow_type, case.value))
    encoder = _encoder(codec)
    generated = encoder._encode
    written: list[bytes] = []

    def spy(array: pa.StructArray) -> bytes:
        written.append(generated(array))
        return written[-1]

    monkeypatch.setattr(encoder, "_encode", spy)
    blob = codec.encode(row)
    assert written == [blob]  # Codec.encode took the buffer path, which wrote the message
    monkeypatch.undo()
    fast = encoder.encode(row)
    assert fast == blob == _general(codec, row)
    assert fast == bytes(store.serialize_cdr(store.deserialize_cdr(case.blob, CLOUD), CLOUD))
    # the points are copied once, from the Arrow buffer: the message does not share it
    data = row.field("data").values.buffers()[1]
    assert not np.shares_memory(np.frombuffer(fast, np.uint8), np.frombuffer(data, np.uint8))


def test_generated_clouds_are_written_as_the_general_path_and_rosbags_write_them(
    store: Any,
) -> None:
    bench = load_benchmark()
    codec = msgconv.default_registry().codec(CLOUD)
    rng = random.Random(4)
    taken = 0
    for i in range(150):
        value = _cloud_value(rng)
        want = _rosbags_cloud(store, value)
        # as pa.array of a dict, and as the benchmark builds rows (children from_arrays)
        made = pa.array([value], type=codec.arrow_type) if i % 2 else None
        row = made if made is not None else bench.arrow_row(codec.arrow_type, value)
        fast = _taken(codec, row)
        if fast is not None:
            taken += 1
            assert fast == want, f"cloud {i}: buffers\n{fast.hex()}\nrosbags\n{want.hex()}"
        assert _general(codec, row) == want, f"cloud {i}: general path"
        assert codec.encode(row) == want, f"cloud {i}: Codec.encode"
        assert codec.encode(value) == want, f"cloud {i}: from the dict"
    assert taken == 150  # fresh rows: every one of them takes the buffer path


def _sliced_rows(codec: Codec, values: list[dict[str, Any]]) -> list[tuple[str, pa.StructArray]]:
    """Rows of values[1] with an offset somewhere: each must encode as values[1] does."""
    three = pa.array(values, type=codec.arrow_type)
    fresh = pa.array([values[1]], type=codec.arrow_type)
    rows = [("row slice", three.slice(1, 1))]
    for i, field in enumerate(codec.arrow_type):
        # one child taken from the middle of a three-row column, the others fresh
        children = [fresh.field(j) for j in range(codec.arrow_type.num_fields)]
        children[i] = three.field(i).slice(1, 1)
        rows.append(
            (
                f"{field.name} sliced",
                pa.StructArray.from_arrays(children, fields=list(codec.arrow_type)),
            )
        )
    return rows


def test_rows_with_offsets_are_read_right_or_left_to_the_general_path(store: Any) -> None:
    codec = msgconv.default_registry().codec(CLOUD)
    rng = random.Random(5)
    for _ in range(30):
        values = [_cloud_value(rng) for _ in range(3)]
        # the ambiguous bitmaps: a one-byte 0b001 at offset 1 is False, 0b010 at offset 1 True
        values[0]["is_dense"], values[1]["is_dense"], values[2]["is_dense"] = True, False, True
        values[0]["is_bigendian"], values[1]["is_bigendian"] = False, True
        want = _rosbags_cloud(store, values[1])
        for what, row in _sliced_rows(codec, values):
            assert row.offset or what != "row slice"
            fast = _taken(codec, row)
            bool_slice = what in ("is_bigendian sliced", "is_dense sliced")
            # a bool asks for its offset; any other offset makes a buffer of another length
            assert (fast is not None) == bool_slice, what
            if fast is not None:
                assert fast == want, f"{what}: buffers\n{fast.hex()}\nrosbags\n{want.hex()}"
            assert codec.encode(row) == want, what
            assert _general(codec, row) == want, what


def test_nulls_go_to_the_general_path_which_writes_defaults_or_refuses_a_null_row() -> None:
    codec = msgconv.default_registry().codec(CLOUD)
    value = _cloud_value(random.Random(6))
    for field in ("header", "height", "fields", "is_dense", "data"):
        row = pa.array([{**value, field: None}], type=codec.arrow_type)
        assert _taken(codec, row) is None, field  # a validity buffer
        assert codec.encode(row) == codec.encode({k: v for k, v in value.items() if k != field})
    empty_name = {**value, "fields": [{"name": None, "offset": 1, "datatype": 7, "count": 1}]}
    row = pa.array([empty_name], type=codec.arrow_type)
    assert _taken(codec, row) is None
    assert codec.encode(row) == codec.encode(
        {**value, "fields": [{"offset": 1, "datatype": 7, "count": 1}]}
    )
    with pytest.raises(ValueKindError, match="row 0 is null"):
        codec.encode(pa.array([None], type=codec.arrow_type))


KINDS = """\
bool flag
bk/Inner inner
string<=3 short
wstring wide
float64[3] triple
int16[<=2] few
bk/Inner[2] pair
bk/Inner[<=2] some
bk/Empty nothing
uint64[] big
"""
INNER = "int8 a\nbool b\nstring s\nfloat32 f\nbk/Deep deep\n"
DEEP = "uint16 u\nbool d\n"
ITEM = "int8 a\nstring s\nfloat32 f\nbk/Leaf leaf\n"
LEAF = "uint16 u\n"


def _kinds_registry() -> TypeRegistry:
    registry = TypeRegistry(use_default_roots=False)
    registry.add_definition("bk/msg/Empty", "")
    registry.add_definition("bk/msg/Deep", DEEP)
    registry.add_definition("bk/msg/Inner", INNER)
    registry.add_definition("bk/msg/Leaf", LEAF)
    registry.add_definition("bk/msg/Item", ITEM)
    registry.add_definition("bk/msg/Kinds", KINDS.replace("bk/Inner[", "bk/Item["))
    registry.add_definition("bk/msg/Bools", "bool[] flags\n")
    registry.add_definition("bk/msg/Strings", "string[2] names\n")
    registry.add_definition("bk/msg/BoolItems", "bk/Deep[] items\n")
    return registry


def _kinds_value(rng: random.Random) -> dict[str, Any]:
    def item() -> dict[str, Any]:
        return {
            "a": rng.randrange(-128, 128),
            "s": rng.choice(["", "ab", "ü€"]),
            "f": float(np.float32(rng.uniform(-1e6, 1e6))),
            "leaf": {"u": rng.randrange(2**16)},
        }

    return {
        "flag": rng.random() < 0.5,
        "inner": {
            "a": rng.randrange(-128, 128),
            "b": rng.random() < 0.5,
            "s": rng.choice(["", "x", "long string ∂"]),
            "f": float(np.float32(rng.random())),
            "deep": {"u": rng.randrange(2**16), "d": rng.random() < 0.5},
        },
        "short": rng.choice(["", "a", "abc", "äbc"]),
        "wide": rng.choice(["", "w", "wide ☃"]),
        "triple": [rng.random() for _ in range(3)],
        "few": [rng.randrange(-(2**15), 2**15) for _ in range(rng.randrange(3))],
        "pair": [item(), item()],
        "some": [item() for _ in range(rng.randrange(3))],
        "nothing": {},
        "big": [rng.randrange(2**64) for _ in range(rng.randrange(4))],
    }


def test_every_kind_it_reads_matches_the_reference_and_offsets_are_left_or_read_right() -> None:
    from dora_ros.msgconv.cdr_reference import encode_reference

    registry = _kinds_registry()
    codec = registry.codec("bk/msg/Kinds")
    rng = random.Random(7)
    for i in range(60):
        values = [_kinds_value(rng) for _ in range(3)]
        want = encode_reference(codec.definition, values[1], codec.registry)
        fast = _taken(codec, pa.array([values[1]], type=codec.arrow_type))
        assert fast == want, f"value {i}: buffers\n{fast!r}\nreference\n{want.hex()}"
        rows = _sliced_rows(codec, values)
        one = pa.array([values[1]], type=codec.arrow_type)
        # offsets inside children: list offsets from 1, slices of list values and of leaves
        rows += [(f"offsets inside {j}", with_offsets(one, rng, 0.2)) for j in range(4)]
        rows.append(("list offsets from 1", with_offsets(one, rng, 0)))
        for what, row in rows:
            assert row.to_pylist() == [values[1]], what
            fast = _taken(codec, row)
            # a list's offsets from 1, and no slice anywhere: the buffer encoder reads it
            assert fast is not None or what != "list offsets from 1", f"value {i}"
            if fast is not None:
                assert fast == want, f"value {i}, {what}: {fast.hex()} != {want.hex()}"
            assert codec.encode(row) == want, f"value {i}, {what}"


def test_values_the_general_path_refuses_are_refused_alike() -> None:
    codec = _kinds_registry().codec("bk/msg/Kinds")
    value = _kinds_value(random.Random(8))
    for bad, match in (
        ({"short": "abcd"}, "short"),
        ({"inner": {**value["inner"], "s": "a\x00b"}}, "NUL"),
        ({"some": [value["pair"][0]] * 3}, "some"),
        ({"few": [1, 2, 3]}, "few"),
    ):
        try:
            row = pa.array([{**value, **bad}], type=codec.arrow_type)
        except pa.ArrowInvalid:  # a fixed-size list of another length is no such row at all
            continue
        assert _taken(codec, row) is None, bad
        with pytest.raises(msgconv.MsgConvError, match=match):
            codec.encode(row)


def test_types_with_parts_it_does_not_read_have_no_buffer_encoder() -> None:
    registry = _kinds_registry()
    for name in ("bk/msg/Bools", "bk/msg/Strings", "bk/msg/BoolItems"):
        codec = registry.codec(name)
        assert buffer_encoder(codec.definition, codec.arrow_type, codec.registry) is None, name
    codec = registry.codec("bk/msg/BoolItems")
    value = {"items": [{"u": 1, "d": True}, {"u": 2, "d": False}]}
    assert codec.encode(pa.array([value], type=codec.arrow_type)) == codec.encode(value)
    # types of numbers only have their fixed layout instead, and never make one
    twist = msgconv.default_registry().codec("geometry_msgs/msg/Twist")
    twist.encode(pa.array([{"linear": {"x": 1.0}}], type=twist.arrow_type))
    assert twist._fixed is not None and twist._from_buffers is False


def test_generated_names_never_take_a_name_the_module_has() -> None:
    from dora_ros.msgconv.cdr_alignment import _Source

    # the buffer encoder's 32nd name, an unpack then prefixed U, replaced the count's struct U32
    source = _Source({"U32": "the count's struct", "__counter__": 31})
    assert source.name("U", "an unpack") == "U33"
    assert source.ns["U32"] == "the count's struct" and source.ns["U33"] == "an unpack"
    assert source.name("x") == "x34"


GAPS = {
    "gp/msg/In": "int32 k\n",
    "gp/msg/InS": "int32 k\nstring s\n",
    "gp/msg/Top": "string name\ngp/In[] items\ngp/InS[] named\nfloat64[] v\n",
}


def _gaps_rows(codec: Codec, value: dict[str, Any]) -> dict[str, pa.StructArray]:
    """Rows of `value` whose own offset is 0 with an offset in a list or a list's child; the
    row is one the buffer encoder must read right (offsets from 1) or give up on (slices)."""
    arrow = codec.arrow_type
    inner, named = arrow.field("items").type.value_type, arrow.field("named").type.value_type
    i32 = pa.int32()

    def row(**columns: pa.Array) -> pa.StructArray:
        fresh = {f.name: pa.array([value[f.name]], f.type) for f in arrow}
        return pa.StructArray.from_arrays(
            [columns.get(f.name, fresh[f.name]) for f in arrow], fields=list(arrow)
        )

    def listed(values: pa.Array, first: int = 0) -> pa.ListArray:
        return pa.ListArray.from_arrays(pa.array([first, len(values)], i32), values)

    k, (item,), (named_item,) = value["items"][0]["k"], value["items"], value["named"]
    return {
        # the list's offsets are [1, 2] over two elements: only element 1 is the row's
        "items from 1": row(items=listed(pa.array([{"k": k + 1}, item], inner), 1)),
        "named from 1": row(named=listed(pa.array([{"k": 1, "s": "a"}, named_item], named), 1)),
        "v from 1": row(v=listed(pa.array([9.0, *value["v"]]), 1)),
        # the elements (or a leaf of theirs) are a slice of a longer array
        "items sliced": row(items=listed(pa.array([{"k": 1}, item, {"k": 3}], inner).slice(1, 1))),
        "named k sliced": row(
            named=listed(
                pa.StructArray.from_arrays(
                    [pa.array([7, named_item["k"]], i32).slice(1), pa.array([named_item["s"]])],
                    fields=list(named),
                )
            )
        ),
        "named s sliced": row(
            named=listed(
                pa.StructArray.from_arrays(
                    [pa.array([named_item["k"]], i32), pa.array(["a", named_item["s"]]).slice(1)],
                    fields=list(named),
                )
            )
        ),
        "v sliced": row(v=listed(pa.array([9.0, *value["v"]]).slice(1))),
    }


def test_offsets_inside_lists_and_their_elements_are_read_right_or_left_alone() -> None:
    """An offset in a list (offsets from 1) or its elements (a slice): each of the buffer
    encoder's leaf checks is needed here, and without it wrong CDR would be written."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    from dora_ros.msgconv.cdr_reference import encode_reference

    registry = TypeRegistry(use_default_roots=False)
    store = get_typestore(Stores.EMPTY)
    for name, text in GAPS.items():
        registry.add_definition(name, text)
        store.register(get_types_from_msg(text.replace("gp/", "gp/msg/"), name))
    codec = registry.codec("gp/msg/Top")
    types = store.types
    for value in (
        {"name": "n", "items": [{"k": 2}], "named": [{"k": 20, "s": "bb"}], "v": [2.0]},
        {"name": "", "items": [{"k": -5}], "named": [{"k": 3, "s": "ü€"}], "v": [0.5, -1.0]},
    ):
        want = encode_reference(codec.definition, value, codec.registry)
        message = types["gp/msg/Top"](
            name=value["name"],
            items=[types["gp/msg/In"](**item) for item in value["items"]],
            named=[types["gp/msg/InS"](**item) for item in value["named"]],
            v=np.array(value["v"]),
        )
        assert bytes(store.serialize_cdr(message, "gp/msg/Top")) == want
        assert _taken(codec, pa.array([value], type=codec.arrow_type)) == want
        for what, row in _gaps_rows(codec, value).items():
            row.validate(full=True)
            assert row.offset == 0 and row.to_pylist() == [value], what
            fast = _taken(codec, row)
            # offsets from 1 are read; a slice makes a leaf buffer of another length
            assert (fast is not None) == what.endswith("from 1"), what
            if fast is not None:
                assert fast == want, f"{what}: buffers\n{fast.hex()}\nreference\n{want.hex()}"
            assert codec.encode(row) == want, what
            assert _general(codec, row) == want, what


def test_every_name_the_buffer_encoder_adds_comes_from_the_clash_guard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`_Source.name` never hands out a name the module has; the offsets' unpack was put in the
    namespace as `I2` directly, past that guard."""
    from dora_ros.msgconv.cdr_alignment import _Source

    given: list[str] = []
    name = _Source.name

    def recorded(self: _Source, prefix: str, value: Any = None) -> str:
        given.append(name(self, prefix, value))
        return given[-1]

    monkeypatch.setattr(_Source, "name", recorded)
    codec = _kinds_registry().codec("bk/msg/Kinds")
    made = buffer_encoder(codec.definition, codec.arrow_type, codec.registry)
    assert made is not None
    namespace = made._encode.__globals__
    fixed = {"ZEROS", "BOOL", "U32", "NUL", "NULCHAR", "Fallback", "BOOL_AT", "HEADER", "np"}
    fixed |= {"__builtins__", "__counter__", "encode", "NONES"}
    assert set(namespace) - fixed - set(given) == set()
    values = _kinds_value(random.Random(9))
    assert made.encode(pa.array([values], type=codec.arrow_type)) == codec.encode(values)
