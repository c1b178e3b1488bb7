"""Helpers of the tools tests: the real console script, a headless Chromium, PNG pixels."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DORA_ROS = str(Path(sys.executable).with_name("dora-ros"))
# Debian's packages (`make test` installs them); selenium's own driver download cannot work here
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def dora_ros(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`dora-ros ARGS` in `cwd`, output captured as text."""
    return subprocess.run(
        [DORA_ROS, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )


def start_browser() -> Any:
    """A headless Chromium driven by selenium; fails (never skips) when it is not installed."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (os.path.isfile(p) or shutil.which(p))]
    assert not missing, (
        f"{', '.join(missing)} missing: `make test` installs Debian's chromium and chromium-driver "
        "(apt-get install chromium chromium-driver)"
    )
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # we run as root in CI
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,900",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def png_pixels(data: bytes) -> np.ndarray:
    """The pixels of an 8-bit RGB(A) non-interlaced PNG (what Chromium's screenshots are).

    Written out here so the check of the screenshot needs no imaging library.
    """
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, idat, header = 8, b"", None
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    out = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.int32)
    for row in range(height):
        kind = raw[row * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, row * (stride + 1) + 1).astype(np.int32)
        if kind == 0:
            current = line
        elif kind == 2:
            current = (line + previous) & 0xFF
        else:  # Sub, Average, Paeth depend on the pixel to the left: byte by byte
            current = np.zeros(stride, dtype=np.int32)
            for i in range(stride):
                left = current[i - channels] if i >= channels else 0
                up = previous[i]
                if kind == 1:
                    predictor = left
                elif kind == 3:
                    predictor = (left + up) // 2
                else:
                    upper_left = previous[i - channels] if i >= channels else 0
                    p = left + up - upper_left
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
                    predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else upper_left)
                current[i] = (line[i] + predictor) & 0xFF
        out[row] = current
        previous = current
    return out.reshape(height, width, channels)
