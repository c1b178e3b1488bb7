"""`dora.dora`: in dora-rs the native extension module; here an alias of the `dora` package."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    import dora

    return getattr(dora, name)
