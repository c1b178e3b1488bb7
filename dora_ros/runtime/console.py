"""How a command shows the output of the processes it runs: one prefix style, ``<name>: <line>``.

`dora-ros run` (node output) and `dora-ros build` (build commands) prefix each line with the node
id, as dora-rs does. On a terminal the prefix is coloured, one colour per name (stable across
runs, so a node keeps its colour); in a pipe or a file, and with ``NO_COLOR`` set or
``TERM=dumb``, it is plain text, so tools and tests read the same bytes the log files hold.
"""

from __future__ import annotations

import os
import zlib
from typing import IO

__all__ = ["colour_enabled", "prefix"]

# ANSI foreground colours that read well on dark and light terminals (no black, white, blue).
_COLOURS = (32, 33, 35, 36, 91, 92, 93, 95, 96)


def colour_enabled(stream: IO[str]) -> bool:
    """True when ``stream`` is a terminal that takes colours (``NO_COLOR``, ``TERM=dumb`` off)."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (ValueError, OSError):  # closed, or not a real stream
        return False


def prefix(name: str, colour: bool) -> str:
    """``"<name>: "``, coloured per name when ``colour``."""
    if not colour:
        return f"{name}: "
    code = _COLOURS[zlib.crc32(name.encode()) % len(_COLOURS)]
    return f"\x1b[{code}m{name}:\x1b[0m "
