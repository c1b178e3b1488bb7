"""Writes one JSON line per input to $OUT: input id, value (a flat image as its length and
SHA-256), metadata without the timestamp."""

import hashlib
import json
import os

import pyarrow as pa

from dora_ros import Node


def main() -> None:
    with open(os.environ["OUT"], "w") as out:
        for event in Node():
            if event["type"] != "INPUT":
                continue
            value = event["value"]
            if event["id"] == "image" and not isinstance(value, pa.StructArray):
                data = value.to_numpy(zero_copy_only=False)
                shown = [len(data), hashlib.sha256(data.tobytes()).hexdigest()]
            else:
                shown = value.to_pylist()
            metadata = {k: v for k, v in event["metadata"].items() if k != "timestamp"}
            line = {"id": event["id"], "type": str(value.type), "value": shown, "meta": metadata}
            out.write(json.dumps(line) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
