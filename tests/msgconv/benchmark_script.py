"""benchmarks/msgconv.py loaded as a module, for tests of its judging and of its cases."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "msgconv.py"


def load_benchmark() -> ModuleType:
    """The script as the module `msgconv_benchmark` (loaded once per process)."""
    name = "msgconv_benchmark"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
