"""Records what arrives and which `dora` module served it (test_node_hub.py reads the JSON)."""

import json
import os

import dora
from dora import Node

node = Node()
seen = []
for event in node:
    if event["type"] == "INPUT":
        seen.append({"id": event["id"], "value": event["value"].to_pylist()})
record = {
    "dora_file": dora.__file__,
    "node_module": type(node).__module__,
    "node_class": type(node).__qualname__,
    "seen": seen,
}
with open(os.environ["CHECK_OUT"], "w") as f:
    json.dump(record, f)
