"""Sends COUNT rounds (COUNT=0: until stopped) of known values on three outputs, one per tick.

numbers: int64 [i, 2i] with metadata {"seq": i, "label": "n"}; nested: a struct row with a list
and a string; image: 200000 uint8 (i + k) % 256 (large: through shared memory).
"""

import os

import numpy as np
import pyarrow as pa

from dora_ros import Node

COUNT = int(os.environ.get("COUNT", "20"))
NESTED = pa.struct([("name", pa.string()), ("points", pa.list_(pa.float32()))])


def main() -> None:
    node = Node()
    i = 0
    for event in node:
        if event["type"] != "INPUT":
            continue
        node.send_output("numbers", pa.array([i, 2 * i], pa.int64()), {"seq": i, "label": "n"})
        row = {"name": f"p{i}", "points": [float(i), i + 0.5]}
        node.send_output("nested", pa.array([row], NESTED), {"seq": i})
        image = ((np.arange(200_000) + i) % 256).astype(np.uint8)
        node.send_output("image", pa.array(image), {"seq": i, "encoding": "mono8"})
        i += 1
        if COUNT and i >= COUNT:
            break


if __name__ == "__main__":
    main()
