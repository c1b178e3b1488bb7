"""Fake camera: one 640x480 RGB frame per tick, written in place into shared memory."""

import os

import numpy as np

from dora_ros import Node

HEIGHT, WIDTH = 480, 640


def main() -> None:
    node = Node()
    frames = int(os.environ.get("FRAMES", "60"))
    for count, event in enumerate(node):
        if event["type"] != "INPUT":
            continue
        size = HEIGHT * WIDTH * 3
        metadata = {"width": WIDTH, "height": HEIGHT, "encoding": "rgb8", "frame": count}
        with node.send_output_raw("image", size, metadata) as buffer:
            image = np.frombuffer(buffer, np.uint8).reshape(HEIGHT, WIDTH, 3)
            image[:] = count % 256  # a real camera driver would write its frame here
            del image  # as with dora-rs, no view may outlive the block: the send refuses then
        if count + 1 >= frames:
            break


if __name__ == "__main__":
    main()
