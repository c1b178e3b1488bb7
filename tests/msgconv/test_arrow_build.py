"""Lifetime of the Arrow arrays that `decode` builds in its own memory (`msgconv.arrow_build`).

The arrays point into memory msgconv allocated and into the received bytes; both must live exactly
as long as any buffer of the array (also a slice or a child taken out of it), in any thread, and
the process must exit cleanly with such arrays still alive.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
import weakref

import numpy as np
import pyarrow as pa
import pytest

from dora_ros import msgconv
from dora_ros.msgconv import native

CLOUD = "sensor_msgs/msg/PointCloud2"


def _cloud_bytes(points: int = 1000) -> bytes:
    return msgconv.encode(
        CLOUD,
        {
            "header": {"frame_id": "lidar"},
            "height": 1,
            "width": points,
            "fields": [
                {"name": axis, "offset": 4 * i, "datatype": 7, "count": 1}
                for i, axis in enumerate("xyz")
            ],
            "point_step": 12,
            "row_step": 12 * points,
            "data": np.arange(12 * points, dtype=np.uint32).astype(np.uint8),
        },
    )


def _python(script: str) -> str:
    """What a fresh interpreter running `script` prints; it must exit 0 and print no error."""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout


def _received(blob: bytes) -> np.ndarray:
    """`blob` in memory we can watch: a numpy array (weakly referenceable) holding the bytes."""
    return np.frombuffer(blob, np.uint8).copy()


def test_a_child_outlives_its_parent_and_the_received_bytes() -> None:
    received = _received(_cloud_bytes())
    alive = weakref.ref(received)
    cloud = msgconv.decode(CLOUD, memoryview(received))
    data = cloud.field("data").flatten()
    names = cloud.field("fields").flatten().field("name")
    del cloud, received  # the data points into the received bytes: they must stay alive
    gc.collect()
    assert alive() is not None, "released while a child was alive"
    expected = np.arange(12000, dtype=np.uint32).astype(np.uint8)
    assert np.array_equal(data.to_numpy(), expected)
    assert names.to_pylist() == ["x", "y", "z"]
    del data
    gc.collect()
    # `names` does not point into the received bytes: the Python builder (buffer by buffer,
    # pyarrow's own ownership) may let them go now, the C one (one owner per tree) keeps them
    assert names.to_pylist() == ["x", "y", "z"]
    del names
    gc.collect()
    assert alive() is None, "memory not released with the last buffer"


def test_release_from_another_thread() -> None:
    inputs = [_received(_cloud_bytes(10)) for _ in range(50)]
    watches = [weakref.ref(x) for x in inputs]
    clouds = [msgconv.decode(CLOUD, memoryview(x)) for x in inputs]
    del inputs
    gc.collect()
    assert all(w() is not None for w in watches)

    def drop() -> None:
        clouds.clear()

    thread = threading.Thread(target=drop)
    thread.start()
    thread.join()
    gc.collect()
    assert all(w() is None for w in watches)


def test_release_while_a_signal_handler_raises() -> None:
    # Releasing runs no Python code (pyarrow's own release owns the memory), so an exception a
    # signal handler raises can never land inside it: a Python release callback made Arrow abort.
    script = (
        "import os, signal, threading, time\n"
        "from dora_ros import msgconv\n"
        "blob = msgconv.encode('geometry_msgs/msg/Twist', {})\n"
        "class Tick(Exception): pass\n"
        # The handler raises only inside the try below and disarms itself first, so a signal
        # landing on the loop's own lines or in the except clause is ignored, not a failure.
        "armed = False\n"
        "def tick(signum, frame):\n"
        "    global armed\n"
        "    if armed:\n"
        "        armed = False\n"
        "        raise Tick()\n"
        "signal.signal(signal.SIGUSR1, signal.SIG_IGN)\n"
        "stop = False\n"
        "def pester():\n"
        "    while not stop:\n"
        "        os.kill(os.getpid(), signal.SIGUSR1); time.sleep(0.0005)\n"
        "threading.Thread(target=pester, daemon=True).start()\n"
        "time.sleep(0.1)\n"
        "signal.signal(signal.SIGUSR1, tick)\n"
        "ticks, end = 0, time.monotonic() + 3\n"
        "while time.monotonic() < end:\n"
        "    try:\n"
        "        armed = True\n"
        "        for _ in range(1000):\n"
        "            array = msgconv.decode('geometry_msgs/msg/Twist', blob)\n"
        "            del array\n"
        "        armed = False\n"
        "    except Tick:\n"
        "        ticks += 1\n"
        "signal.signal(signal.SIGUSR1, signal.SIG_IGN)\n"
        "stop = True\n"
        "print('ok', ticks > 100)\n"
    )
    assert _python(script) == "ok True\n"


def test_many_rows_and_nested_arrays_validate() -> None:
    blobs = [_cloud_bytes(n) for n in (0, 1, 7)]
    # decode_many of PointCloud2 goes row by row (its `data` cannot be columnar), then one build
    many = msgconv.decode_many(CLOUD, blobs)
    many.validate(full=True)
    assert many.field("width").to_pylist() == [0, 1, 7]
    assert [len(x) for x in many.field("data").to_pylist()] == [0, 12, 84]
    assert many.field("fields").to_pylist()[2][1] == {
        "name": "y",
        "offset": 4,
        "datatype": 7,
        "count": 1,
    }
    assert isinstance(many, pa.StructArray)


def test_process_exits_cleanly_with_arrays_alive() -> None:
    # also arrays that objects of other modules hold, which Python frees after wiping ours
    script = (
        "import logging, sys\n"
        "from dora_ros import msgconv\n"
        "kept = [msgconv.decode('sensor_msgs/msg/Imu', msgconv.encode('sensor_msgs/msg/Imu', {}))"
        " for _ in range(100)]\n"
        "child = kept[0].field('orientation')\n"
        "sys.kept = kept[:10]\n"
        "class Keeper(logging.Handler):\n"
        "    def emit(self, record): self.last = record.msg\n"
        "logging.getLogger('x').addHandler(Keeper())\n"
        "logging.getLogger('x').warning(kept[1])\n"
        "print('ok')\n"
    )
    assert _python(script) == "ok\n"


def test_repeated_small_arrays_of_messages_are_shared_and_stay_right(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # PointCloud2's `fields` repeat from message to message: the Python builder makes them once
    # and shares them (the C one, msgconv/native.py, builds them in less time than finding them)
    monkeypatch.setattr(native, "AVAILABLE", False)
    gc.collect()
    first = msgconv.decode(CLOUD, _cloud_bytes(4))
    second = msgconv.decode(CLOUD, _cloud_bytes(5))
    one, two = first.field("fields").flatten(), second.field("fields").flatten()
    same = one.field("offset").buffers()[1].address == two.field("offset").buffers()[1].address
    assert same  # the same nodes and values
    del first, one
    gc.collect()
    assert second.field("fields").to_pylist()[0] == [
        {"name": axis, "offset": 4 * i, "datatype": 7, "count": 1} for i, axis in enumerate("xyz")
    ]
    other = msgconv.encode(
        CLOUD, {"fields": [{"name": "rgb", "offset": 12, "datatype": 6, "count": 1}]}
    )
    assert msgconv.decode(CLOUD, other).field("fields").to_pylist() == [
        [{"name": "rgb", "offset": 12, "datatype": 6, "count": 1}]
    ]
    assert second.field("width").to_pylist() == [5]


def test_hand_made_rows_are_checked() -> None:
    # Codec.to_arrow takes dict trees; one of the wrong shape is an error, never bad memory
    codec = msgconv.default_registry().codec("sensor_msgs/msg/JointState")
    row = codec.decode_tree(msgconv.encode("sensor_msgs/msg/JointState", {}))
    row["position"] = np.zeros(8 * 600 + 1, np.uint8)[1:].view(np.float64).reshape(300, 2)
    with pytest.raises(msgconv.MsgConvError, match="not 2-D"):
        codec.to_arrow([row])
    # the shared small columns are found by field name, whatever the dicts' key order
    clouds = msgconv.default_registry().codec(CLOUD)
    base = clouds.decode_tree(msgconv.encode(CLOUD, {}))
    first = dict(base, fields=[{"name": "x", "offset": 4, "datatype": 7, "count": 1}])
    other = dict(base, fields=[{"name": "x", "count": 4, "datatype": 7, "offset": 1}])
    assert clouds.to_arrow([first]).field("fields").to_pylist()[0][0]["offset"] == 4
    assert clouds.to_arrow([other]).field("fields").to_pylist()[0][0]["offset"] == 1


def test_a_value_that_does_not_fit_leaks_nothing() -> None:
    # the tree takes ownership of its memory and input only once nothing but the import can fail
    codec = msgconv.default_registry().codec(CLOUD)
    received = _received(_cloud_bytes(100))
    alive = weakref.ref(received)
    row = codec.decode_tree(memoryview(received))
    row["height"] = "not a number"
    with pytest.raises(msgconv.MsgConvError, match="cannot build Arrow value"):
        codec.to_arrow([row])
    del row, received
    gc.collect()
    assert alive() is None


def test_structs_of_numbers_keep_every_value(monkeypatch: pytest.MonkeyPatch) -> None:
    # the Python builder packs a struct of numbers only (Twist, Time) into one numpy record:
    # NaN stays a value (not a null), -0.0 keeps its sign, integer extremes stay exact
    import math

    monkeypatch.setattr(native, "AVAILABLE", False)
    twist = {"linear": {"x": math.nan, "y": -0.0, "z": math.inf}, "angular": {"x": 1e-300}}
    decoded = msgconv.decode(
        "geometry_msgs/msg/Twist", msgconv.encode("geometry_msgs/Twist", twist)
    )
    linear = decoded.field("linear")
    assert decoded.null_count == linear.null_count == linear.field("x").null_count == 0
    x, y, z = (linear.field(k)[0].as_py() for k in "xyz")
    assert math.isnan(x) and math.copysign(1.0, y) == -1.0 and z == math.inf
    assert decoded.field("angular").field("x")[0].as_py() == 1e-300
    codec = msgconv.default_registry().codec("builtin_interfaces/msg/Time")
    rows = [{"sec": -(2**31), "nanosec": 2**32 - 1}, {"sec": 2**31 - 1, "nanosec": 0}]
    built = codec.to_arrow(rows)
    built.validate(full=True)
    assert built.to_pylist() == rows
    with pytest.raises(msgconv.MsgConvError, match="cannot build Arrow value"):
        codec.to_arrow([{"sec": 2**31, "nanosec": 0}])
