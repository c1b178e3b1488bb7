"""Suite-wide hooks: the suite leaves no Fast DDS files in /dev/shm behind.

Tests that kill ROS 2 processes (on purpose: crash and shutdown tests) leave their Fast DDS
segments behind. When the whole run ends (in the controlling process, after every xdist worker)
the files no live process holds are removed, except those that were there before the run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fastdds_shm import fastdds_files, remove_leftovers

_BEFORE: set[str] = set()


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller (or a run without xdist)
        _BEFORE.update(fastdds_files())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        return
    removed = remove_leftovers(_BEFORE)
    if removed:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(
                f"removed {len(removed)} Fast DDS file(s) left in /dev/shm by killed processes"
            )
