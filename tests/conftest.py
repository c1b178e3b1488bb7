"""Suite-wide hooks: the suite leaves no Fast DDS or Zenoh files in /dev/shm behind.

Tests that kill ROS 2 processes (on purpose: crash and shutdown tests) leave their Fast DDS
segments behind. When the whole run ends (in the controlling process, after every xdist worker)
the files no live process holds are removed, except those that were there before the run.
A Zenoh session killed on purpose (`topic echo`, a daemon in the fault tests) leaves its
`<n>.zenoh` segment too; Zenoh removes those of dead processes when a session opens, so one
offline session (no scouting, no listening) is opened and closed then.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fastdds_shm import fastdds_files, remove_leftovers

_BEFORE: set[str] = set()
_SHM = Path("/dev/shm")


def _zenoh_files() -> set[str]:
    return {p.name for p in _SHM.glob("*.zenoh")} if _SHM.is_dir() else set()


def _collect_zenoh_leftovers() -> int:
    """Open and close one offline Zenoh session (it removes dead processes' segments)."""
    before = _zenoh_files()
    if not before:
        return 0
    import zenoh

    config = zenoh.Config()
    config.insert_json5("mode", '"peer"')
    config.insert_json5("scouting/multicast/enabled", "false")
    config.insert_json5("listen/endpoints", "[]")
    zenoh.open(config).close()
    return len(before - _zenoh_files())


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller (or a run without xdist)
        _BEFORE.update(fastdds_files())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        return
    removed = remove_leftovers(_BEFORE)
    zenoh_removed = _collect_zenoh_leftovers()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    if removed:
        reporter.ensure_newline()
        reporter.write_line(
            f"removed {len(removed)} Fast DDS file(s) left in /dev/shm by killed processes"
        )
    if zenoh_removed:
        reporter.ensure_newline()
        reporter.write_line(
            f"Zenoh removed {zenoh_removed} segment(s) left in /dev/shm by killed processes"
        )
