"""``SampleHandler``: the writable buffer ``Node.send_output_raw`` hands out, as in dora-rs 1.1.

dora-rs's zero-copy examples use three forms, all supported here::

    with node.send_output_raw("image", n) as buf:      # sent on leaving the block
        np.frombuffer(buf, np.uint8)[:] = frame
    sample = node.send_output_raw("image", n)          # or by hand
    view = sample.as_memoryview(); view[:] = data; view.release(); sample.send()
    buf = sample.as_buffer()                           # any buffer-protocol consumer

The memory is a mapping of its own over the sender's shared-memory region (from 4 KiB; a
``bytearray`` below). The rules are those of dora-rs's contract test
(``examples/python-zero-copy-send/test_contract.py``, which dora-rs 1.1 passes):

- ``send()`` refuses while a view of the buffer is alive (the receiver would read memory the
  sender may still write), and refuses a second time;
- once sent or dropped, the buffer refuses new views (``BufferError``), and ``as_buffer()`` /
  ``as_memoryview()`` raise;
- an exception inside the ``with`` block does not send. Unlike dora-rs 1.1, where the sample
  stays sendable and its memory waits for the handler to be dropped, the sample is dropped on
  leaving the block: its region goes back to the pool there, or, while a view of it is still
  alive, once the last view is gone (the node checks when it next receives or takes a region), never
  while one is. A handler dropped unsent is discarded the same way.

``as_buffer()`` is a ``SampleBuffer`` (``_sample_buffer.c``) that counts its views. Without the C
extension the owner itself is handed out: views are still detected (an mmap refuses to close, a
bytearray to resize, while exported), but a view taken after ``send()`` is not refused.
"""

from __future__ import annotations

import importlib
import logging
import mmap
from collections.abc import Callable
from typing import Any

from ..errors import NodeError

_SampleBuffer: Any
try:
    _SampleBuffer = importlib.import_module(f"{__package__}._sample_buffer").SampleBuffer
except ImportError:  # no C compiler at install time: see the module docstring
    _SampleBuffer = None

__all__ = ["SampleError", "SampleHandler", "views_released"]

_OPEN, _SENT, _DROPPED = 0, 1, 2


class SampleError(NodeError, RuntimeError):
    """A ``SampleHandler`` was misused: sent twice, sent while views of its buffer are alive, or
    used after it was sent. A ``RuntimeError`` too, as dora-rs raises there."""


def views_released(owner: mmap.mmap | bytearray, buffer: Any = None) -> bool:
    """True when no view of the sample is alive. An mmap is closed when it passes."""
    if buffer is not None and not buffer.release_owner():
        return False
    try:
        if isinstance(owner, mmap.mmap):
            owner.close()
        else:
            owner.append(0)  # a bytearray cannot change size while exported
            del owner[-1]
    except BufferError:
        return False
    return True


class SampleHandler:
    """A pre-allocated output sample: fill its buffer, then ``send()`` (or leave the ``with``)."""

    __slots__ = ("_buffer", "_on_discard", "_on_send", "_owner", "_state")

    def __init__(
        self,
        owner: mmap.mmap | bytearray,
        on_send: Callable[[], None],
        on_discard: Callable[[bool, Any], None],
    ) -> None:
        self._owner = owner
        self._buffer = _SampleBuffer(owner) if _SampleBuffer is not None else None
        self._on_send = on_send
        # on_discard(no view left, the SampleBuffer or None): the node retries later otherwise
        self._on_discard = on_discard
        self._state = _OPEN

    def _check_open(self) -> None:
        if self._state == _SENT:
            raise SampleError("Sample has already been sent")
        if self._state == _DROPPED:
            raise SampleError("Sample was dropped")

    def as_buffer(self) -> Any:
        """The writable buffer (the same object each time), for ``numpy.frombuffer`` & co."""
        self._check_open()
        return self._owner if self._buffer is None else self._buffer

    def as_memoryview(self) -> memoryview:
        """A new writable memoryview of the buffer; ``release()`` it before ``send()``."""
        self._check_open()
        return memoryview(self.as_buffer())

    def send(self) -> None:
        """Send the buffer on the output. Refused while a view of the buffer is still alive."""
        self._check_open()
        if not views_released(self._owner, self._buffer):
            count = "" if self._buffer is None else f"{self._buffer.exports} "
            raise SampleError(
                f"Cannot send: {count}buffer view(s) are still open. Release all memoryview /"
                " numpy references before calling send()."
            )
        self._state = _SENT
        self._on_send()

    def __enter__(self) -> Any:
        return self.as_buffer()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.send()
        else:
            # Sends nothing (as dora-rs) and, unlike dora-rs 1.1, drops the sample now: a
            # handler kept in a variable would otherwise hold its region until it is dropped.
            self._discard()

    def _discard(self) -> None:
        """Drop an unsent sample: its memory goes back once no view of it is left."""
        try:
            if self._state == _OPEN:
                self._state = _DROPPED
                if self._buffer is not None:
                    self._buffer.invalidate()
                self._on_discard(views_released(self._owner, self._buffer), self._buffer)
        except Exception:  # never raise from a finaliser or over the user's own exception
            logging.getLogger(__name__).exception("discarding an unsent sample failed")

    def __del__(self) -> None:
        self._discard()

    def __repr__(self) -> str:
        state = ("open", "sent", "dropped")[self._state]
        return f"<SampleHandler {state}>"
