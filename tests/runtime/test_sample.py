"""``SampleHandler`` on its own (no dataflow): dora-rs 1.1's zero-copy contract, with the C
``SampleBuffer`` and with the pure-Python fallback, over a bytearray and over shared memory.

The rules are the ones dora-rs 1.1 passes in its ``examples/python-zero-copy-send`` contract test
(run against the real dora-rs when this was written): views block ``send()``, a second ``send()``
fails, a sent or dropped sample's buffer refuses new views, ``as_buffer()`` is one object, an
exception in ``with`` sends nothing (and here, unlike dora-rs, drops the sample at once).
"""

from __future__ import annotations

import importlib
import mmap
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from dora_ros.runtime import sample as sample_module
from dora_ros.runtime.sample import SampleError, SampleHandler

HAS_C = importlib.util.find_spec("dora_ros.runtime._sample_buffer") is not None


@pytest.fixture(params=["c", "python"])
def flavour(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "c":
        assert HAS_C, "the C SampleBuffer is not built (make, or pip install -e .)"
    else:
        monkeypatch.setattr(sample_module, "_SampleBuffer", None)
    return str(request.param)


@pytest.fixture(params=["bytearray", "mmap"])
def owner(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "bytearray":
        yield bytearray(64)
        return
    fd = os.memfd_create("test-sample")
    os.ftruncate(fd, 1 << 16)
    yield mmap.mmap(fd, 8192)
    os.close(fd)


class Calls:
    def __init__(self) -> None:
        self.sent = 0
        self.discarded: list[bool] = []

    def handler(self, owner: Any) -> SampleHandler:
        def send() -> None:
            self.sent += 1

        def discard(released: bool, _buffer: Any) -> None:
            self.discarded.append(released)

        return SampleHandler(owner, send, discard)


def test_views_block_send_until_released(flavour: str, owner: Any) -> None:
    calls = Calls()
    sample = calls.handler(owner)
    view = sample.as_memoryview()
    array = np.frombuffer(sample.as_buffer(), np.uint8)
    view[:4] = b"abcd"
    assert bytes(owner[:4]) == b"abcd"  # written in place
    with pytest.raises(SampleError, match="view\\(s\\) are still open") as err:
        sample.send()
    assert isinstance(err.value, RuntimeError)
    del array
    view.release()
    sample.send()
    assert calls.sent == 1
    with pytest.raises(SampleError, match="already been sent"):
        sample.send()
    with pytest.raises(RuntimeError):
        sample.as_memoryview()


def test_exception_in_with_sends_nothing_and_drops_the_sample(flavour: str, owner: Any) -> None:
    """Unlike dora-rs 1.1 (the sample stays sendable), leaving `with` by an exception drops the
    sample there, though the handler is still referenced: its memory goes back at once."""
    calls = Calls()
    sample = calls.handler(owner)
    with pytest.raises(ValueError, match="boom"):
        with sample as buf:
            np.frombuffer(buf, np.uint8)[:] = 1
            raise ValueError("boom")
    assert calls.sent == 0
    assert calls.discarded == [True]  # no view left: the region can go back now
    with pytest.raises(SampleError, match="dropped"):
        sample.send()
    del sample
    assert calls.discarded == [True]  # discarded once


def test_exception_in_with_while_a_view_lives_keeps_the_memory(flavour: str, owner: Any) -> None:
    """A view still alive when `with` is left by an exception: the memory is not given back
    (the node keeps it aside until the view is gone) and the view still reads what was written."""
    calls = Calls()
    sample = calls.handler(owner)
    with pytest.raises(ValueError, match="boom"):
        with sample as buf:
            kept = np.frombuffer(buf, np.uint8)
            kept[:] = 7
            raise ValueError("boom")
    assert calls.discarded == [False]
    assert (kept == 7).all()
    del kept
    # The node's retry (_settle_held_samples) now finds no view left.
    assert sample_module.views_released(owner) or flavour == "c"


def test_dropped_sample_is_discarded_once_its_views_are_gone(flavour: str, owner: Any) -> None:
    calls = Calls()
    sample = calls.handler(owner)
    kept = np.frombuffer(sample.as_buffer(), np.uint8)
    del sample
    assert calls.discarded == [False]  # a view is alive: the node keeps the region aside
    del kept
    assert calls.sent == 0
    # Once the view is gone the region can be given back (the node retries: _settle_held_samples).
    assert sample_module.views_released(owner) or flavour == "c"


def test_sent_or_dropped_buffer_refuses_new_views(owner: Any) -> None:
    assert HAS_C, "the C SampleBuffer is not built (make, or pip install -e .)"
    calls = Calls()
    sample = calls.handler(owner)
    buf = sample.as_buffer()
    assert sample.as_buffer() is buf
    sample.send()
    with pytest.raises(BufferError):
        memoryview(buf)
    other = Calls().handler(bytearray(8))
    kept = other.as_buffer()
    del other
    with pytest.raises(BufferError):
        memoryview(kept)
