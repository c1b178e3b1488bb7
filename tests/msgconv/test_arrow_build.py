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

import numpy as np
import pyarrow as pa

from dora_ros import msgconv
from dora_ros.msgconv import arrow_build

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


def test_a_child_outlives_its_parent_and_the_received_bytes() -> None:
    gc.collect()
    before = len(arrow_build._HELD)
    received = bytearray(_cloud_bytes())
    cloud = msgconv.decode(CLOUD, memoryview(received))
    assert len(arrow_build._HELD) == before + 1
    data = cloud.field("data").flatten()
    names = cloud.field("fields").flatten().field("name")
    del cloud
    gc.collect()
    assert len(arrow_build._HELD) == before + 1, "released while a child was alive"
    expected = np.arange(12000, dtype=np.uint32).astype(np.uint8)
    del received  # the data still points into it: it must stay alive
    gc.collect()
    assert np.array_equal(data.to_numpy(), expected)
    assert names.to_pylist() == ["x", "y", "z"]
    del data, names
    gc.collect()
    assert len(arrow_build._HELD) == before, "memory not released with the last buffer"


def test_release_from_another_thread() -> None:
    gc.collect()
    before = len(arrow_build._HELD)
    clouds = [msgconv.decode(CLOUD, _cloud_bytes(10)) for _ in range(50)]
    assert len(arrow_build._HELD) == before + 50

    def drop() -> None:
        clouds.clear()

    thread = threading.Thread(target=drop)
    thread.start()
    thread.join()
    gc.collect()
    assert len(arrow_build._HELD) == before


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
    script = (
        "import numpy as np\n"
        "from dora_ros import msgconv\n"
        "kept = [msgconv.decode('sensor_msgs/msg/Imu', msgconv.encode('sensor_msgs/msg/Imu', {}))"
        " for _ in range(100)]\n"
        "child = kept[0].field('orientation')\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n"
    assert done.stderr == ""


def test_repeated_small_arrays_of_messages_are_shared_and_stay_right() -> None:
    # PointCloud2's `fields` repeat from message to message: built once, shared by the arrays
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
