"""``SampleHandler``: the writable buffer ``Node.send_output_raw`` hands out, as in dora-rs 1.1.

dora-rs's zero-copy examples use three forms, all supported here::

    with node.send_output_raw("image", n) as buf:      # sent on exit
        np.frombuffer(buf, np.uint8)[:] = frame
    sample = node.send_output_raw("image", n)          # or by hand
    view = sample.as_memoryview(); view[:] = data; view.release(); sample.send()
    buf = sample.as_buffer()                           # any buffer-protocol consumer

The buffer is a mapping of its own over the sender's shared-memory region (from 4 KiB; a
``bytearray`` below), so whether a view of it is still alive is known exactly: ``mmap.close()``
refuses while any export (memoryview, numpy array, ``struct.pack_into`` target) exists. As dora-rs,
``send()`` refuses then (the receiver would read memory the sender still writes). An exception
inside the ``with`` block discards the sample: its region goes back to the pool once no view of it
is left (the node retries on its next send), never while one still is.
"""

from __future__ import annotations

import logging
import mmap
from collections.abc import Callable

from ..errors import NodeError

__all__ = ["SampleError", "SampleHandler"]

_OPEN, _SENT, _DISCARDED = 0, 1, 2


class SampleError(NodeError, RuntimeError):
    """A ``SampleHandler`` was misused: sent twice, sent while views of its buffer are alive, or
    used after it was sent. A ``RuntimeError`` too, as dora-rs raises there."""


def views_released(buffer: mmap.mmap | bytearray) -> bool:
    """True when no view of ``buffer`` is alive. An mmap is closed by the test when it passes."""
    try:
        if isinstance(buffer, mmap.mmap):
            buffer.close()
        else:
            buffer.append(0)  # a bytearray cannot change size while exported
            del buffer[-1]
    except BufferError:
        return False
    return True


class SampleHandler:
    """A pre-allocated output sample: fill its buffer, then ``send()`` (or leave the ``with``)."""

    __slots__ = ("_buffer", "_on_discard", "_on_send", "_state")

    def __init__(
        self,
        buffer: mmap.mmap | bytearray,
        on_send: Callable[[], None],
        on_discard: Callable[[bool], None],
    ) -> None:
        self._buffer = buffer
        self._on_send = on_send
        self._on_discard = on_discard  # called with True when no view was left
        self._state = _OPEN

    def _check_open(self) -> None:
        if self._state == _SENT:
            raise SampleError("Sample has already been sent")
        if self._state == _DISCARDED:
            raise SampleError("Sample was discarded (an exception left its `with` block)")

    def as_buffer(self) -> mmap.mmap | bytearray:
        """The writable buffer itself (for ``numpy.frombuffer``, ``struct.pack_into``, ...)."""
        self._check_open()
        return self._buffer

    def as_memoryview(self) -> memoryview:
        """A writable memoryview of the buffer; ``release()`` it before ``send()``."""
        self._check_open()
        return memoryview(self._buffer)

    def send(self) -> None:
        """Send the buffer on the output. Refused while a view of the buffer is still alive."""
        self._check_open()
        if not views_released(self._buffer):
            raise SampleError(
                "Cannot send: buffer view(s) are still open. Release all memoryview / numpy"
                " references before calling send()."
            )
        self._state = _SENT
        self._on_send()

    def _discard(self) -> None:
        if self._state == _OPEN:
            self._state = _DISCARDED
            self._on_discard(views_released(self._buffer))

    def __enter__(self) -> mmap.mmap | bytearray:
        return self.as_buffer()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self._discard()
            return
        self.send()

    def __del__(self) -> None:
        # An unsent sample dropped on the floor gives its memory back (dora-rs does the same).
        try:
            self._discard()
        except Exception:  # never raise from a finaliser (the node may be closed by now)
            logging.getLogger(__name__).exception("discarding an unsent sample failed")

    def __repr__(self) -> str:
        state = ("open", "sent", "discarded")[self._state]
        return f"<SampleHandler {len(self._buffer) if self._state == _OPEN else '-'} bytes {state}>"
