"""msgconv is safe on every platform robots run on (issue 11).

- The C helpers are portable C: they compile with every warning as an error for this machine and
  for aarch64 (Jetson, Raspberry Pi; Debian's gcc-aarch64-linux-gnu, which `make test` installs),
  against this Python's headers (a compile-only cross build: the object is not linked).
- No machine code, no Arrow C structs written through ctypes, no private pyarrow API in the
  Python paths; the C helpers speak the documented Arrow PyCapsule interface.
- Built with UndefinedBehaviorSanitizer, the C reader reads Arrow buffers at odd addresses
  without a misaligned access (what traps on CPUs without unaligned loads).
- Zero copy holds on both builders (np.shares_memory on the received bytes).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from c_build import aarch64_compiler, compile_object, host_compiler

from dora_ros import msgconv
from dora_ros.msgconv import native

SOURCE = Path(msgconv.__file__).parent / "_arrow_native.c"
PATHS = [True, False] if native.AVAILABLE else [False]


def test_c_helpers_compile_without_warnings_here(tmp_path: Path) -> None:
    compile_object(host_compiler(), SOURCE, tmp_path)


def test_c_helpers_compile_without_warnings_for_aarch64(tmp_path: Path) -> None:
    built = compile_object(aarch64_compiler(), SOURCE, tmp_path)
    # and the object is aarch64 code
    objdump = shutil.which("aarch64-linux-gnu-objdump")
    if objdump:
        head = subprocess.run([objdump, "-f", str(built)], capture_output=True, text=True)
        assert "aarch64" in head.stdout


def test_no_machine_code_ctypes_or_private_pyarrow_api() -> None:
    folder = SOURCE.parent
    forbidden = re.compile(
        r"\bctypes\b|mprotect|PROT_EXEC|_import_from_c|_export_to_c|from_address|pythonapi"
    )
    for path in [*sorted(folder.glob("*.py")), SOURCE]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not forbidden.search(line), f"{path.name}:{number}: {line.strip()}"
    text = SOURCE.read_text()
    assert "__arrow_c_array__" in text and '"arrow_array"' in text


def _aligned(blob: bytes) -> tuple[np.ndarray, memoryview]:
    """`blob` placed so that its CDR body (after the 4-byte header) is 8-aligned."""
    raw = np.zeros(len(blob) + 16, np.uint8)
    start = (-(raw.ctypes.data + 4)) % 8
    view = raw[start : start + len(blob)]
    view[:] = np.frombuffer(blob, np.uint8)
    return view, memoryview(view)


@pytest.mark.parametrize("with_c", PATHS)
def test_image_and_cloud_decode_share_the_received_bytes(
    monkeypatch: pytest.MonkeyPatch, with_c: bool
) -> None:
    monkeypatch.setattr(native, "AVAILABLE", with_c)
    pixels = np.arange(48 * 64 * 3, dtype=np.uint32).astype(np.uint8)
    blob = msgconv.encode(
        "sensor_msgs/msg/Image",
        {"height": 48, "width": 64, "encoding": "rgb8", "step": 192, "data": pixels},
    )
    memory, view = _aligned(blob)
    image = msgconv.decode("sensor_msgs/msg/Image", view)
    data = image.field("data").values.to_numpy()
    assert np.shares_memory(data, memory)
    assert np.array_equal(data, pixels)
    floats = np.arange(30, dtype=np.float64)
    blob = msgconv.encode("sensor_msgs/msg/JointState", {"position": floats})
    memory, view = _aligned(blob)
    joints = msgconv.decode("sensor_msgs/msg/JointState", view)
    position = joints.field("position").values.to_numpy()
    assert np.shares_memory(position, memory)
    assert np.array_equal(position, floats)


def test_c_helpers_read_unaligned_arrow_buffers_without_undefined_behaviour(
    tmp_path: Path,
) -> None:
    # Arrow buffers a user hands over need not be aligned (a foreign_buffer at an odd address).
    # Built with UndefinedBehaviorSanitizer (any misaligned typed access aborts), the C reader
    # must read every width and list and string offsets there right, as a CPU that traps on
    # unaligned loads would need.
    compiler = shutil.which("gcc")
    if compiler is None:
        pytest.skip("no gcc on this machine")
    runtime = subprocess.run(
        [compiler, "-print-file-name=libubsan.so"], capture_output=True, text=True
    ).stdout.strip()
    if not os.path.isabs(runtime) or not os.path.exists(runtime):
        pytest.skip("gcc has no UndefinedBehaviorSanitizer runtime (libubsan)")
    include = sysconfig.get_paths()["include"]
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    built = subprocess.run(
        [
            compiler,
            "-O1",
            "-fsanitize=undefined,alignment",
            "-fno-sanitize-recover=all",
            "-fPIC",
            "-shared",
            f"-I{include}",
            str(SOURCE),
            "-o",
            str(tmp_path / f"_arrow_native{suffix}"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    script = """
import numpy as np, pyarrow as pa
import _arrow_native
from dora_ros.msgconv import native
def odd(data):  # `data` in new memory, at an odd address
    raw = np.zeros(len(data) + 16, np.uint8)
    start = 1 if raw.ctypes.data % 2 == 0 else 2
    raw[start : start + len(data)] = np.frombuffer(data, np.uint8)
    return pa.py_buffer(raw)[start : start + len(data)]
names, columns, expected = [], [], {}
for name in ("i2", "u4", "i8", "f4", "f8"):
    values = np.arange(3).astype(name) + 1
    kind = pa.from_numpy_dtype(values.dtype)
    names.append(name)
    columns.append(pa.Array.from_buffers(kind, 3, [None, odd(values.tobytes())]))
    expected[name] = values.tolist()
offsets = odd(np.array([0, 1, 3, 6], np.int32).tobytes())
names.append("s")
columns.append(pa.Array.from_buffers(pa.string(), 3, [None, offsets, pa.py_buffer(b"abbccc")]))
floats = pa.Array.from_buffers(pa.float64(), 6, [None, odd(np.arange(6.0).tobytes())])
lists = pa.Array.from_buffers(pa.list_(pa.float64()), 3, [None, offsets], children=[floats])
names.append("l")
columns.append(lists)
array = pa.StructArray.from_arrays(columns, names=names)
rows = _arrow_native.rows(array, native.spec(array.type), np.frombuffer)
assert [r["s"] for r in rows] == ["a", "bb", "ccc"], rows
assert [r["l"].tolist() for r in rows] == [[0.0], [1.0, 2.0], [3.0, 4.0, 5.0]], rows
for name, values in expected.items():
    assert [r[name] for r in rows] == values, (name, rows)
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(tmp_path), str(Path(msgconv.__file__).parents[2])]),
            "LD_PRELOAD": runtime,
            "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
        },
    )
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr[-3000:]
