"""`logs` right after `start --detach`: what exists (nothing yet) or, with -f, what comes; never
a raw OSError text."""

from __future__ import annotations

import subprocess

from cluster_env import DORA_ROS, Cluster, wait_for, write
from graphs import RECEIVER, SOURCE

# The sender sends until stopped (SOURCE): a finite one ended the dataflow by itself, on a
# loaded machine before the test's `stop` ("no running dataflow is called 'early'").
GRAPH = """
nodes:
  - id: sender
    path: sender.py
    deploy: {machine: robot}
    inputs:
      tick: dora/timer/millis/50
    outputs: [value]
  - id: receiver
    path: receiver.py
    deploy: {machine: robot}
    inputs:
      data: sender/value
"""


def test_logs_right_after_start_detach(cluster: Cluster) -> None:
    write(cluster.folder, GRAPH, sender=SOURCE, receiver=RECEIVER)
    cluster.up("robot")
    # `start` and `logs` in one shell line: the run has not spawned its nodes yet when `logs`
    # asks (before: "no log for node 'receiver': [Errno 2] No such file or directory: ...").
    line = (f"{' '.join(DORA_ROS)} start graph.yml --name early --detach >/dev/null && "
            f"{' '.join(DORA_ROS)} logs early -n receiver")  # fmt: skip
    run = subprocess.run(["sh", "-c", line], capture_output=True, text=True, timeout=60,
                         cwd=cluster.folder, env=cluster.env())  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "No such file" not in run.stderr and "Errno" not in run.stderr, run.stderr
    assert run.stderr in ("", "node 'receiver' on robot: no output yet (it is not started yet;"
                          " -f waits for it)\n"), run.stderr  # fmt: skip
    wait_for(lambda: cluster.cli("logs", "early", "-n", "receiver").returncode == 0, 20,
             "the receiver's log")  # fmt: skip
    # The nodes may still be starting (their log files exist, Python is still importing): the
    # default grace of this suite (2 s) SIGTERMed both under load in CI, which `stop` reports
    # as a failed dataflow; they end on STOP as soon as they run.
    cluster.cli("stop", "early", "--grace-duration", "30s", check=True)
