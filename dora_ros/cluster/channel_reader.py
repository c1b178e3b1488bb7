"""Zenoh subscribers and queryables of the control plane, read by a thread of ours.

A Python callback given to Zenoh runs on (or is dropped by) Zenoh's own threads. When one of
them needs the interpreter while it finalizes, the process aborts at exit ("FATAL: exception not
rethrown", status -6): seen in 5 of 24 loaded ``dora-ros run``s through the dataflow API's
queryable (commit 6e7bef0). Here Zenoh only fills a channel (Rust code, no Python) and a thread
of ours takes from it and hands each item on; ``undeclare`` undeclares the entity (the channel
then reports closed once empty) and joins that thread, before the session closes and long
before the interpreter finalizes.

Usage::

    readers = [
        read_subscriber(session, key, inbox.put, name="events"),
        read_queryable(session, key, inbox.put, name="api"),
        read_subscriber(session.liveliness(), key, on_token, name="daemons", history=True),
    ]
    ...
    for reader in readers:
        reader.undeclare()

The control plane only (a few messages a second). The data path (``remote_link.py``) keeps its
callback, which is cheaper per sample; it says there why that is safe at exit.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

# Items a channel holds until our thread takes them; a full channel makes Zenoh wait (the
# consumers here only put the item on an unbounded queue, so it empties at once).
CHANNEL_CAPACITY = 256
# How long ``undeclare`` waits for the thread (it ends as soon as the channel is closed).
JOIN_TIMEOUT = 5.0


class ChannelReader:
    """A declared Zenoh entity whose channel a thread of ours reads (module docstring)."""

    def __init__(self, entity: Any, deliver: Callable[[Any], None], name: str) -> None:
        self.entity = entity
        self.deliver = deliver
        self.thread = threading.Thread(target=self._read, name=f"zenoh-{name}", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        channel = self.entity.handler
        while True:
            try:
                item = channel.recv()
            except Exception:  # zenoh.ZError: the channel is empty and closed (undeclared)
                return
            self.deliver(item)

    def undeclare(self) -> None:
        """Undeclare the entity and wait for the thread (idempotent)."""
        # Already undeclared, or its session closed: the channel is closed either way.
        with contextlib.suppress(Exception):
            self.entity.undeclare()
        if self.thread is not threading.current_thread():
            self.thread.join(timeout=JOIN_TIMEOUT)


def read_subscriber(declarer: Any, key: str, deliver: Callable[[Any], None], *, name: str,
                    **options: Any) -> ChannelReader:  # fmt: skip
    """A subscriber on ``key`` (of a session, or of ``session.liveliness()``): each sample goes
    to ``deliver`` on our thread."""
    import zenoh

    entity = declarer.declare_subscriber(key, zenoh.handlers.FifoChannel(CHANNEL_CAPACITY),
                                         **options)  # fmt: skip
    return ChannelReader(entity, deliver, name)


def read_queryable(session: Any, key: str, deliver: Callable[[Any], None], *, name: str,
                   capacity: int = CHANNEL_CAPACITY) -> ChannelReader:  # fmt: skip
    """A queryable on ``key``: each query goes to ``deliver`` on our thread (which may reply
    at once or hand it on; a query is answered until it is dropped)."""
    import zenoh

    entity = session.declare_queryable(key, zenoh.handlers.FifoChannel(capacity))
    return ChannelReader(entity, deliver, name)
