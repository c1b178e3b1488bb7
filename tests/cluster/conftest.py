"""Fixtures of the cluster tests: a coordinator and daemons on loopback (helpers: cluster_env)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from cluster_env import Cluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A coordinator on a free loopback port; the test starts the daemons it needs. Everything
    it started is gone afterwards, pass or fail; a process left behind fails the test."""
    env = Cluster(tmp_path)
    try:
        yield env
    finally:
        left = env.close()
        assert not left, f"processes left behind: {left}\n{env.logs()}"
