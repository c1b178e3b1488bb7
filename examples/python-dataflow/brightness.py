"""Mean brightness of each frame; the frame is a view over the sender's shared memory."""

import numpy as np
import pyarrow as pa

from dora_ros import Node


def main() -> None:
    node = Node()
    for event in node:
        if event["type"] != "INPUT":
            continue
        meta = event["metadata"]
        pixels = event["value"].to_numpy(zero_copy_only=True)
        image = pixels.reshape(meta["height"], meta["width"], 3)
        node.send_output("mean", pa.array([float(np.mean(image))]), {"frame": meta["frame"]})


if __name__ == "__main__":
    main()
