"""Generated CDR encoders and decoders, one straight-line Python function per message type.

For each type we write Python source that does only what the type needs, compile it once and keep
it on the type's `Codec` (cached by the `TypeRegistry`):

- consecutive fixed-size fields (also inside nested structs, which are inlined) become one
  `struct.Struct.pack` / `unpack_from` call whose format already holds the alignment padding, as
  long as the offset modulo the alignment is known while generating; only after a string or a
  sequence is the padding computed at run time (`p = -pos & 7`). What is known is decided in one
  place, `Alignment`, which the encoder, the row decoder and the column decoder (`cdr_columns`)
  all use;
- primitive sequences go through numpy in one piece (`b"".join` copies them once when encoding;
  `np.frombuffer` views them when decoding, see `arrow_values` for the zero-copy rules);
- arrays of nested messages loop over a generated function of the element type.

Encoders are fast paths: they rely on `struct` to reject what does not fit (`'B' format requires
0 <= number <= 255`, `float too large to pack with f format`) and fall back to the slow, precise
`cdr_reference.encode_reference` on any failure, which raises the `MsgConvError` naming the field,
or encodes what needs a lenient conversion (an integral float for an int field). Both write zero
padding, so encoding is canonical. Offsets count from the end of the 4-byte encapsulation header.

The parts, one concern each: `cdr_alignment` (the `Alignment` model and the generator base that
emits its padding), `cdr_encoder` (`generate_encoder`), `cdr_decoder` (`generate_decoder`, also the
base of `cdr_columns`' column decoder). This module gathers their public names.

Measured with benchmarks/msgconv.py on the shared 2-core machine: a Twist's generated encoder
~1.5 us (one `pack` of 6 doubles is 0.15 us, the rest is dict lookups and `b"".join`) and its row
decoder ~2.5 us before Arrow; 1080p Image encode = one copy of the pixels (`b"".join`) + ~20 us.
Types of numbers only skip both in `decode` and `encode` from Arrow (`fixed_layout`).
"""

from __future__ import annotations

from .cdr_alignment import Alignment as Alignment
from .cdr_decoder import Truncated as Truncated
from .cdr_decoder import generate_decoder as generate_decoder
from .cdr_encoder import Fallback as Fallback
from .cdr_encoder import generate_encoder as generate_encoder

__all__ = ["Alignment", "Fallback", "Truncated", "generate_decoder", "generate_encoder"]
