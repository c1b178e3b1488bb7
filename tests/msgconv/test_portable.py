"""msgconv is safe on every platform robots run on (issue 11).

- The C helpers are portable C: they compile with every warning as an error for this machine and
  for aarch64 (Jetson, Raspberry Pi; Debian's gcc-aarch64-linux-gnu, which `make test` installs),
  against this Python's headers (a compile-only cross build: the object is not linked).
- No machine code, no Arrow C structs written through ctypes, no private pyarrow API in the
  Python paths; the C helpers speak the documented Arrow PyCapsule interface.
- Zero copy holds on both builders (np.shares_memory on the received bytes).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from dora_ros import msgconv
from dora_ros.msgconv import native

SOURCE = Path(msgconv.__file__).parent / "_arrow_native.c"
FLAGS = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-c"]
PATHS = [True, False] if native.AVAILABLE else [False]


def _compile(compiler: str, tmp_path: Path) -> None:
    include = sysconfig.get_paths()["include"]
    out = tmp_path / f"{compiler}.o"
    done = subprocess.run(
        [compiler, *FLAGS, f"-I{include}", str(SOURCE), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 0


def test_c_helpers_compile_without_warnings_here(tmp_path: Path) -> None:
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip(f"no C compiler ({compiler}) on this machine")
    _compile(compiler, tmp_path)


def test_c_helpers_compile_without_warnings_for_aarch64(tmp_path: Path) -> None:
    compiler = "aarch64-linux-gnu-gcc"
    if shutil.which(compiler) is None:
        # `make test` installs it and sets DORA_ROS_REQUIRE_AARCH64=1: there, missing is a failure
        assert os.environ.get("DORA_ROS_REQUIRE_AARCH64", "") in ("", "0"), f"{compiler} missing"
        pytest.skip(f"{compiler} is not installed (apt-get install gcc-aarch64-linux-gnu)")
    _compile(compiler, tmp_path)
    # and the object is aarch64 code
    objdump = shutil.which("aarch64-linux-gnu-objdump")
    if objdump:
        head = subprocess.run(
            [objdump, "-f", str(tmp_path / f"{compiler}.o")], capture_output=True, text=True
        )
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
