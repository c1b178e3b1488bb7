"""A node's log file, rotated by size as dora-rs 1.1 does (``max_log_size``, ``max_rotated_files``).

Without ``max_log_size`` the file grows as long as the node writes. With it, once the file would
pass that size it is renamed ``log_<node>.1.txt`` (older ones shift to ``.2``, ``.3``, ...; the one
past ``max_rotated_files``, default 5, is deleted) and a fresh ``log_<node>.txt`` is started, so a
node never takes more than ``max_log_size * (1 + max_rotated_files)`` of disk. Sizes read as
dora-rs reads them: ``1000`` (bytes), ``"1K"``/``"1KB"``, ``"50M"``/``"50MB"``, ``"1G"``/``"1GB"``
(powers of 1024).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_ROTATED_FILES", "LogFile", "parse_size"]

DEFAULT_ROTATED_FILES = 5
_SIZE = re.compile(r"^\s*(\d+)\s*(K|KB|M|MB|G|GB)?\s*$", re.IGNORECASE)
_UNIT = {None: 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(value: object) -> int:
    """Bytes in ``value`` (an int, or a string like ``50MB``); ValueError when malformed."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.match(str(value)) if isinstance(value, str) else None
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"{value!r} is not a size (use e.g. 1000, 512KB, 50MB or 1GB)")
    unit = match.group(2)
    return int(match.group(1)) * _UNIT[unit[0].upper() if unit else None]


class LogFile:
    """``log_<node>.txt``, appended to in binary; rotated when ``max_size`` is given."""

    def __init__(
        self, path: Path, max_size: int | None = None, rotated_files: int = DEFAULT_ROTATED_FILES
    ) -> None:
        self.path = path
        self.max_size = max_size
        self.rotated_files = rotated_files
        self.file = open(path, "ab")  # owned here, closed by close()
        self.size = self.file.tell()

    @classmethod
    def for_node(cls, path: Path, node_raw: Mapping[str, Any]) -> LogFile:
        """The log file of a node, rotated as its ``max_log_size``/``max_rotated_files`` say."""
        size = node_raw.get("max_log_size")
        count = node_raw.get("max_rotated_files")
        return cls(
            path,
            None if size is None else parse_size(size),
            DEFAULT_ROTATED_FILES if count is None else int(count),
        )

    @property
    def closed(self) -> bool:
        return self.file.closed

    def write(self, data: bytes) -> None:
        if self.max_size is not None and self.size and self.size + len(data) > self.max_size:
            self._rotate()
        self.file.write(data)
        self.size += len(data)

    def flush(self) -> None:
        self.file.flush()

    def close(self) -> None:
        self.file.close()

    def _rotated(self, index: int) -> Path:
        stem = self.path.name[: -len(self.path.suffix)] if self.path.suffix else self.path.name
        return self.path.with_name(f"{stem}.{index}{self.path.suffix}")

    def _rotate(self) -> None:
        self.file.close()
        oldest = self._rotated(self.rotated_files)
        if oldest.exists():
            oldest.unlink()
        for index in range(self.rotated_files - 1, 0, -1):
            older = self._rotated(index)
            if older.exists():
                os.replace(older, self._rotated(index + 1))
        os.replace(self.path, self._rotated(1))
        self.file = open(self.path, "ab")
        self.size = 0
