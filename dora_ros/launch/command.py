"""`dora-ros launch`: find a launch file, resolve it completely, then run or print it.

Everything is resolved (files parsed, arguments checked, substitutions performed) before the
first process starts, so a bad launch file starts nothing and fails with one line.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from typing import Any

import click

from .errors import LaunchFileError, NotFoundError

__all__ = ["find_launch_file", "format_plan", "launch", "split_arguments"]


def split_arguments(words: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Positional words and `name:=value` launch arguments."""
    positional: list[str] = []
    arguments: dict[str, str] = {}
    for word in words:
        name, sep, value = word.partition(":=")
        if sep:
            if not name:
                raise LaunchFileError(f"launch argument '{word}' has no name")
            arguments[name] = value
        else:
            positional.append(word)
    return positional, arguments


def find_launch_file(positional: Sequence[str]) -> str:
    """`<path>` or `<package> <file>` (looked up in `share/<package>/launch/`, then below share)."""
    if len(positional) == 1:
        path = positional[0]
        if not os.path.isfile(path):
            raise NotFoundError(f"launch file '{path}' not found")
        return path
    if len(positional) != 2:
        raise click.UsageError("expected <package> <launch file> or <path to launch file>")
    package, name = positional
    from .substitutions import _package_prefix

    share = os.path.join(_package_prefix(package), "share", package)
    candidate = os.path.join(share, "launch", name)
    if os.path.isfile(candidate):
        return candidate
    for folder, _, files in os.walk(share):
        if name in files:
            return os.path.join(folder, name)
    raise NotFoundError(f"launch file '{name}' not found in package '{package}' ({share})")


def format_plan(
    steps: Sequence[Any], indent: str = "", generated_dir: str | None = None
) -> list[str]:
    """The resolved description as text: every process with command line, env and namespace.

    Parameter files the launch generated in `generated_dir` (a node's inline parameters, a file
    read with substitutions) are removed when the command ends, so the command line names them
    `<params N>` and their parameters are listed below it, one per line as components' are.
    """
    from .composition import LoadComponents
    from .lifecycle import LifecycleRequest
    from .plan import Log, RegisterHandler, RequestShutdown, StartProcess, StartTimer

    lines: list[str] = []
    for step in steps:
        if isinstance(step, StartProcess):
            spec = step.spec
            title = f"{indent}process {spec.name}"
            if spec.ros_node is not None:
                node, namespace = spec.ros_node
                title += f"  (ROS node {node or '<default name>'}, namespace {namespace})"
            if spec.dora_nodes is not None:
                title += f"  (dora graph, nodes: {', '.join(spec.dora_nodes)})"
            lines.append(title)
            cmd, generated = _name_generated_files(spec.cmd, generated_dir)
            lines.append(f"{indent}  cmd: {' '.join(cmd)}")
            for number, path in enumerate(generated, 1):
                lines.extend(_describe_params_file(number, path, indent + "  "))
            if spec.cwd:
                lines.append(f"{indent}  cwd: {spec.cwd}")
            for key, value in spec.additional_env.items():
                lines.append(f"{indent}  env: {key}={value}")
            for key in spec.unset_env:
                lines.append(f"{indent}  env: {key} unset")
            extras = [f"output={spec.output}"]
            if spec.respawn:
                extras.append(
                    f"respawn (delay {spec.respawn_delay} s, max retries {spec.respawn_max_retries})"
                )
            if spec.shutdown_on_exit:
                extras.append("on_exit=shutdown")
            extras.append(f"sigterm_timeout={spec.sigterm_timeout}")
            extras.append(f"sigkill_timeout={spec.sigkill_timeout}")
            lines.append(f"{indent}  {', '.join(extras)}")
            if spec.location is not None:
                lines.append(f"{indent}  from: {spec.location}")
        elif isinstance(step, StartTimer):
            lines.append(f"{indent}after {step.period} s:")
            lines.extend(format_plan(step.steps, indent + "  ", generated_dir))
        elif isinstance(step, RegisterHandler):
            target = getattr(step.handler.target_action, "location", None)
            lines.append(
                f"{indent}event handler {type(step.handler).__name__}"
                + (f" (target from {target})" if target else "")
            )
        elif isinstance(step, Log):
            level = "" if step.level == "INFO" else f" ({step.level})"
            lines.append(f"{indent}log{level}: {step.message}")
        elif isinstance(step, LoadComponents):
            for component in step.components:
                lines.append(f"{indent}load component {component.describe()} into {step.container}")
                if component.remap_rules:
                    lines.append(f"{indent}  remaps: {' '.join(component.remap_rules)}")
                for name, value in component.parameters:
                    lines.append(f"{indent}  param: {name}={value!r}")
                for name, value in component.extra_arguments:
                    lines.append(f"{indent}  extra argument: {name}={value!r}")
                if component.location is not None:
                    lines.append(f"{indent}  from: {component.location}")
        elif isinstance(step, LifecycleRequest):
            lines.append(f"{indent}{step.describe()}")
        elif isinstance(step, RequestShutdown):
            lines.append(f"{indent}shutdown: {step.reason}")
    return lines


