"""The runnable example of examples/python-dataflow works as its README comment says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "python-dataflow" / "dataflow.yml"


def test_python_dataflow_example_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dora_ros.cli", "run", str(EXAMPLE), "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    frames = [
        int(m) for m in re.findall(r"^printer: frame (\d+): mean brightness", result.stdout, re.M)
    ]
    # queue_size 2 on the filter may drop frames under load, never reorder them; the last arrives.
    assert frames == sorted(frames) and frames[-1] == 59, result.stdout
    for frame in frames:
        assert f"frame {frame}: mean brightness {frame % 256}.0" in result.stdout
    logs = {p.name for p in tmp_path.glob("*/log_*.txt")}
    assert logs == {"log_camera.txt", "log_brightness.txt", "log_printer.txt"}
