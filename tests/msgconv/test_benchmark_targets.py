"""benchmarks/msgconv.py judges each row by the target of its mode (issue 11's review).

With the C helpers the targets are issue 4's table; without them issue 11's "no row worse than
1.5x rosbags", so a run without them no longer reports a row that meets 1.5x as missed (it did
for PointCloud2 encode at 1.17x, held to issue 4's "< rosbags"). Only the judging is tested
here, on made-up figures: speed itself is measured by the script, never in tests.
"""

from __future__ import annotations

import os
import subprocess
import sys

try:
    from .benchmark_script import SCRIPT, load_benchmark
except ImportError:  # tests/msgconv is not a package: pytest put this folder on sys.path
    from benchmark_script import SCRIPT, load_benchmark  # type: ignore[no-redef]


def test_each_mode_applies_its_own_target() -> None:
    bench = load_benchmark()
    issue4 = "<= 2x copy and < rosbags"
    rows = [
        # PointCloud2 encode at 1.17x rosbags: misses issue 4's "< rosbags", meets 1.5x
        bench.Row("encode", "PointCloud2", 100.0, 117.0, 100.0, 400.0, issue4, False),
        bench.Row("encode_many", "Imu", 1.0, 183.0, 100.0, 100.0, "", None),  # 1.83x
        bench.Row("decode", "Twist", 0.1, 1.5, 1.0, 7.0, "<= 20x rosbags", True),  # 1.5x: met
        bench.Row("decode", "Image", 600.0, None, 500.0, 1600.0, issue4, False),  # an error
    ]
    assert bench.apply_targets(rows, True) == rows
    judged = bench.apply_targets(rows, False)
    assert [r.met for r in judged] == [True, False, True, False]
    assert {r.target for r in judged} == {"<= 1.5x rosbags"}
    assert [(r.op, r.case, r.dora, r.note) for r in judged] == [
        (r.op, r.case, r.dora, r.note) for r in rows
    ]


def test_the_output_says_whether_the_c_helpers_are_loaded() -> None:
    code = f"import runpy; m = runpy.run_path({str(SCRIPT)!r}); print(m['c_helpers']())"
    env = {**os.environ, "DORA_ROS_NO_NATIVE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "not loaded (DORA_ROS_NO_NATIVE is set)"
