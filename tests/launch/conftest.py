"""Fixtures for launch tests: `ws`, a temporary ament workspace with package `demo_pkg`."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from ament_workspace import Workspace

_domain = itertools.count()


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    # Domain ids 100-149 by worker and test (150-160 are left for tests that need their own).
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:])
    workspace = Workspace(tmp_path, 100 + (worker * 7 + next(_domain)) % 50)
    yield workspace
    workspace.close()
