# The C helpers of msgconv (_arrow_native.c); msgconv/native.py wraps them.
from collections.abc import Callable
from typing import Any

import pyarrow as pa

def rows(
    array: pa.StructArray, spec: tuple[Any, ...], frombuffer: Callable[..., Any]
) -> list[Any]: ...
def build(
    row: dict[str, Any], spec: tuple[Any, ...], segments: list[bytearray], held: list[Any]
) -> Any: ...  # an "arrow_array" PyCapsule
