"""Every msgconv path at once: the generated fast paths must agree with the slow reference.

A fast path that refuses bytes the reference reads (or reads them differently) is a msgconv bug,
never "malformed CDR"; an encoder fast path that writes other bytes than the reference is one too.
The tests call these helpers wherever they decode or encode, so every case they run checks it.
"""

from __future__ import annotations

import struct
from typing import Any

from dora_ros.errors import MsgConvError
from dora_ros.msgconv.cdr_codegen import Fallback
from dora_ros.msgconv.cdr_reference import decode_reference, encode_reference
from dora_ros.msgconv.codec import Codec

try:
    from . import cdr_reference as ref_cdr
except ImportError:  # tests/msgconv is not a package: pytest put this folder on sys.path
    import cdr_reference as ref_cdr  # type: ignore[no-redef]

# What a generated encoder may raise to hand a value to the reference (see Codec.encode_tree).
_FAST_ENCODE_GIVES_UP = (
    Fallback,
    struct.error,
    TypeError,
    ValueError,
    AttributeError,
    OverflowError,
    KeyError,
)


def decode_every_way(codec: Codec, blob: bytes, context: str = "") -> Any:
    """The plain value of one CDR message, after checking that the row decoder, the column decoder
    (`decode_many`) and the reference decoder all read it alike, or all refuse it.

    Returns the value, or the MsgConvError all of them raised (as a value, not raised).
    """
    name = codec.definition.name
    results: dict[str, Any] = {}
    ways = {
        "decode": lambda: codec.decode(blob).to_pylist()[0],
        "decode_many": lambda: codec.decode_many([blob]).to_pylist()[0],
        "decode_many x2": lambda: codec.decode_many([blob, blob]).to_pylist()[1],
        "reference": lambda: decode_reference(codec.definition, blob, codec.registry),
    }
    for way, run in ways.items():
        try:
            results[way] = run()
        except MsgConvError as err:
            results[way] = err
    want = results["reference"]
    where = f"{context or name} ({bytes(blob).hex()})"
    for way, got in results.items():
        if isinstance(want, MsgConvError):
            assert isinstance(got, MsgConvError), (
                f"{where}: {way} read {got!r:.300} where the reference refuses it: {want}"
            )
        else:
            assert not isinstance(got, MsgConvError), (
                f"{where}: {way} refuses bytes the reference reads as {want!r:.300}: {got}"
            )
            ref_cdr.assert_same(got, want, f"{where}: {way} vs the reference decoder")
    return want


def encode_every_way(codec: Codec, value: Any, context: str = "") -> bytes | MsgConvError:
    """CDR of a dict tree after checking that the generated encoder (when it does not hand the
    value over) and `Codec.encode` write exactly the reference's bytes, or all refuse the value."""
    where = context or codec.definition.name
    try:
        want: bytes | MsgConvError = encode_reference(codec.definition, value, codec.registry)
    except MsgConvError as err:
        want = err
    try:
        fast: bytes | None = codec._encode(value)
    except _FAST_ENCODE_GIVES_UP:
        fast = None
    if fast is not None:
        assert not isinstance(want, MsgConvError), (
            f"{where}: the fast encoder wrote {fast.hex()} for a value the reference refuses: {want}"
        )
        assert fast == want, f"{where}: fast encoder\n  {fast.hex()}\nreference\n  {want.hex()}"
    try:
        got: bytes | MsgConvError = codec.encode(value)
    except MsgConvError as err:
        got = err
    if isinstance(want, MsgConvError):
        assert isinstance(got, MsgConvError), f"{where}: encode accepted what the reference refuses"
        assert type(got) is type(want) and str(got) == str(want), f"{where}: {got} != {want}"
    else:
        assert got == want, f"{where}: encode gave {got!r:.200}, reference {want.hex()}"
    return got
