"""Compiling the project's C helpers the way `make test` demands: portable C11 that builds with
-Wall -Wextra -Werror for this machine and for aarch64 (tests/msgconv/test_portable.py for
msgconv's `_arrow_native.c`, tests/runtime/test_shared_slice.py for the runtime's
`_sample_buffer.c`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

FLAGS = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-c"]
AARCH64 = "aarch64-linux-gnu-gcc"


def compile_object(compiler: str, source: Path, tmp_path: Path) -> Path:
    """Compile `source` to an object file with `FLAGS`; fails the test on any warning."""
    include = sysconfig.get_paths()["include"]
    out = tmp_path / f"{compiler}.o"
    done = subprocess.run(
        [compiler, *FLAGS, f"-I{include}", str(source), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 0
    return out


def host_compiler() -> str:
    """The C compiler Python was built with; skips the test where there is none."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip(f"no C compiler ({compiler}) on this machine")
    return compiler


def aarch64_compiler() -> str:
    """The aarch64 cross compiler; skips where it is missing, unless `make test` asked for it."""
    if shutil.which(AARCH64) is None:
        # `make test` installs it and sets DORA_ROS_REQUIRE_AARCH64=1: there, missing is a failure
        assert os.environ.get("DORA_ROS_REQUIRE_AARCH64", "") in ("", "0"), f"{AARCH64} missing"
        pytest.skip(f"{AARCH64} is not installed (apt-get install gcc-aarch64-linux-gnu)")
    return AARCH64
