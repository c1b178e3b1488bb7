"""The bridge's soak, shortened: a minute of a topic published to ROS and echoed back by an rclpy
peer, a service called and an action goal sent several times a second, with nothing growing
after warm-up in the four bridge processes, the dora nodes, `dora-ros run` and the peer.

This test needs more than 30 s by design (60 s of run plus start and stop): growth only shows over
time. `python benchmarks/soak.py --bridge` runs the full hour (ROS_DOMAIN_ID 98).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SOAK = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"


def test_one_minute_bridge_soak_is_flat(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SOAK), "--bridge", "--minutes", "1", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["flat"] is True
    judged = {(v["role"], v["metric"]) for v in summary["verdicts"]}
    for role in ("ticker", "sink", "ros-pub", "ros-sub", "ros-svc", "ros-act", "dora-ros run",
                 "rclpy peer"):  # fmt: skip
        for metric in ("anon_kib", "fds"):
            assert (role, metric) in judged, (role, metric, sorted(judged))
    traffic = summary["bridge_traffic"]
    # 20 echoes, 5 responses, 1 goal a second: most of them, whatever the machine's load.
    assert traffic.get("echo", 0) > 300 and traffic.get("response", 0) > 100, traffic
    assert traffic.get("result succeeded", 0) > 20 and traffic.get("feedback", 0) > 20, traffic
    assert traffic.get("result") == traffic.get("result succeeded"), traffic  # none failed
    run_log = (tmp_path / "run.log").read_text()
    assert "Traceback" not in run_log, run_log[-3000:]
    # Nothing the bridge did made the ROS side complain (the action client's probes included).
    peer_log = (tmp_path / "peer.log").read_text()
    assert "WARN" not in peer_log and "ERROR" not in peer_log, peer_log[-3000:]
