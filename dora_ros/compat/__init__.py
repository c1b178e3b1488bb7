"""Compatibility layer: lets nodes written for dora-rs (`from dora import Node`) run on dora-ros.

The folder holding this file contains one package, `dora`, which mirrors the module of dora-rs 1.1
(`dora.Node`, `dora.Ros2Context` & co., `dora.DoraStatus`, `dora.run`, `dora.build`,
`dora.builder`, `dora.testing`). The runtime puts this folder (see :func:`compat_path`) first on every spawned
node's `PYTHONPATH`, so inside a dora-ros dataflow `import dora` resolves here even where the real
`dora-rs` package is installed. Nothing else may live next to `dora/` in this folder: every module
here becomes importable by top-level name inside the nodes.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["compat_path"]


def compat_path() -> Path:
    """The folder to put first on a node's `PYTHONPATH` so `import dora` gives dora-ros."""
    return Path(__file__).resolve().parent
