"""Helpers of the Cyclone DDS backend, graph and Jazzy tests.

- A slow, obviously correct CDR writer/reader for the few types these tests send by hand
  (`std_msgs/String`, `sensor_msgs/Image`), so the backend's byte path is checked independently of
  msgconv's generated codecs.
- `PythonPeer`: a peer script (B1's `peers/*.py` or ours) run by any Python: the main venv's
  (ROS 2 Kilted) or `.venv-jazzy`'s (ROS 2 Jazzy).
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ros_peers import PEERS, Peer

HERE = Path(__file__).parent
REPO = HERE.parents[1]
JAZZY_PYTHON = REPO / ".venv-jazzy" / "bin" / "python"
HEADER = b"\x00\x01\x00\x00"  # CDR little-endian, no options


class CdrWriter:
    """Plain CDR (XCDR1) little-endian; alignment counts from the body start, after the header."""

    def __init__(self) -> None:
        self.body = bytearray()

    def align(self, n: int) -> None:
        self.body += b"\0" * (-len(self.body) % n)

    def u8(self, v: int) -> None:
        self.body += struct.pack("<B", v)

    def u32(self, v: int) -> None:
        self.align(4)
        self.body += struct.pack("<I", v)

    def i32(self, v: int) -> None:
        self.align(4)
        self.body += struct.pack("<i", v)

    def string(self, s: str) -> None:
        raw = s.encode() + b"\0"  # length counts the terminating NUL
        self.u32(len(raw))
        self.body += raw

    def octets(self, data: bytes | memoryview) -> None:
        self.u32(len(data))
        self.body += data

    def message(self) -> bytes:
        return HEADER + bytes(self.body)


class CdrReader:
    def __init__(self, data: bytes) -> None:
        assert data[:2] == b"\x00\x01", f"not little-endian plain CDR: {data[:4]!r}"
        self.body = memoryview(data)[4:]
        self.pos = 0

    def align(self, n: int) -> None:
        self.pos += -self.pos % n

    def u8(self) -> int:
        self.pos += 1
        return self.body[self.pos - 1]

    def u32(self) -> int:
        self.align(4)
        (v,) = struct.unpack_from("<I", self.body, self.pos)
        self.pos += 4
        return int(v)

    def i32(self) -> int:
        self.align(4)
        (v,) = struct.unpack_from("<i", self.body, self.pos)
        self.pos += 4
        return int(v)

    def string(self) -> str:
        n = self.u32()
        raw = bytes(self.body[self.pos : self.pos + n])
        self.pos += n
        assert raw.endswith(b"\0"), raw
        return raw[:-1].decode()

    def octets(self) -> memoryview:
        n = self.u32()
        self.pos += n
        return self.body[self.pos - n : self.pos]


def cdr_string(text: str) -> bytes:
    """std_msgs/msg/String {data}."""
    w = CdrWriter()
    w.string(text)  # data
    return w.message()


def parse_string(data: bytes) -> str:
    return CdrReader(data).string()


def cdr_image(
    width: int, height: int, encoding: str, pixels: bytes, frame_id: str = "", sec: int = 0
) -> bytes:
    """sensor_msgs/msg/Image with one byte per channel (`step` = len(pixels) / height)."""
    w = CdrWriter()
    w.i32(sec)  # header.stamp.sec
    w.u32(0)  # header.stamp.nanosec
    w.string(frame_id)  # header.frame_id
    w.u32(height)  # height
    w.u32(width)  # width
    w.string(encoding)  # encoding
    w.u8(0)  # is_bigendian
    w.u32(len(pixels) // height)  # step
    w.octets(pixels)  # data (uint8[])
    return w.message()


def parse_image(data: bytes) -> dict[str, Any]:
    r = CdrReader(data)
    out: dict[str, Any] = {"sec": r.i32(), "nanosec": r.u32(), "frame_id": r.string()}
    out["height"], out["width"], out["encoding"] = r.u32(), r.u32(), r.string()
    out["is_bigendian"], out["step"], out["data"] = r.u8(), r.u32(), r.octets()
    return out


class PythonPeer(Peer):
    """`Peer` (see ros_peers.py) run by a chosen Python, from `peers/` or from this folder."""

    def __init__(
        self, script: str, config: dict[str, Any], domain: int, python: Path | str = sys.executable
    ) -> None:
        folder = PEERS if (PEERS / script).exists() else HERE
        super().__init__(script, config, domain, python=python, folder=folder)


@contextmanager
def python_peer(
    script: str, config: dict[str, Any], domain: int, python: Path | str = sys.executable
) -> Iterator[PythonPeer]:
    running = PythonPeer(script, config, domain, python)
    try:
        running.ready()
        yield running
    finally:
        running.stop()
