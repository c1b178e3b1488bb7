"""`<executable>` / `ExecuteProcess`: start a process; the base of `Node` and `DoraDataflow`."""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..action import Action, register
from ..entity import ENTITIES, to_bool
from ..errors import LaunchFileError, NotFoundError
from ..event_handlers import OnProcessExit
from ..plan import ProcessSpec, RegisterHandler, StartProcess
from ..substitutions import LaunchConfiguration, Substitution, perform

if TYPE_CHECKING:
    from ..context import LaunchContext
    from ..entity import Entity
    from ..frontend import FrontendParser

_OUTPUTS = ("screen", "log", "both")


class CommandLine:
    """A command line as written in XML/YAML, split into words when parsed, as ROS 2 splits it.

    Only the literal text is split (with shell quoting rules); a substitution's value is never
    split, so `args="$(var x)"` is one word even when `x` holds spaces or quotes.
    """

    def __init__(self, substitutions: list[Substitution]) -> None:
        self.words = split_command_line(substitutions)

    def perform(self, context: LaunchContext) -> list[str]:
        return [perform(context, word) for word in self.words]


def split_command_line(substitutions: list[Substitution]) -> list[list[Substitution]]:
    """Words of a command line: text split at unquoted spaces, substitutions kept whole."""
    from ..substitutions import TextSubstitution

    words: list[list[Substitution]] = []
    word: list[Substitution] = []
    for sub in substitutions:
        if not isinstance(sub, TextSubstitution):
            word.append(sub)
            continue
        try:
            tokens = shlex.split(sub.text)
        except ValueError as err:
            raise LaunchFileError(f"command line text '{sub.text}': {err}") from None
        if not tokens:
            if word:
                words.append(word)
                word = []
            continue
        if sub.text[0].isspace() and word:
            words.append(word)
            word = []
        word.append(TextSubstitution(text=tokens[0]))
        for token in tokens[1:]:
            words.append(word)
            word = [TextSubstitution(text=token)]
        if sub.text[-1].isspace():
            words.append(word)
            word = []
    if word:
        words.append(word)
    return words


def perform_command(context: LaunchContext, cmd: Any) -> list[str]:
    """Perform a Python-API command (each item one word) or a front-end CommandLine."""
    if cmd is None:
        return []
    if isinstance(cmd, CommandLine):
        return cmd.perform(context)
    if isinstance(cmd, (str, Substitution)):
        cmd = [cmd]
    words: list[str] = []
    for item in cmd:
        if isinstance(item, CommandLine):
            words.extend(item.perform(context))
        else:
            words.append(perform(context, item))
    return words


def _check_executable(program: str, path: str | None, cwd: str | None) -> None:
    """Fail before anything starts if `program` cannot be run."""
    if os.sep in program:
        full = os.path.join(cwd or os.getcwd(), program)
        if not (os.path.isfile(full) and os.access(full, os.X_OK)):
            raise NotFoundError(f"executable '{program}' not found or not executable")
    elif shutil.which(program, path=path) is None:
        raise NotFoundError(f"executable '{program}' not found on the PATH")


# ROS 2's other output values, as the nearest of ours (stderr always reaches the screen here).
_OUTPUT_ALIASES = {"own_log": "log", "full": "both"}


def _output(context: LaunchContext, value: Any) -> str:
    """`output`: a value, or ROS 2's per-stream mapping ({'stdout': 'screen', 'stderr': 'log'}),
    where what stdout gets decides (stderr is always shown)."""
    if isinstance(value, Mapping):
        streams = {k: perform(context, v) for k, v in value.items()}
        text = streams.get("stdout", streams.get("both", "log"))
    else:
        text = perform(context, value)
    text = _OUTPUT_ALIASES.get(text, text)
    if text not in _OUTPUTS:
        raise LaunchFileError(f"output must be one of {', '.join(_OUTPUTS)}, got '{text}'")
    return text


