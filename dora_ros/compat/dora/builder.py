"""`dora.builder`: build a dataflow YAML from Python, with the API of dora-rs 1.1's module.

with DataflowBuilder("demo") as flow:
    cam = flow.add_node("camera").path("camera.py")
    frames = cam.add_output("image")
    flow.add_node("viewer").path("viewer.py").add_input("image", frames, queue_size=1)
    flow.to_yaml("dataflow.yml")
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["DataflowBuilder", "Node", "Operator", "Output"]

_QUEUE_POLICIES = ("drop_oldest", "backpressure")


class DataflowBuilder:
    """A dataflow being assembled; `to_yaml` writes the dora YAML format."""

    def __init__(self, name: str = "dora-dataflow") -> None:
        self.name = name
        self.nodes: list[Node] = []

    def add_node(self, id: str, **kwargs: Any) -> Node:  # dora-rs's parameter name
        """Add a node; keyword arguments become its YAML keys."""
        node = Node(id, **kwargs)
        self.nodes.append(node)
        return node

    def to_yaml(self, path: str | None = None) -> str | None:
        """The dataflow as YAML text, or written to `path` (then returns None)."""
        text = yaml.safe_dump({"nodes": [node.to_dict() for node in self.nodes]}, sort_keys=False)
        if path is None:
            return text
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
        return None

    def __enter__(self) -> DataflowBuilder:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class Output:
    """An output of a node; `str()` gives the `node/output` form inputs use."""

    def __init__(self, node: Node, output_id: str) -> None:
        self.node = node
        self.output_id = output_id

    def __str__(self) -> str:
        return f"{self.node.id}/{self.output_id}"


class Node:
    """One node of a :class:`DataflowBuilder`; the setters return the node for chaining."""

    def __init__(self, id: str, **kwargs: Any) -> None:  # dora-rs's parameter name
        self.id = id
        self.config: dict[str, Any] = {**kwargs, "id": id}
        self.operators: list[Operator] = []

    def _set(self, key: str, value: Any) -> Node:
        self.config[key] = value
        return self

    def path(self, path: str) -> Node:
        """Set the `.py` file or executable."""
        return self._set("path", path)

    def args(self, args: str) -> Node:
        """Set the command-line arguments."""
        return self._set("args", args)

    def env(self, env: dict[str, Any]) -> Node:
        """Set the environment variables."""
        return self._set("env", env)

    def build(self, build_command: str) -> Node:
        """Set the build command."""
        return self._set("build", build_command)

    def git(
        self, url: str, branch: str | None = None, tag: str | None = None, rev: str | None = None
    ) -> Node:
        """Take the node's sources from a git repository (optionally a branch, tag or commit)."""
        self.config["git"] = url
        for key, value in (("branch", branch), ("tag", tag), ("rev", rev)):
            if value:
                self.config[key] = value
        return self

    def add_operator(self, operator: Operator) -> Node:
        """Attach an operator (kept in the YAML; dora-ros itself runs no operators)."""
        self.operators.append(operator)
        return self

    def add_output(self, output_id: str) -> Output:
        """Declare an output (once) and return it, to pass to `add_input` of another node."""
        outputs = self.config.setdefault("outputs", [])
        if output_id not in outputs:
            outputs.append(output_id)
        return Output(self, output_id)

    def add_input(
        self,
        input_id: str,
        source: str | Output,
        queue_size: int | None = None,
        queue_policy: str | None = None,
    ) -> Node:
        """Add an input from `source` (`"node/output"` or an :class:`Output`).

        Raises:
            ValueError: `queue_size` < 1 or an unknown `queue_policy` (same as dora-rs).
        """
        if queue_policy is not None and queue_policy not in _QUEUE_POLICIES:
            raise ValueError(f"queue_policy must be one of {_QUEUE_POLICIES}, got {queue_policy!r}")
        if queue_size is not None and queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        entry: Any = str(source)
        if queue_size is not None or queue_policy is not None:
            entry = {"source": entry}
            if queue_size is not None:
                entry["queue_size"] = queue_size
            if queue_policy is not None:
                entry["queue_policy"] = queue_policy
        self.config.setdefault("inputs", {})[input_id] = entry
        return self

    def to_dict(self) -> dict[str, Any]:
        """The node's YAML mapping."""
        result = dict(self.config)
        if self.operators:
            result["operators"] = [op.to_dict() for op in self.operators]
        return result


class Operator:
    """An operator of a node (dora-rs concept; written to the YAML as given)."""

    def __init__(
        self,
        id: str,  # dora-rs's parameter name
        name: str | None = None,
        description: str | None = None,
        build: str | None = None,
        python: str | None = None,
        shared_library: str | None = None,
        send_stdout_as: str | None = None,
    ) -> None:
        self.id = id
        self.config: dict[str, Any] = {"id": id}
        optional = {
            "name": name,
            "description": description,
            "build": build,
            "python": python,
            "shared-library": shared_library,
            "send_stdout_as": send_stdout_as,
        }
        self.config.update({key: value for key, value in optional.items() if value})

    def to_dict(self) -> dict[str, Any]:
        """The operator's YAML mapping."""
        return self.config
