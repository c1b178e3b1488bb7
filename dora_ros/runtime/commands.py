"""The `dora-ros run`, `validate` and `build` commands (click), thin wrappers over the runtime.

A :class:`~dora_ros.errors.DoraRosError` raised here is printed by ``dora_ros.cli`` as one line
(``error: graph.yml:14: node 'camera': ...``) with exit status 1.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import click

from .descriptor import load_dataflow
from .descriptor_sources import LOG_LEVELS
from .node_logs import ENV_LOG_LEVEL

__all__ = ["build", "expand", "parse_duration", "run", "validate"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str) -> float:
    """Seconds in ``10s``, ``500ms``, ``2m``, ``1h`` or ``1.5`` (plain seconds)."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"invalid duration '{text}' (use e.g. 10s, 500ms, 2m or 1.5)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


class _Duration(click.ParamType):
    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as err:
            self.fail(str(err), param, ctx)


_graph = click.argument("graph", type=click.Path(dir_okay=False, path_type=Path))


@click.command()
@_graph
@click.option(
    "--stop-after",
    type=_Duration(),
    default=None,
    help="Stop after a duration: 10s, 500ms, 2m, 1.5.",
)
@click.option(
    "--name",
    default=None,
    help="Name of the run: out/<name> links to its log folder (out/latest always does).",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Folder for per-node logs (out/<dataflow-id>/log_<node>.txt).",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    envvar=ENV_LOG_LEVEL,
    default=None,
    help="Lowest level of node log records shown and written (default stdout: everything).",
)
@click.option(
    "--uv",
    is_flag=True,
    help="Start `path:` nodes through `uv run` (as `dora run --uv`): `uv run python -u x.py`.",
)
def run(
    graph: Path, stop_after: float | None, name: str | None, out_dir: Path,
    log_level: str | None, uv: bool,
) -> int:  # fmt: skip
    """Run a dataflow graph until it ends or is stopped.

    \b
    Example:
      $ dora-ros run graph.yml --stop-after 10s --name demo
    """
    dataflow = load_dataflow(graph)
    if log_level is not None:
        # Nodes filter their own records (node_logs): they read it from their environment.
        os.environ[ENV_LOG_LEVEL] = log_level.lower()
    from .build import find_uv

    uv_path = find_uv() if uv else None
    if uv and uv_path is None:
        click.echo(
            f"dora-ros: --uv: uv is not installed (not on PATH, not next to {sys.executable}):"
            f" nodes run with {sys.executable} instead (`pip install uv` to use it)",
            err=True,
        )
    from .supervisor import run_dataflow  # imported lazily: validate/build need none of it

    return run_dataflow(dataflow, stop_after=stop_after, out_dir=out_dir, name=name, uv=uv_path)


@click.command()
@_graph
def validate(graph: Path) -> int:
    """Check a dataflow graph without running it.

    \b
    Example:
      $ dora-ros validate graph.yml
      graph.yml: ok (3 nodes)
    """
    dataflow = load_dataflow(graph)
    count = len(dataflow.nodes)
    click.echo(f"{graph}: ok ({count} node{'s' if count != 1 else ''})")
    return 0


@click.command()
@_graph
@click.option("--uv", is_flag=True, help="Run `pip` lines through `uv pip` (as `dora build --uv`).")
def build(graph: Path, uv: bool) -> int:
    """Run the `build` lines of each node of a graph.

    \b
    Example:
      $ dora-ros build graph.yml --uv
    """
    from .build import build_dataflow
    from .console import colour_enabled

    colour = colour_enabled(sys.stdout)
    count = build_dataflow(load_dataflow(graph), uv=uv, echo=click.echo, colour=colour)
    click.echo(f"{graph}: built ({count} command{'s' if count != 1 else ''})")
    return 0


@click.command()
@_graph
@click.option("--module", "module", is_flag=True, help="Validate a module file on its own instead.")
def expand(graph: Path, module: bool) -> int:
    """Print a graph with its `module:` nodes expanded, as `dora expand` does.

    \b
    Example:
      $ dora-ros expand graph.yml > flat.yml
    """
    import yaml

    from .node_descriptor import normalise_descriptor

    if module:
        from .descriptor_modules import check_module_file

        check_module_file(graph)
        click.echo(f"Module file is valid: {graph}")
        return 0

    # The flat graph as dora-rs 1.1 writes it (every key with its default), which
    # `dora-ros run` and `dora run` both accept.
    flat = normalise_descriptor(load_dataflow(graph).raw)
    click.echo(yaml.safe_dump(flat, sort_keys=False, allow_unicode=True), nl=False)
    return 0
