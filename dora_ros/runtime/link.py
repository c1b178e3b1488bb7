"""The ``Link`` interface: how a node's messages reach another node, whatever carries them.

A node (``node_loop.NodeLoop``) talks to other nodes only through the two ends of a link. What
carries the records is the link's business: the shared-memory links of this machine
(``transport``: a Unix socket per edge, payloads of 4 KiB and more in the sender's memfd regions)
and the Zenoh links to other machines (``cluster/remote_link``) implement the same two classes,
and a :class:`LinkProvider` plugs links of a new kind into a node without touching it.

::

    sender node                                              receiver node
    NodeLoop.send_index ----------------------------------------> NodeLoop.on_frame
      | one frame per message (wire.HEADER, metadata,                ^
      | payload inline or a region of the node's ShmPool)            | on_frame(link, record)
      v                                                              |
    OutboundLink.send(parts, fds, region, pool)     InboundLink.receive(on_frame)
      |  held back when the receiver is slow          |  shm_buffer(region, generation, n):
      |  (pending, bounded by its queue size,         |  the payload of a region record
      |   oldest dropped and counted in `dropped`)    |  releases: regions to give back,
      |  flush(pool): send what was held back         |  flush_releases() sends them
      |  read_releases(pool): regions given back      |
      |  retire(region_id): the pool gave one up      |
      +======== Unix socket + memfd (transport) ======+
      +======== Zenoh publisher/subscriber (cluster) ==+
      +======== anything a LinkProvider brings ========+

The records themselves (``wire``) are the same on every link: a link may copy a region's payload
into its own medium (a remote link does) but reads and writes the one frame format.

A provider is asked once per node, before the node registers with the coordinator (so its inbound
links are ready before any sender starts, as the node's own socket is), and says which receivers
it links to (``receivers``) and which senders it receives from (``inbound``): register a factory
with :func:`register_link_provider` before ``Node()`` is created, or have the node's supervisor name
one in the node's init record (``link_providers``: ``{"factory": "module:attribute", "config":
...}``, ``factory(node_id, config)``): how a machine of a multi-machine dataflow gives its nodes
the Zenoh links (``cluster/machine_run``), without the runtime knowing of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Collection, Sequence
from typing import Any, Protocol

import pyarrow as pa

from .shm_pool import Region, ShmPool

__all__ = [
    "FrameHandler",
    "InboundLink",
    "LinkProvider",
    "LinkProviderFactory",
    "OutboundLink",
    "link_providers",
    "providers_from_init",
    "register_link_provider",
]


class OutboundLink(ABC):
    """The sender's end of a link to one receiver node. Sends never block the node."""

    #: True for a link whose receiver cannot map this node's shared memory (another machine):
    #: the node then sends payloads of any size inline when every receiver is such a link.
    remote: bool = False
    id: int  # unique per node; the pool keys which receivers have a region's fd by it
    receiver: str
    fd: int  # watched for the receiver's exit (hang-up) only; never for writing
    closed: bool
    dropped: int  # messages dropped at this end (held back beyond the limit, or the link closed)
    # Records held back for a slow receiver, oldest first (bounded by the receiver's queue size).
    pending: deque[tuple[list[Any], list[int], Region | None]]
    retiring: list[int]  # regions retired while the receiver could not be told yet
    outstanding: dict[int, int]  # region id -> generation the receiver still holds

    @abstractmethod
    def send(self, parts: list[Any], fds: list[int], region: Region | None, pool: ShmPool) -> None:
        """Send one record (``parts`` joined), or hold it back; ``fds`` go along (SCM_RIGHTS)
        on a link that passes descriptors, and ``region`` is the pool's region it refers to."""

    @abstractmethod
    def flush(self, pool: ShmPool) -> None:
        """Send what was held back, as far as the receiver takes it now."""

    @abstractmethod
    def read_releases(self, pool: ShmPool) -> None:
        """Take the receiver's releases of regions (and notice that it is gone)."""

    @abstractmethod
    def retire(self, region_id: int) -> None:
        """The pool gave region ``region_id`` up: the receiver may unmap it."""

    @abstractmethod
    def close(self, pool: ShmPool) -> None:
        """End the link: what it held back is dropped and counted, its regions go back."""

    def held_back(self) -> bool:
        """Records wait for the receiver (the node retries soon, and before it ends)."""
        return bool(self.pending or self.retiring)

    def needs_fd(self, region: Region) -> bool:
        """The receiver has not been given ``region``'s descriptor yet."""
        return self.id not in region.sent_to


FrameHandler = Callable[["InboundLink", bytes, "pa.Buffer | None"], None]


class InboundLink(ABC):
    """The receiver's end of a link from one sender node, read on the node's own thread."""

    fd: int  # readable when records wait (the node's epoll watches it)
    sender: str | None  # the sending node, once known
    routes: dict[int, Any] | None  # the receiving node's cache: output index -> its inputs
    closed: bool
    releases: deque[tuple[int, int]]  # (region id, generation) to give back to the sender
    mappings: dict[int, Any]  # the sender's regions mapped here (empty without shared memory)

    @abstractmethod
    def receive(self, on_frame: FrameHandler) -> bool:
        """Hand every waiting record to ``on_frame``; False once the sender is gone."""

    @abstractmethod
    def shm_buffer(self, region_id: int, generation: int, nbytes: int) -> pa.Buffer:
        """The payload of the region record being read, as a buffer the node may keep."""

    @abstractmethod
    def flush_releases(self) -> bool:
        """Send the waiting releases; False while the sender cannot take them (retry soon)."""

    @abstractmethod
    def close(self) -> None: ...


class LinkProvider(Protocol):
    """Links of one kind for one node: the senders it receives from and the receivers it reaches.

    The node creates its outbound links once the dataflow starts (``outbound``), watches every
    inbound link's ``fd`` from set-up on, and closes the provider when it ends.
    """

    @property
    def receivers(self) -> Collection[str]:
        """Receiver nodes this provider links to (instead of a local socket)."""
        ...

    @property
    def inbound(self) -> Sequence[InboundLink]:
        """Its links from senders, read from the node's set-up on."""
        ...

    def outbound(self, link_id: int, receiver: str, pending_limit: int) -> OutboundLink:
        """The link to ``receiver``; ``pending_limit``: records it may hold back."""
        ...

    def close(self) -> None: ...


#: ``factory(node_id, dataflow_id)``: a provider for this node, or None.
LinkProviderFactory = Callable[[str, str], "LinkProvider | None"]
_FACTORIES: list[LinkProviderFactory] = []


def register_link_provider(factory: LinkProviderFactory) -> None:
    """Plug a kind of link into every node created from now on in this process."""
    _FACTORIES.append(factory)


def link_providers(node_id: str, dataflow_id: str) -> list[LinkProvider]:
    """The providers the registered factories give for this node."""
    providers = []
    for factory in _FACTORIES:
        provider = factory(node_id, dataflow_id)
        if provider is not None:
            providers.append(provider)
    return providers


def providers_from_init(node_id: str, specs: Sequence[dict[str, Any]]) -> list[LinkProvider]:
    """The providers a node's init record names: ``{"factory": "module:attribute", "config":
    ...}`` each, made with ``factory(node_id, config)``."""
    import importlib

    from ..errors import NodeError

    providers = []
    for spec in specs:
        module_name, _, attribute = str(spec["factory"]).partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as err:
            raise NodeError(
                f"node {node_id!r}: the link provider {spec['factory']!r} its supervisor named "
                f"cannot be loaded: {err}"
            ) from err
        providers.append(factory(node_id, spec["config"]))
    return providers
