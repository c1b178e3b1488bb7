"""Fixtures of the runtime tests (helpers are in `runflow.py`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from runflow import STARTED, kill_session


@pytest.fixture(autouse=True)
def _kill_leftover_runs() -> Iterator[None]:
    """Whatever a test started with `start_flow`/`run_flow` is gone after it, pass or fail."""
    yield
    while STARTED:
        proc = STARTED.pop()
        kill_session(proc)
        if proc.poll() is None:
            proc.wait(timeout=10)
