"""The bridge keeps freed multi-megabyte buffers mapped (backend.keep_large_buffers_mapped).

Each check runs in a fresh interpreter: malloc settings are per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# Two 6 MB buffers alive at once, then both freed: what one 1080p image costs on the dora -> ROS
# path (msgconv's CDR and the DDS copy). Prints the page faults of the last 5 of 10 rounds.
SCRIPT = """
import json, resource, sys
from dora_ros.bridge.backend import keep_large_buffers_mapped
applied = keep_large_buffers_mapped() if sys.argv[1] == "tuned" else None
src = bytes(6_220_848)
def round_():
    a = bytearray(src)
    b = bytearray(src)
    del a, b
for _ in range(5):
    round_()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    round_()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"applied": applied, "faults": faults}))
"""


def run(mode: str, **env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    environ.pop("GLIBC_TUNABLES", None)
    environ.update(env)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc settings")
def test_freed_image_buffers_are_reused_without_page_faults() -> None:
    plain, tuned = run("plain"), run("tuned")
    assert plain["faults"] > 5 * 1000  # ~1500 faults per fresh 6 MB buffer, two per round
    assert tuned["applied"] is True
    assert tuned["faults"] < 100, tuned


def test_user_malloc_settings_are_left_alone() -> None:
    assert run("tuned", MALLOC_ARENA_MAX="2")["applied"] is False
