"""Linux network namespaces as machines for the cluster tests (root only).

``Network`` makes three namespaces (the coordinator's and one per machine), joined by veth links
to a bridge in the coordinator's namespace, each on its own address of 10.<x>.0.0/24 (x chosen
per test process, so parallel tests do not meet); with ``multicast``, each has a multicast route on
its link, as a LAN has (Zenoh's scouting group is 224.0.0.224). ``close()`` deletes the namespaces, which
deletes their veths and bridge with them; nothing is created in the host's namespace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field


def available() -> str | None:
    """None if namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "no `ip` command"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@dataclass
class Network:
    machines: tuple[str, ...]
    tag: str = field(default_factory=lambda: f"{os.getpid() % 100000}")
    multicast: bool = False  # a multicast route on each machine's link (Zenoh scouting)
    namespaces: dict[str, str] = field(default_factory=dict)  # role -> namespace
    addresses: dict[str, str] = field(default_factory=dict)  # role -> IPv4 address
    links: dict[str, tuple[str, str]] = field(default_factory=dict)  # role -> (ns, veth)

    def __post_init__(self) -> None:
        subnet = 100 + int(self.tag) % 100
        roles = ("coordinator", *self.machines)
        try:
            for index, role in enumerate(roles):
                ns = f"dr{self.tag}{role[:6]}"
                _ip("netns", "add", ns)
                self.namespaces[role] = ns
                self.addresses[role] = f"10.{subnet}.0.{index + 1}"
                _ip("-n", ns, "link", "set", "lo", "up")
            hub = self.namespaces["coordinator"]
            _ip("-n", hub, "link", "add", "br0", "type", "bridge")
            _ip("-n", hub, "link", "set", "br0", "up")
            for index, role in enumerate(roles):
                ns = self.namespaces[role]
                inner, outer = f"e{index}", f"p{index}"
                _ip("link", "add", inner, "netns", ns, "type", "veth", "peer", "name", outer,
                    "netns", hub)  # fmt: skip
                _ip("-n", hub, "link", "set", outer, "master", "br0")
                _ip("-n", hub, "link", "set", outer, "up")
                _ip("-n", ns, "addr", "add", f"{self.addresses[role]}/24", "dev", inner)
                _ip("-n", ns, "link", "set", inner, "up")
                if self.multicast:
                    _ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", inner)
                self.links[role] = (hub, outer)
        except BaseException:
            self.close()
            raise

    def set_link(self, role: str, up: bool) -> None:
        """Cut (or mend) the cable of ``role``'s machine (its port on the bridge)."""
        ns, veth = self.links[role]
        _ip("-n", ns, "link", "set", veth, "up" if up else "down")

    def close(self) -> list[str]:
        """Delete the namespaces; returns those that are still there (should be none)."""
        for ns in self.namespaces.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                                timeout=10).stdout  # fmt: skip
        return [ns for ns in self.namespaces.values() if ns in listed.split()]
