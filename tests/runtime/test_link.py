"""The ``Link`` interface (``dora_ros/runtime/link.py``): a kind of link defined outside the runtime
plugs into unchanged nodes through ``register_link_provider``.

The links here are Unix datagram sockets bound to files in the test's folder: one datagram per
record, a region's payload copied after the record (as a remote link does). Both nodes register
the provider before ``Node()``; the edge a -> b then never touches the runtime's own sockets.
"""

from __future__ import annotations

import numpy as np
import pytest
from runflow import run_flow, write_flow

DGRAM_LINKS = '''
import os
import socket
from collections import deque

import pyarrow as pa
from dora_ros.runtime import wire
from dora_ros.runtime.link import InboundLink, OutboundLink, register_link_provider

HERE = os.path.dirname(os.path.abspath(__file__))


def address(sender, receiver):
    return os.path.join(HERE, f"{sender}-{receiver}.sock")


class DgramOutbound(OutboundLink):
    def __init__(self, link_id, sender, receiver):
        self.id, self.receiver = link_id, receiver
        self.closed, self.dropped, self.sent = False, 0, 0
        self.pending, self.retiring, self.outstanding = deque(), [], {}
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.connect(address(sender, receiver))
        self.fd = self.sock.fileno()

    def send(self, parts, fds, region, pool):
        if region is not None:  # the payload travels after the record; the region is free again
            nbytes = wire.HEADER.unpack_from(parts[0])[-1]
            parts = [*parts, bytes(region.mm[:nbytes])]
        self.sock.send(b"".join(parts))  # blocking: a test link, never a full queue for long
        self.sent += 1

    def flush(self, pool):
        pass

    def read_releases(self, pool):
        pass

    def retire(self, region_id):
        pass

    def close(self, pool):
        self.closed = True
        self.sock.close()


class DgramInbound(InboundLink):
    def __init__(self, sender, receiver):
        self.sender, self.routes, self.closed = sender, None, False
        self.releases, self.mappings, self.payload = deque(), {}, b""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.bind(address(sender, receiver))
        self.sock.setblocking(False)
        self.fd = self.sock.fileno()
        self.records = 0

    def receive(self, on_frame):
        while not self.closed:
            try:
                data = self.sock.recv(1 << 20)
            except BlockingIOError:
                return True
            self.records += 1
            if data[0] == wire.KIND_SHM:
                nbytes = wire.HEADER.unpack_from(data)[-1]
                self.payload = data[len(data) - nbytes :]
            on_frame(self, data, None)
        return False

    def shm_buffer(self, region_id, generation, nbytes):
        return pa.py_buffer(self.payload)[:nbytes]

    def flush_releases(self):
        return True

    def close(self):
        if not self.closed:
            self.closed = True
            self.sock.close()


class DgramLinks:
    """The edge a -> b only."""

    def __init__(self, node_id):
        self.node_id = node_id
        self.receivers = {"b"} if node_id == "a" else set()
        self.inbound = [DgramInbound("a", "b")] if node_id == "b" else []

    def outbound(self, link_id, receiver, pending_limit):
        return DgramOutbound(link_id, self.node_id, receiver)

    def close(self):
        for link in self.inbound:
            link.close()


register_link_provider(lambda node_id, dataflow_id: DgramLinks(node_id))
'''


def test_a_link_kind_from_outside_the_runtime_carries_an_edge_of_unchanged_nodes(tmp_path):
    flow = write_flow(
        tmp_path,
        """
        nodes:
          - id: a
            path: a.py
            outputs: [data]
          - id: b
            path: b.py
            # 11 messages sent at once: past the default queue_size (10) the oldest is dropped
            # when b is slow to read (CI under load: 0 was missing)
            inputs: {data: {source: a/data, queue_size: 100}}
        """,
        dgram_links=DGRAM_LINKS,
        a="""
        import numpy as np
        import pyarrow as pa
        import dgram_links  # registers the provider
        from _rec import record
        from dora_ros import Node

        node = Node()
        for i in range(10):
            node.send_output("data", pa.array([i]), {"i": i})
        # 100 KiB: a shared-memory region on the runtime's links; copied by this one
        node.send_output("data", pa.array(np.arange(100 * 1024, dtype=np.uint8)))
        link = node._links["b"]
        record("a", {"link": type(link).__name__, "sent": link.sent})
        """,
        b="""
        import numpy as np
        import dgram_links  # registers the provider
        from _rec import record
        from dora_ros import Node
        from dora_ros.runtime.transport import SocketInboundLink

        node = Node()
        got = []
        for event in node:
            if event["type"] == "INPUT":
                value = event["value"].to_numpy()
                got.append(int(value[0]) if len(value) == 1 else value.tolist())
            else:
                got.append(event["type"])
        inbound = list(node._loop.inbound.values())
        record("b", {
            "got": got,
            "custom_records": sum(getattr(link, "records", 0) for link in inbound),
            "socket_links": sum(isinstance(link, SocketInboundLink) for link in inbound),
        })
        """,
    )
    result = run_flow(flow, timeout=60)
    assert result.returncode == 0, result.stderr
    assert flow.result("a") == {"link": "DgramOutbound", "sent": 11}
    b = flow.result("b")
    assert b["got"] == [
        *range(10),
        list(np.arange(100 * 1024, dtype=np.uint8)),
        "INPUT_CLOSED",
        "STOP",
    ]
    assert b["custom_records"] == 11
    assert b["socket_links"] == 0
    assert "dropped" not in result.stderr


class _NamedProvider:
    """A provider made from an init record's `link_providers` entry."""

    def __init__(self, node_id: str, config: dict) -> None:
        self.node_id, self.config = node_id, config


def test_a_provider_named_in_the_init_record_is_loaded_by_module_path() -> None:
    """How a machine of a multi-machine dataflow gives its nodes their Zenoh links: the runtime
    loads what the record names and knows nothing of the cluster."""
    from dora_ros.errors import NodeError
    from dora_ros.runtime.link import providers_from_init

    spec = {"factory": f"{__name__}:_NamedProvider", "config": {"receivers": ["b"]}}
    (provider,) = providers_from_init("a", [spec])
    assert isinstance(provider, _NamedProvider)
    assert (provider.node_id, provider.config) == ("a", {"receivers": ["b"]})
    with pytest.raises(NodeError, match=r"node 'a': the link provider 'nowhere:Links'"):
        providers_from_init("a", [{"factory": "nowhere:Links", "config": {}}])
