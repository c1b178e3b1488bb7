"""The one model of CDR alignment, and what the generated encoder and decoders share.

`Alignment` says, while code is generated, what is sure about the CDR offset at each point;
`_Generator` is the base of the encoder (`cdr_encoder`), the row decoder (`cdr_decoder`) and the
column decoder (`cdr_columns`): source lines, names in the generated module's namespace, and the
pending run of fixed-size values that becomes one `struct` call, padded where the model says. The
package's overview of the generated code is in `cdr_codegen`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .registry import TypeSource

__all__ = ["Alignment"]


class _Source:
    """Lines of one generated function; names it refers to go in a namespace shared per module."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.lines: list[str] = []
        self.ns = namespace

    def name(self, prefix: str, value: Any = None) -> str:
        """A new name for generated code (holding `value` in the namespace, if given); never one
        the namespace already has (an unpack once took `U32`, the count's struct, by number)."""
        while True:
            self.ns["__counter__"] = counter = self.ns.get("__counter__", 0) + 1
            key = f"{prefix}{counter}"
            if key not in self.ns:
                break
        if value is not None:
            self.ns[key] = value
        return key

    def const(self, value: Any) -> str:
        """Source text for `value`: a literal for bools, ints and finite floats, else a name."""
        if isinstance(value, (bool, int)):
            return repr(value)
        if isinstance(value, float) and math.isfinite(value):
            return repr(value)
        return self.name("C", value)


def _fn_name(type_name: str) -> str:
    return "_" + "".join(c if c.isalnum() else "_" for c in type_name)


class Alignment:
    """What generated code is sure of, at one point, about the CDR offset: `pos % known == rest`.

    The one model of CDR alignment: the encoder, the row decoder and the column decoder all ask it
    where padding goes, so they cannot disagree with each other (or, one rule at a time, with
    rclpy). Like rosbags' generator it keeps only what holds on every path the generated code can
    take: `known` is a power of two up to 8 (CDR aligns nothing beyond 8 bytes), 8 at the start of
    a message body, 1 where nothing is known (a string's end, the start of an element function).
    A padding it can tell becomes `x` bytes in a `struct` format; one it cannot is computed at run
    time (`-pos & (n - 1)`), after which the offset is aligned to n.
    """

    __slots__ = ("known", "rest")

    def __init__(self, known: int = 1, rest: int = 0) -> None:
        self.known = known
        self.rest = rest % known

    def __repr__(self) -> str:
        return f"Alignment(pos % {self.known} == {self.rest})"

    def pad(self, n: int) -> int | None:
        """Padding bytes before a value aligned to `n`, if known while generating (else None)."""
        return -self.rest % n if n <= self.known else None

    def align(self, n: int) -> int | None:
        """`pad(n)`; the offset is then a multiple of `n` (padded statically or at run time)."""
        pad = self.pad(n)
        if pad is None:
            self.known, self.rest = n, 0
        else:
            self.rest = (self.rest + pad) % self.known
        return pad

    def advance(self, size: int) -> None:
        """Past `size` bytes."""
        self.rest = (self.rest + size) % self.known

    def advance_unknown(self, unit: int) -> None:
        """Past a number, known only at run time, of `unit`-byte items (string bytes, wchars)."""
        known = self.known
        while unit % known:
            known //= 2
        self.known, self.rest = known, self.rest % known

    def meet(self, other: Alignment) -> None:
        """What still holds when the code may have taken either this path or `other`."""
        known = min(self.known, other.known)
        while self.rest % known != other.rest % known:
            known //= 2
        self.known, self.rest = known, self.rest % known

    def elements(self, size: int) -> int | None:
        """Past the elements of a primitive sequence, its count just read or written.

        Returns `pad(size)`: the padding before the first element, which the generated code must
        apply only when the sequence is not empty (Fast CDR, hence rclpy, aligns an empty one to
        nothing). Afterwards either nothing moved (empty) or the offset is a multiple of `size`.
        """
        pad = self.pad(size)
        self.meet(Alignment(size))
        return pad

    def forget(self) -> None:
        """Nothing is known (inside a loop over strings or nested messages, and after it)."""
        self.known, self.rest = 1, 0


class _Generator:
    """What the generators share: source lines, the alignment model and the pending `struct` run.

    Consecutive fixed-size values collect in `fmt` (with their static padding as `x`) until
    something of run-time size comes; `flush` writes the run as one pack / unpack.
    """

    def __init__(self, registry: TypeSource, top: bool, namespace: dict[str, Any]) -> None:
        self.registry = registry
        self.src = _Source(namespace)
        self.at = Alignment(8 if top else 1)
        self.fmt = ""
        self.ind = "    "
        self.needs: set[str] = set()  # element types whose functions the generated one calls

    def emit(self, line: str) -> None:
        self.src.lines.append(self.ind + line)

    def flush(self) -> None:
        raise NotImplementedError

    def runtime_pad(self, n: int, condition: str | None = None) -> None:
        """Emit code that pads to `n` (only when `condition` holds at run time, if given)."""
        raise NotImplementedError

    def static_pad(self, pad: int, condition: str) -> None:
        """Emit code that pads `pad` bytes when `condition` holds at run time."""
        raise NotImplementedError

    def align(self, n: int) -> None:
        pad = self.at.align(n)
        if pad is None:
            self.flush()
            self.runtime_pad(n)
        else:
            self.fmt += "x" * pad

    def elements(self, size: int, count: str) -> None:
        """Pad before a primitive sequence's elements (none when `count` is 0), as the model says.

        The pending run must be flushed (the count was just written or read).
        """
        assert not self.fmt
        pad = self.at.elements(size)
        if pad is None:
            self.runtime_pad(size, count)
        elif pad:
            self.static_pad(pad, count)