def _float(context: LaunchContext, value: Any, what: str) -> float:
    text = perform(context, value) if not isinstance(value, (int, float)) else value
    try:
        number = float(text)
    except ValueError:
        raise LaunchFileError(f"{what} must be a number, got '{text}'") from None
    if number < 0:
        raise LaunchFileError(f"{what} must not be negative, got {number}")
    return number


@register("executable")
class ExecuteProcess(Action):
    def __init__(
        self,
        *,
        cmd: Any = None,
        name: Any = None,
        cwd: Any = None,
        env: Mapping[Any, Any] | None = None,
        additional_env: Mapping[Any, Any] | None = None,
        shell: bool = False,
        output: Any = "log",
        respawn: Any = False,
        respawn_delay: float | None = None,
        respawn_max_retries: int = -1,
        on_exit: Any = None,
        prefix: Any = None,
        sigterm_timeout: Any = None,
        sigkill_timeout: Any = None,
        emulate_tty: bool = False,
        log_cmd: bool = False,
        cached_output: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.cmd = cmd
        self.name = name
        self.cwd = cwd
        self.env = env
        self.additional_env = additional_env
        self.shell = shell
        self.output = output
        self.respawn = respawn
        self.respawn_delay = respawn_delay
        self.respawn_max_retries = respawn_max_retries
        self.on_exit = on_exit
        self.prefix = prefix
        self.sigterm_timeout = (
            LaunchConfiguration("sigterm_timeout", default="5")
            if sigterm_timeout is None
            else sigterm_timeout
        )
        self.sigkill_timeout = (
            LaunchConfiguration("sigkill_timeout", default="5")
            if sigkill_timeout is None
            else sigkill_timeout
        )

    # -- front ends --------------------------------------------------------------------------
    @classmethod
    def parse_process(cls, entity: Entity, parser: FrontendParser) -> dict[str, Any]:
        """Attributes every process tag shares (`executable`, `node`, `dora`)."""
        kwargs = cls.parse_common(entity, parser)
        for attr in ("cwd", "name", "output", "respawn"):
            value = entity.get_attr(attr, optional=True)
            if value is not None:
                kwargs[attr] = parser.parse_substitution(value)
        prefix = entity.get_attr("launch-prefix", optional=True)
        if prefix is not None:
            kwargs["prefix"] = parser.parse_substitution(prefix)
        on_exit = entity.get_attr("on_exit", optional=True)
        required = entity.get_attr("required", data_type=bool, optional=True)
        if on_exit is not None:
            if on_exit != "shutdown":
                raise entity.error(
                    f"<{entity.type_name}> on_exit must be 'shutdown', got '{on_exit}'"
                )
            kwargs["on_exit"] = "shutdown"
        if required:
            kwargs["on_exit"] = "shutdown"
        for attr, kind in (
            ("respawn_delay", float),
            ("respawn_max_retries", int),
            ("sigterm_timeout", float),
            ("sigkill_timeout", float),
        ):
            value = entity.get_attr(attr, data_type=kind, optional=True)
            if value is not None:
                kwargs[attr] = value
        shell = entity.get_attr("shell", data_type=bool, optional=True)
        if shell is not None:
            kwargs["shell"] = shell
        entity.get_attr("emulate_tty", data_type=bool, optional=True)  # accepted, no effect
        env = entity.get_attr("env", data_type=ENTITIES, optional=True)
        if env is not None:
            kwargs["additional_env"] = {
                tuple(parser.parse_substitution(e.get_attr("name"))): parser.finish(
                    e, parser.parse_substitution(e.get_attr("value"))
                )
                for e in env
            }
        return kwargs

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        kwargs = cls.parse_process(entity, parser)
        kwargs["cmd"] = CommandLine(parser.parse_substitution(entity.get_attr("cmd")))
        args = entity.get_attr("args", optional=True)
        if args is not None:
            kwargs["cmd"] = [kwargs["cmd"], CommandLine(parser.parse_substitution(args))]
        return cls(**kwargs)

    # -- resolution ----------------------------------------------------------------------------
    def resolve_command(self, context: LaunchContext) -> list[str]:
        words = perform_command(context, self.cmd)
        if not words:
            raise LaunchFileError("the command is empty")
        return words

    def process_base_name(self, context: LaunchContext, cmd: list[str]) -> str:
        if self.name is not None:
            return perform(context, self.name)
        return os.path.basename(cmd[0])

    def spec_extras(self, context: LaunchContext) -> dict[str, Any]:
        """Fields a subclass adds to the ProcessSpec (ros_node, dora_nodes)."""
        return {}

    def execute(self, context: LaunchContext) -> Iterable[Any] | None:
        cmd = self.resolve_command(context)
        cwd = perform(context, self.cwd) if self.cwd is not None else None
        if cwd is not None and not os.path.isdir(cwd):
            raise NotFoundError(f"working directory '{cwd}' does not exist")
        if not self.shell:
            _check_executable(cmd[0], context.environment.get("PATH"), cwd)
        context.shared.read_configurations.add("launch-prefix")
        prefix = context.launch_configurations.get("launch-prefix")
        prefix_text = perform(context, self.prefix) if self.prefix is not None else prefix
        if prefix_text:
            cmd = [*shlex.split(str(prefix_text)), *cmd]
        if self.shell:
            cmd = ["/bin/sh", "-c", " ".join(cmd)]
        unset: tuple[str, ...] = ()
        if self.env is not None:
            env = {perform(context, k): perform(context, v) for k, v in self.env.items()}
            launch_set = dict(env)  # the launch file gave the whole environment
        else:
            env = dict(context.environment)
            # what set_env, append_env, unset_env, set_ros_log_dir... changed, for --print
            initial = context.initial_environment
            launch_set = {k: v for k, v in env.items() if initial.get(k) != v}
            unset = tuple(sorted(k for k in initial if k not in env))
        additional = {
            perform(context, k): perform(context, v) for k, v in (self.additional_env or {}).items()
        }
        env.update(additional)
        env.setdefault("PYTHONUNBUFFERED", "1")  # so `output="screen"` shows lines as they come
        output = _output(context, self.output)
        respawn = self.respawn
        if not isinstance(respawn, bool):
            text = perform(context, respawn)
            parsed = to_bool(text)
            if parsed is None:
                raise LaunchFileError(f"respawn must be true or false, got '{text}'")
            respawn = parsed
        shutdown_on_exit = False
        on_exit = self.on_exit
        if on_exit == "shutdown":
            shutdown_on_exit = True
        elif on_exit is not None:
            from .shutdown_action import Shutdown

            actions = list(on_exit) if isinstance(on_exit, (list, tuple)) else None
            if isinstance(on_exit, Shutdown):
                actions = [on_exit]
            if actions is not None and all(isinstance(a, Shutdown) for a in actions):
                shutdown_on_exit = True
            else:
                handler = OnProcessExit(target_action=self, on_exit=on_exit)
                context.emit(RegisterHandler(handler, context.snapshot()))
        base = self.process_base_name(context, cmd)
        spec = ProcessSpec(
            name=context.shared.process_name(base),
            cmd=tuple(cmd),
            cwd=cwd,
            env=env,
            additional_env={**launch_set, **additional},
            unset_env=unset,
            output=output,
            respawn=respawn,
            respawn_delay=_float(context, self.respawn_delay or 0.0, "respawn_delay"),
            respawn_max_retries=int(self.respawn_max_retries),
            shutdown_on_exit=shutdown_on_exit,
            sigterm_timeout=_float(context, self.sigterm_timeout, "sigterm_timeout"),
            sigkill_timeout=_float(context, self.sigkill_timeout, "sigkill_timeout"),
            location=self.location,
            origin=self,
            **self.spec_extras(context),
        )
        context.emit(StartProcess(spec))
        return None


__all__ = ["CommandLine", "ExecuteProcess", "perform_command"]
