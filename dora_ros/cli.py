"""The `dora-ros` command line: thin, lazy, and one line per user error.

Each subcommand lives with its subsystem (``dora_ros.runtime.commands``, ``dora_ros.launch.command``)
and is imported only when invoked, so ``dora-ros --help`` does not import pyarrow or rclpy.
"""

from __future__ import annotations

import importlib
import sys

import click

# name -> (module, attribute, one-line help). The help is repeated here so --help needs no import.
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": (
        "dora_ros.runtime.commands",
        "run",
        "Run a dataflow graph until it ends or is stopped.",
    ),
    "validate": (
        "dora_ros.runtime.commands",
        "validate",
        "Check a dataflow graph without running it.",
    ),
    "build": (
        "dora_ros.runtime.commands",
        "build",
        "Run the `build` lines of each node of a graph.",
    ),
    "expand": (
        "dora_ros.runtime.commands",
        "expand",
        "Print a graph with its `module:` nodes expanded, as `dora expand` does.",
    ),
    "launch": (
        "dora_ros.launch.command",
        "launch",
        "Start a ROS 2 launch file (XML, YAML, Python).",
    ),
    "graph": (
        "dora_ros.tools.graph_view",
        "graph",
        "Draw a dataflow or launch file as a self-contained HTML page (or mermaid).",
    ),
    "doctor": (
        "dora_ros.tools.doctor",
        "doctor",
        "Check Python, packages, the ROS 2 environment, /dev/shm and socket buffers.",
    ),
    "new": (
        "dora_ros.tools.scaffold",
        "new",
        "Create a runnable dataflow or node project with a test.",
    ),
    "record": (
        "dora_ros.tools.record",
        "record",
        "Run a graph and record its outputs (and bridged ROS topics) into an MCAP file.",
    ),
    "replay": (
        "dora_ros.tools.replay",
        "replay",
        "Run a graph with recorded outputs (MCAP) in place of some of its nodes.",
    ),
    "topic": (
        "dora_ros.tools.topic",
        "topic",
        "List, echo, measure, describe and publish topics (ROS 2 topics with --ros).",
    ),
    "coordinator": (
        "dora_ros.cluster.commands",
        "coordinator",
        "Run the coordinator in the foreground (multi-machine setups).",
    ),
    "daemon": (
        "dora_ros.cluster.commands",
        "daemon",
        "Run a machine's daemon in the foreground.",
    ),
    "up": (
        "dora_ros.cluster.commands",
        "up",
        "Start a coordinator and a daemon in the background.",
    ),
    "down": (
        "dora_ros.cluster.commands",
        "down",
        "Stop the coordinator and its daemons.",
    ),
    "start": (
        "dora_ros.cluster.commands",
        "start",
        "Start a dataflow on the coordinator's daemons.",
    ),
    "stop": (
        "dora_ros.cluster.commands",
        "stop",
        "Stop a dataflow started with `start`.",
    ),
    "list": (
        "dora_ros.cluster.commands",
        "list_",
        "List the coordinator's dataflows.",
    ),
    "logs": (
        "dora_ros.cluster.commands",
        "logs",
        "Show the node logs of a dataflow started with `start`.",
    ),
    "restart": (
        "dora_ros.cluster.commands",
        "restart",
        "Stop a dataflow and start it again from its stored descriptor.",
    ),
    "node": (
        "dora_ros.tools.node_cmd",
        "node",
        "Nodes of running dataflows: list, info, restart, stop.",
    ),
    "top": (
        "dora_ros.tools.top",
        "top",
        "Per node CPU, memory, messages per second and drops, live (as `inspect top`).",
    ),
    "inspect": (
        "dora_ros.tools.top",
        "inspect",
        "Inspect running dataflows in real time (`inspect top`).",
    ),
    "param": (
        "dora_ros.tools.param_cmd",
        "param",
        "List, get, set and delete parameters of a running node.",
    ),
    "status": (
        "dora_ros.cluster.commands",
        "status",
        "Show the coordinator, its daemons and versions.",
    ),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr, _ = entry
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, _, help_text) in sorted(_COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dora-ros")
def cli() -> None:
    """dora-ros: run dataflow graphs of Python and ROS 2 nodes."""


def main(argv: list[str] | None = None) -> None:
    """Console entry point: a DoraRosError becomes one line on stderr and exit status 1.

    A command may return an int: it becomes the exit status.
    """
    from .errors import DoraRosError

    try:
        result = cli.main(args=argv, standalone_mode=False)
        sys.exit(result if isinstance(result, int) else 0)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    except DoraRosError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
