"""`dora-ros graph`: a picture of a dataflow or of a launch file, as an HTML page or mermaid text.

The page is self-contained (inline SVG laid out here, no script, nothing from the network), unlike
dora-rs's, which loads mermaid from a CDN. ``--mermaid`` prints mermaid text instead, as
``dora graph --mermaid`` does.
"""

from __future__ import annotations

import webbrowser
from pathlib import Path

import click

from . import ToolError

__all__ = ["graph"]

_LAUNCH_SUFFIXES = (".launch.xml", ".launch.py", ".launch.yaml", ".launch.yml")


def _is_launch_file(path: Path) -> bool:
    """Launch files: *.launch.{xml,py,yaml,yml}, any .xml or .py; other files are dataflows."""
    name = path.name.lower()
    return name.endswith((*_LAUNCH_SUFFIXES, ".xml", ".py"))


@click.command(
    epilog="""\b
Examples:
  dora-ros graph dataflow.yml                 # writes dataflow.html next to it
  dora-ros graph dataflow.yml --open          # ... and opens it in the browser
  dora-ros graph dataflow.yml -o /tmp/g.html
  dora-ros graph dataflow.yml --mermaid       # mermaid text on stdout
  dora-ros graph robot.launch.xml speed:=2.0  # the processes a launch file starts
"""
)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("launch_arguments", nargs=-1)
@click.option("--mermaid", is_flag=True, help="Print mermaid flowchart text instead of HTML.")
@click.option("--open", "open_page", is_flag=True, help="Open the page in a web browser.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the page (default: FILE with the suffix .html).",
)
def graph(
    file: Path,
    launch_arguments: tuple[str, ...],
    mermaid: bool,
    open_page: bool,
    output: Path | None,
) -> int:
    """Draw a dataflow (graph.yml) or a launch file's processes as a self-contained HTML page.

    Dataflow nodes, timers, and ROS 2 bridge nodes with their topics and types are boxes; edges
    are labelled with output and input names. A launch file (*.launch.xml/py/yaml) is resolved as
    `dora-ros launch --print` does, without starting anything; name:=value words after it are its
    arguments.
    """
    from .graph_model import view_of_dataflow, view_of_launch
    from .graph_render import to_html, to_mermaid

    if not file.is_file():
        raise ToolError(f"{file}: no such file")
    if _is_launch_file(file):
        from ..launch.command import split_arguments

        positional, arguments = split_arguments(launch_arguments)
        if positional:
            raise ToolError(
                f"unexpected argument '{positional[0]}' (launch arguments are name:=value)"
            )
        view = view_of_launch(file, arguments)
    else:
        if launch_arguments:
            raise ToolError(
                f"unexpected argument '{launch_arguments[0]}' (only launch files take arguments)"
            )
        view = view_of_dataflow(file)
    if mermaid:
        click.echo(to_mermaid(view), nl=False)
        return 0
    target = output if output is not None else file.with_name(_stem(file) + ".html")
    try:
        target.write_text(to_html(view), encoding="utf-8")
    except OSError as err:
        raise ToolError(f"{target}: cannot write: {err.strerror or err}") from err
    click.echo(f"{target}: {len(view.boxes)} boxes, {len(view.edges)} edges")
    if open_page and not webbrowser.open(target.resolve().as_uri()):
        raise ToolError(f"{target}: no web browser to open it with (open the file by hand)")
    return 0


def _stem(file: Path) -> str:
    name = file.name
    for suffix in (*_LAUNCH_SUFFIXES, ".yml", ".yaml", ".xml", ".py"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] + (".launch" if suffix.startswith(".launch") else "")
    return file.stem
