"""`<dora graph=.../>`, `dora: {graph: ...}`, `DoraDataflow(graph=...)`: a dora-ros dataflow.

The graph runs as ``python -m dora_ros.cli run <graph>``, one process the launch supervises like
any other: on shutdown it gets SIGINT (the runtime then stops its nodes: STOP, grace, SIGTERM,
SIGKILL), then SIGTERM and SIGKILL after the launch's timeouts. Substitutions work in the graph path
and in `env` entries, which reach every node of the graph through the runtime's environment.
A relative graph path is looked up next to the launch file first, then in the working directory.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from .action import Action, register
from .actions.execute_process import ExecuteProcess
from .errors import LaunchFileError, NotFoundError
from .substitutions import normalize, perform

if TYPE_CHECKING:
    from .context import LaunchContext
    from .entity import Entity
    from .frontend import FrontendParser

__all__ = ["DoraDataflow"]


@register("dora")
class DoraDataflow(ExecuteProcess):
    """Start the dora-ros dataflow `graph` (a path, substitutions allowed)."""

    def __init__(self, *, graph: Any, output: Any = "screen", **kwargs: Any) -> None:
        super().__init__(cmd=None, output=output, **kwargs)
        self.graph = normalize(graph)

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        kwargs = cls.parse_process(entity, parser)
        return cls(graph=parser.parse_substitution(entity.get_attr("graph")), **kwargs)

    def _graph_path(self, context: LaunchContext) -> str:
        path = os.path.expanduser(perform(context, self.graph))
        if not os.path.isabs(path) and context.current_file is not None:
            beside = os.path.join(os.path.dirname(context.current_file), path)
            if os.path.exists(beside):
                path = beside
        if not os.path.isfile(path):
            raise NotFoundError(f"dora graph '{path}' not found")
        return os.path.abspath(path)

    def resolve_command(self, context: LaunchContext) -> list[str]:
        from ..errors import DoraRosError
        from ..runtime.descriptor import load_dataflow

        path = self._graph_path(context)
        try:
            dataflow = load_dataflow(path)
        except DoraRosError as err:
            raise LaunchFileError(f"dora graph: {err}") from None
        self._node_ids = tuple(node.id for node in dataflow.nodes)
        cmd = [sys.executable, "-m", "dora_ros.cli", "run", path]
        if context.shared.log_dir is not None:
            cmd += ["--out-dir", os.path.join(context.shared.log_dir, "dora")]
        return cmd

    def process_base_name(self, context: LaunchContext, cmd: list[str]) -> str:
        return perform(context, self.name) if self.name is not None else "dora"

    def spec_extras(self, context: LaunchContext) -> dict[str, Any]:
        return {"dora_nodes": self._node_ids}
