"""Sends 6.2 MB frames of noise (1080p rgb8-sized uint8 arrays) as fast as it can until stopped,
then prints how many: a recorder's writer is behind all along, and when STOP comes."""

import numpy as np
import pyarrow as pa

from dora_ros import Node


def main() -> None:
    rng = np.random.default_rng(7)
    frames = [rng.integers(0, 256, 1920 * 1080 * 3, dtype=np.uint8) for _ in range(4)]
    node = Node()
    sent = 0
    while True:
        event = node.next(timeout=0.001)  # an ERROR event when nothing came: send on
        if event is None or event["type"] == "STOP":
            break
        node.send_output("frame", pa.array(frames[sent % 4]), {"seq": sent})
        sent += 1
    print(f"sent {sent}", flush=True)


if __name__ == "__main__":
    main()