def _name_generated_files(
    cmd: Sequence[str], generated_dir: str | None
) -> tuple[list[str], list[str]]:
    """`cmd` as shell words, each generated parameter file as `<params N>`, and those files."""
    if generated_dir is None:
        return [shlex.quote(word) for word in cmd], []
    folder = os.path.join(os.path.abspath(generated_dir), "")
    shown: list[str] = []
    generated: list[str] = []
    for word in cmd:
        if os.path.abspath(word).startswith(folder) and os.path.isfile(word):
            generated.append(word)
            shown.append(f"<params {len(generated)}>")
        else:
            shown.append(shlex.quote(word))
    return shown, generated


def _describe_params_file(number: int, path: str, indent: str) -> list[str]:
    import yaml

    with open(path, encoding="utf-8") as f:
        content = yaml.safe_load(f) or {}
    lines: list[str] = []
    for node, section in content.items() if isinstance(content, dict) else ():
        params = section.get("ros__parameters", {}) if isinstance(section, dict) else {}
        lines.append(f"{indent}params {number} (for {node}):")
        for name, value in _flatten(params):
            lines.append(f"{indent}  param: {name}={value!r}")
    return lines


def _flatten(params: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested parameter maps as ROS 2 reads them: `{a: {b: 1}}` is parameter `a.b`."""
    if not isinstance(params, dict):
        return [(prefix, params)] if prefix else []
    out: list[tuple[str, Any]] = []
    for key, value in params.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        out.extend(_flatten(value, name) if isinstance(value, dict) else [(name, value)])
    return out


def _warn_undeclared(arguments: dict[str, str], context: Any) -> None:
    """One warning line per command-line argument that no launch file declares or reads.

    ROS 2 accepts such an argument silently; a misspelled one then changes nothing.
    """
    from .entity import did_you_mean

    declared = [arg.name for arg in context.shared.declared_arguments]
    for name, value in arguments.items():
        if name not in declared and name not in context.shared.read_configurations:
            context.log_warning(
                f"launch argument '{name}:={value}' is not declared by the launch file or the "
                f"files it includes{did_you_mean(name, declared)}; it is passed on as given"
            )


def _show_arguments(description: Any) -> None:
    declared = description.get_launch_arguments()
    if not declared:
        click.echo("No arguments.")
        return
    click.echo("Arguments (pass arguments as '<name>:=<value>'):\n")
    for arg in declared:
        click.echo(f"    '{arg.name}':")
        click.echo(f"        {arg.description}")
        if arg.choices is not None:
            click.echo(f"        Valid choices are: {arg.choices}")
        if arg.default_value is None:
            click.echo("        (required)")
        else:
            text = "".join(
                s.describe() if not hasattr(s, "text") else s.text for s in arg.default_value
            )
            click.echo(f"        (default: '{text}')")
        click.echo("")


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1, type=click.UNPROCESSED)
@click.option(
    "-s",
    "--show-args",
    "--show-arguments",
    "show_args",
    is_flag=True,
    help="List the launch file's arguments with defaults and descriptions.",
)
@click.option(
    "-p",
    "--print",
    "--print-description",
    "print_only",
    is_flag=True,
    help="Show every process (command line, env, namespace) without starting any.",
)
@click.option(
    "--eval",
    "evaluate",
    is_flag=True,
    help="With --print: also run $(command ...) substitutions (they are shown, not run, otherwise).",
)
@click.option(
    "-d", "--debug", is_flag=True, help="Show tracebacks for errors and each command as it starts."
)
def launch(
    words: tuple[str, ...], show_args: bool, print_only: bool, evaluate: bool, debug: bool
) -> int:
    """Start a ROS 2 launch file (XML, YAML, Python): PACKAGE FILE or PATH, then name:=value."""
    from .action import visit
    from .context import LaunchContext
    from .errors import LaunchError
    from .executor import Launcher, default_log_dir
    from .frontend_python import python_launch_api
    from .launch_description_sources import load_launch_file

    positional, arguments = split_arguments(words)
    path = find_launch_file(positional)
    context = LaunchContext(launch_arguments=arguments)
    log_dir = default_log_dir()
    context.shared.log_dir = str(log_dir)
    context.shared.run_commands = evaluate or not print_only
    context.shared.printing = print_only
    try:
        with python_launch_api():
            try:
                description = load_launch_file(path)
                if show_args:
                    _show_arguments(description)
                    return 0
                visit(description, context)
                _warn_undeclared(arguments, context)
            except LaunchError:
                if debug:
                    import traceback

                    traceback.print_exc()
                raise
            if print_only:
                for line in format_plan(
                    context.steps, generated_dir=context.shared.existing_temp_dir
                ):
                    click.echo(line)
                for note in context.shared.notes:
                    click.echo(f"note: {note}")
                return 0
            return Launcher(log_dir, debug=debug).run(context.steps)
    finally:
        context.shared.remove_temp_dir()
        sys.stdout.flush()
