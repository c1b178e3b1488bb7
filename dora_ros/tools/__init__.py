"""Everyday tools of the `dora-ros` command line that need no running dataflow.

One module per command, each exposing a click command that ``dora_ros.cli`` imports lazily:

- :mod:`.graph_view` (``dora-ros graph``): a self-contained HTML page or mermaid text of a
  dataflow or a launch file, from the descriptions :mod:`.graph_model` builds and
  :mod:`.graph_layout` lays out and :mod:`.graph_render` draws;
- :mod:`.doctor` (``dora-ros doctor``): what the machine and the environment offer, and what is
  broken;
- :mod:`.scaffold` (``dora-ros new``): a runnable project with a test.
"""

from __future__ import annotations

from ..errors import DoraRosError


class ToolError(DoraRosError):
    """A tool was given bad input: an unknown file kind, a target that exists, a bad name."""


__all__ = ["ToolError"]
