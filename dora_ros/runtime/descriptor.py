"""Dataflow descriptor: a dora-rs YAML graph parsed once into frozen, validated dataclasses.

``load_dataflow("graph.yml")`` reads the file, checks every key against the keys dora-rs knows
(:mod:`.descriptor_keys`), resolves node paths against the file's folder, merges the global
``env`` into each node's, parses inputs and timers, and checks that every input names a declared
output. Every mistake is a :class:`~dora_ros.errors.DescriptorError` that names the file, line and
node: ``graph.yml:14: node 'camera': input 'tick' names unknown output 'timer/millis/x'``.

Nodes with an extension key (``ros2:``) are validated by the :class:`~.extensions.NodeKind`
registered for that key, so the runtime never imports the bridge.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, NoReturn

import yaml

from ..errors import DescriptorError
from . import descriptor_keys as keys
from .descriptor_modules import expand_modules
from .descriptor_sources import LOG_LEVELS, log_subscription, split_source, timer_interval
from .descriptor_yaml import LineMap, LineSeq, load_yaml, plain, yaml_error
from .extensions import find_node_kind, node_kind_keys
from .log_files import parse_size

__all__ = [
    "DEFAULT_QUEUE_SIZE",
    "Dataflow",
    "InputSpec",
    "NodeSpec",
    "RestartPolicy",
    "SourceLocation",
    "TimerSpec",
    "load_dataflow",
    "parse_dataflow",
    "resolve_executable",
]

DEFAULT_QUEUE_SIZE = 10


@dataclass(frozen=True)
class SourceLocation:
    """Where something was written: ``str(loc) == "graph.yml:14"``."""

    file: Path
    line: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class TimerSpec:
    """A ``dora/timer/...`` input: a tick every ``interval`` seconds."""

    interval: float
    source: str  # as written: "dora/timer/millis/100"


@dataclass(frozen=True)
class InputSpec:
    """One input of a node: where it comes from and how it is queued."""

    id: str
    source: str  # as written: "node/output" or "dora/timer/millis/100"
    source_node: str | None  # None for timers
    source_output: str | None  # None for timers
    timer: TimerSpec | None
    queue_size: int
    input_timeout: float | None  # seconds
    location: SourceLocation
    # dora/logs inputs: (lowest level taken, only this node or None for all); None otherwise
    logs: tuple[str, str | None] | None = None


@dataclass(frozen=True)
class RestartPolicy:
    """When to restart a node that exited (dora-rs doubles the delay after each restart)."""

    mode: Literal["never", "on-failure", "always"] = "never"
    max_restarts: int | None = None  # None = unlimited (dora-rs writes 0)
    restart_delay: float = 0.0  # seconds


@dataclass(frozen=True)
class NodeSpec:
    """One node of a dataflow, validated."""

    id: str
    path: str | None  # as written; None for extension nodes
    kind: Literal["python", "executable", "dynamic", "extension"]
    resolved_path: Path | None  # None until found (executables may appear after `build`)
    args: tuple[str, ...]
    env: Mapping[str, str]  # global env merged with the node's (node wins)
    build: str | None
    inputs: tuple[InputSpec, ...]
    outputs: tuple[str, ...]  # declared, then implied by an extension
    send_stdout_as: str | None
    restart_policy: RestartPolicy
    deploy: Mapping[str, Any] | None
    extension: tuple[str, Mapping[str, Any]] | None  # ("ros2", raw mapping)
    raw: Mapping[str, Any]  # the node's YAML mapping as parsed
    location: SourceLocation
    name: str | None = None
    description: str | None = None

    def input(self, input_id: str) -> InputSpec:
        """The input called ``input_id`` (KeyError if none)."""
        for spec in self.inputs:
            if spec.id == input_id:
                return spec
        raise KeyError(input_id)


@dataclass(frozen=True)
class Dataflow:
    """A parsed, validated dataflow graph."""

    path: Path  # the YAML file, absolute
    working_dir: Path  # its folder: nodes run there
    nodes: tuple[NodeSpec, ...]
    env: Mapping[str, str]  # global env
    raw: Mapping[str, Any]  # the whole YAML as parsed
    deploy: Mapping[str, Any] | None = None
    _by_id: dict[str, NodeSpec] = field(init=False, repr=False, compare=False)
    _subscribers: dict[tuple[str, str], tuple[tuple[str, str], ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        subscribers: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for node in self.nodes:
            for spec in node.inputs:
                if spec.source_node is not None and spec.source_output is not None:
                    key = (spec.source_node, spec.source_output)
                    subscribers.setdefault(key, []).append((node.id, spec.id))
        object.__setattr__(self, "_by_id", {node.id: node for node in self.nodes})
        object.__setattr__(
            self, "_subscribers", {key: tuple(value) for key, value in subscribers.items()}
        )

    def node(self, node_id: str) -> NodeSpec:
        """The node called ``node_id`` (KeyError if none)."""
        return self._by_id[node_id]

    def subscribers(self, node_id: str, output_id: str) -> tuple[tuple[str, str], ...]:
        """Every ``(node, input)`` that receives output ``output_id`` of node ``node_id``."""
        return self._subscribers.get((node_id, output_id), ())


def load_dataflow(path: str | os.PathLike[str], *, check_paths: bool = True) -> Dataflow:
    """Read and validate the dataflow file at ``path``; raises DescriptorError.

    ``check_paths=False``: the graph's structure only, no node file is looked for (a host that
    does not run the nodes: the cluster's CLI and coordinator; the machine that runs a node
    checks its path there, dora_ros/cluster/node_paths.py)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        raise DescriptorError(f"{file}: cannot read: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise DescriptorError(f"{file}: not a UTF-8 text file") from err
    return parse_dataflow(text, file, check_paths=check_paths)


def parse_dataflow(text: str, path: Path, *, check_paths: bool = True) -> Dataflow:
    """Validate the dataflow in ``text``, as if read from ``path``; raises DescriptorError.
    ``check_paths`` as for :func:`load_dataflow`."""
    return _Parser(Path(path), check_paths=check_paths).parse(text)


def resolve_executable(node: NodeSpec, dataflow: Dataflow) -> Path:
    """The executable of ``node`` as it stands now (it may have been built since loading).

    Raises DescriptorError naming the node when it cannot be found, so `dora-ros run` can say so.
    """
    if node.path is None or node.kind in ("dynamic", "extension"):
        raise DescriptorError(f"{node.location}: node '{node.id}' has no executable to start")
    found = _find_executable(node.path, dataflow.working_dir)
    if found is None:
        raise DescriptorError(
            f"{node.location}: node '{node.id}': executable '{node.path}' not found "
            f"(not in {dataflow.working_dir}, not on PATH, not next to {sys.executable})"
        )
    if not os.access(found, os.X_OK):
        raise DescriptorError(
            f"{node.location}: node '{node.id}': '{found}' is not executable (chmod +x?)"
        )
    return found


def _find_executable(path: str, working_dir: Path) -> Path | None:
    candidate = working_dir / os.path.expanduser(path)
    if candidate.is_file():
        return candidate
    if "/" not in path:
        # PATH first, then the folder of the Python running dora-ros: console scripts of its venv
        # (node-hub packages) work without activating it, as the nodes' PATH includes it too.
        found = shutil.which(path) or shutil.which(path, path=str(Path(sys.executable).parent))
        if found is not None:
            return Path(found)
    return None


def closest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


_NODE_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
_DATA_ID = re.compile(r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*$")
_ENV_REF = re.compile(r"\$(?:\{([A-Za-z0-9_]+)(?::-([^}]*))?\}|([A-Za-z0-9_]+))")
_RESTART_MODES = ("never", "on-failure", "always")


class _Parser:
    """One parse of one file: knows the file name for every message."""

    def __init__(self, path: Path, *, check_paths: bool = True) -> None:
        self.file = path
        self.check_paths = check_paths
        self.working_dir = path.resolve().parent
        self.kinds = node_kind_keys()  # read the entry points once per file: it is slow
        self.origins: dict[str, str] = {}  # node id -> where a module file has it ("m.yml:5")

    # -- errors ---------------------------------------------------------------------------------
    def loc(self, line: int) -> SourceLocation:
        return SourceLocation(self.file, line)

    def fail(self, line: int, message: str, node: str | None = None) -> NoReturn:
        where = f"node '{node}': " if node is not None else ""
        if node in self.origins:  # expanded from a module: the graph's line, and the module's
            where = f"node '{node}' (from {self.origins[node]}): "
        raise DescriptorError(f"{self.file}:{line}: {where}{message}")

    # -- top level ------------------------------------------------------------------------------
    def parse(self, text: str) -> Dataflow:
        try:
            doc = load_yaml(text)
        except yaml.YAMLError as err:
            line, problem = yaml_error(err)
            raise DescriptorError(f"{self.file}:{line}: invalid YAML: {problem}") from err
        if not isinstance(doc, LineMap):
            self.fail(
                getattr(doc, "line", 1), "a dataflow file must be a mapping with a `nodes` list"
            )
        self.check_keys(doc, keys.TOP_KEYS, keys.SUPPORTED_TOP_KEYS, "key", None)
        self.top_defaults(doc)
        doc = expand_modules(doc, self.file)  # `module:` nodes become their nodes
        global_env = self.env(doc, None) if "env" in doc else {}
        nodes_raw = doc.get("nodes")
        if not isinstance(nodes_raw, LineSeq):
            self.fail(doc.line_of("nodes"), "`nodes` must be a list of nodes")
        nodes = self.nodes(nodes_raw, global_env)
        deploy = self.deploy(doc, None)
        return Dataflow(
            path=self.file.resolve(),
            working_dir=self.working_dir,
            nodes=nodes,
            env=global_env,
            raw=plain(doc),
            deploy=deploy,
        )

    def top_defaults(self, doc: LineMap) -> None:
        """``debug`` and ``health_check_interval`` at the defaults `dora expand` writes, no other."""
        debug = doc.get("debug")
        if debug is not None and plain(debug) not in ({}, {"enable_debug_inspection": False}):
            self.fail(
                doc.line_of("debug"),
                "key 'debug': debug inspection is not supported by dora-ros; only"
                " `enable_debug_inspection: false` (the default `dora expand` writes) is accepted",
            )
        if doc.get("health_check_interval") is not None:
            self.fail(
                doc.line_of("health_check_interval"),
                "key 'health_check_interval': health checks are not supported by dora-ros; only"
                " `null` (the default `dora expand` writes) is accepted",
            )

    def deploy(self, owner: LineMap, node: str | None) -> dict[str, Any] | None:
        # `_unstable_deploy`, dora-rs's pre-1.0 name, is read where `deploy` is absent.
        name = "deploy" if owner.get("deploy") is not None else "_unstable_deploy"
        value = owner.get(name)
        if value is None:
            return None
        if not isinstance(value, LineMap):
            self.fail(owner.line_of(name), f"`{name}` must be a mapping", node)
        self.check_keys(value, keys.DEPLOY_KEYS, keys.SUPPORTED_DEPLOY_KEYS, "deploy key", node)
        for key in ("machine", "working_dir"):  # used by `dora-ros run` (supervisor)
            text = value.get(key)
            if text is not None and (not isinstance(text, str) or not text):
                self.fail(value.line_of(key), f"deploy {key} must be a non-empty string", node)
        result: dict[str, Any] = plain(value)
        return result

    def check_keys(
        self,
        mapping: LineMap,
        known: Mapping[str, str],
        supported: frozenset[str],
        what: str,
        node: str | None,
        extensions: frozenset[str] = frozenset(),
    ) -> None:
        """Every key must be known to dora-rs (else a typo) and implemented by dora-ros."""
        for key in mapping:
            line = mapping.line_of(key)
            if not isinstance(key, str):
                self.fail(line, f"{what} {key!r} is not a string", node)
            if key in supported or key in extensions:
                continue
            if key in known:
                note = known[key]
                self.fail(line, f"{what} '{key}' ({note}) is not supported by dora-ros", node)
            if node is None and known is keys.TOP_KEYS and key in keys.NODE_KEYS:
                self.fail(line, f"'{key}' is a node key: write it under each node it is for")
            self.fail(line, f"unknown {what} '{key}'{closest(key, [*known, *extensions])}", node)

    def env(self, owner: LineMap, node: str | None) -> dict[str, str]:
        raw = owner["env"]
        line = owner.line_of("env")
        if raw is None:
            return {}
        if not isinstance(raw, LineMap):
            self.fail(line, "`env` must be a mapping of names to values", node)
        result: dict[str, str] = {}
        for name, value in raw.items():
            value_line = raw.line_of(name)
            if not isinstance(name, str):
                self.fail(value_line, f"env name {name!r} must be a string", node)
            result[name] = self.env_value(name, value, value_line, node)
        return result

    def env_value(self, name: str, value: Any, line: int, node: str | None) -> str:
        """Stringify like dora-rs: ``true``, ``8080``, ``1.5``; expand ``$VAR`` and ``${VAR}``."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return _rust_float(value)
        if not isinstance(value, str):
            self.fail(line, f"env '{name}' must be a string, number or boolean", node)

        def expand(match: re.Match[str]) -> str:
            var = match.group(1) or match.group(3)
            if var in os.environ:
                return os.environ[var]
            if match.group(2) is not None:
                return match.group(2)
            self.fail(line, f"env '{name}': environment variable '{var}' is not set", node)

        return _ENV_REF.sub(expand, value)

    # -- nodes ----------------------------------------------------------------------------------
    def nodes(self, nodes_raw: LineSeq, global_env: dict[str, str]) -> tuple[NodeSpec, ...]:
        seen: dict[str, int] = {}
        drafts: list[NodeSpec] = []
        for index, raw in enumerate(nodes_raw):
            line = nodes_raw.line_of(index)
            if not isinstance(raw, LineMap):
                self.fail(line, "each entry of `nodes` must be a mapping with an `id`")
            node_id = self.node_id(raw)
            if node_id in seen:
                self.fail(
                    raw.line_of("id"),
                    f"duplicate node id '{node_id}' (first defined at line {seen[node_id]})",
                )
            seen[node_id] = raw.line_of("id")
            drafts.append(self.node(raw, node_id, global_env))
        nodes = tuple(drafts)
        self.check_inputs(nodes)
        return nodes

    def node_id(self, raw: LineMap) -> str:
        if "id" not in raw:
            self.fail(raw.line, "node without an `id`")
        node_id = raw["id"]
        line = raw.line_of("id")
        if not isinstance(node_id, str) or not node_id:
            self.fail(line, f"node id must be a non-empty string (got {node_id!r})")
        if node_id == "dora":
            self.fail(line, "node id 'dora' is reserved for built-in inputs (dora/timer/...)")
        if not _NODE_ID.match(node_id):
            self.fail(
                line,
                f"node id '{node_id}' may only contain letters, digits, '_', '-' and '.' "
                "and must not start with '.'",
            )
        return node_id

    def node(self, raw: LineMap, node_id: str, global_env: dict[str, str]) -> NodeSpec:
        if raw.origin is not None:
            self.origins[node_id] = raw.origin
        self.check_keys(raw, keys.NODE_KEYS, keys.SUPPORTED_NODE_KEYS, "key", node_id, self.kinds)
        location = self.loc(raw.line_of("id"))
        extension = self.extension(raw, node_id, self.kinds)
        path, kind, resolved = self.path(raw, node_id, extension)
        env = dict(global_env)
        if "env" in raw:
            env.update(self.env(raw, node_id))
        outputs = self.outputs(raw, node_id)
        if extension is not None:
            kind_impl = find_node_kind(extension[0])
            assert kind_impl is not None  # checked in self.extension
            for output in kind_impl.implied_outputs(extension[1]):
                if output not in outputs:
                    outputs.append(output)
        stdout = self.optional_str(raw, "send_stdout_as", node_id)
        if stdout is not None and stdout not in outputs:
            self.fail(
                raw.line_of("send_stdout_as"),
                f"send_stdout_as names '{stdout}', which is not in `outputs`"
                f"{closest(stdout, outputs)}",
                node_id,
            )
        inputs_raw = raw.get("inputs")
        input_ids = list(inputs_raw) if isinstance(inputs_raw, dict) else []
        self.type_annotations(raw, "output_types", node_id, outputs)
        self.type_annotations(raw, "input_types", node_id, input_ids)
        self.log_keys(raw, node_id, outputs)
        return NodeSpec(
            id=node_id,
            path=path,
            kind=kind,
            resolved_path=resolved,
            args=self.args(raw, node_id),
            env=env,
            build=self.optional_str(raw, "build", node_id),
            inputs=self.inputs(raw, node_id),
            outputs=tuple(outputs),
            send_stdout_as=stdout,
            restart_policy=self.restart_policy(raw, node_id),
            deploy=self.deploy(raw, node_id),
            extension=extension,
            raw=plain(raw),
            location=location,
            name=self.optional_str(raw, "name", node_id),
            description=self.optional_str(raw, "description", node_id),
        )

    def extension(
        self, raw: LineMap, node_id: str, kinds: frozenset[str]
    ) -> tuple[str, Mapping[str, Any]] | None:
        found = [key for key in raw if key in kinds or key == "ros2"]
        if not found:
            return None
        if len(found) > 1:
            self.fail(
                raw.line_of(found[1]),
                f"keys '{found[0]}' and '{found[1]}' exclude each other",
                node_id,
            )
        key = found[0]
        line = raw.line_of(key)
        kind = find_node_kind(key)
        if kind is None:
            self.fail(
                line,
                f"key '{key}' needs the dora-ros extension that handles it, and none is installed "
                f"(nothing registers '{key}' in the 'dora_ros.node_kinds' entry points)",
                node_id,
            )
        for own in ("path", "build"):  # the extension provides the process (as in dora-rs)
            if own in raw:
                self.fail(raw.line_of(own), f"a '{key}' node has no `{own}`", node_id)
        config = raw[key]
        if not isinstance(config, dict):
            self.fail(line, f"`{key}` must be a mapping", node_id)
        kind.validate(config, node_id, self.loc(line))
        return key, plain(config)

    def path(
        self, raw: LineMap, node_id: str, extension: object
    ) -> tuple[str | None, Literal["python", "executable", "dynamic", "extension"], Path | None]:
        if extension is not None:
            return None, "extension", None
        if "path" not in raw:
            self.fail(
                raw.line_of("id"),
                "`path` is missing (a .py file, an executable, or `dynamic`)",
                node_id,
            )
        path = raw["path"]
        line = raw.line_of("path")
        if not isinstance(path, str) or not path.strip():
            self.fail(line, f"`path` must be a non-empty string (got {path!r})", node_id)
        if path == "dynamic":
            return path, "dynamic", None
        if path.startswith(("http://", "https://")):
            self.fail(line, "a URL as `path` is not supported by dora-ros: download it", node_id)
        if path.endswith(".py"):
            resolved = (self.working_dir / os.path.expanduser(path)).resolve()
            if self.check_paths and not resolved.is_file():
                self.fail(
                    line, f"path '{path}' does not exist (looked in {resolved.parent})", node_id
                )
            return path, "python", resolved
        return path, "executable", _find_executable(path, self.working_dir)

    def args(self, raw: LineMap, node_id: str) -> tuple[str, ...]:
        value = raw.get("args")
        line = raw.line_of("args")
        if value is None:
            return ()
        if isinstance(value, str):
            try:
                return tuple(shlex.split(value))
            except ValueError as err:
                self.fail(line, f"`args` cannot be split: {err}", node_id)
        if isinstance(value, list) and all(
            isinstance(item, (str, int, float)) and not isinstance(item, bool) for item in value
        ):
            return tuple(str(item) for item in value)
        self.fail(line, "`args` must be a string or a list of strings", node_id)

    def log_keys(self, raw: LineMap, node_id: str, outputs: list[str]) -> None:
        """``send_logs_as``, ``min_log_level``, ``max_log_size``, ``max_rotated_files``: checked
        here, read from the node's raw mapping by the node (``node_logs``) and the supervisor
        (``log_files``)."""
        logs_as = self.optional_str(raw, "send_logs_as", node_id)
        if logs_as is not None and logs_as not in outputs:
            self.fail(
                raw.line_of("send_logs_as"),
                f"send_logs_as names '{logs_as}', which is not in `outputs`"
                f"{closest(logs_as, outputs)}",
                node_id,
            )
        level = raw.get("min_log_level")
        if level is not None and level not in LOG_LEVELS:
            self.fail(
                raw.line_of("min_log_level"),
                f"min_log_level {level!r} is not a log level (use {', '.join(LOG_LEVELS)})"
                f"{closest(str(level), LOG_LEVELS)}",
                node_id,
            )
        if raw.get("max_log_size") is not None:
            try:
                parse_size(raw["max_log_size"])
            except ValueError as err:
                self.fail(raw.line_of("max_log_size"), f"max_log_size: {err}", node_id)
        count = raw.get("max_rotated_files")
        if count is not None and (
            isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100
        ):
            self.fail(
                raw.line_of("max_rotated_files"),
                f"max_rotated_files must be an integer from 1 to 100 (got {count!r})",
                node_id,
            )

    def optional_str(self, raw: LineMap, key: str, node_id: str) -> str | None:
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            self.fail(raw.line_of(key), f"`{key}` must be a string", node_id)
        return value

    def outputs(self, raw: LineMap, node_id: str) -> list[str]:
        value = raw.get("outputs")
        if value is None:
            return []
        if not isinstance(value, LineSeq):
            self.fail(raw.line_of("outputs"), "`outputs` must be a list of output ids", node_id)
        outputs: list[str] = []
        for index, output in enumerate(value):
            line = value.line_of(index)
            if not isinstance(output, str) or not _DATA_ID.match(output):
                self.fail(
                    line,
                    f"output id {output!r} may only contain letters, digits, '_', '-', '.' and '/'",
                    node_id,
                )
            if output not in outputs:  # dora-rs keeps a set: a repeated output is harmless
                outputs.append(output)
        return outputs

    def type_annotations(self, raw: LineMap, key: str, node_id: str, ids: list[str]) -> None:
        """``output_types``/``input_types``: each key names one of the node's outputs/inputs;
        the types themselves are annotations (``dora-ros run`` says once that it does not check
        them, as dora-rs only warns)."""
        value = raw.get(key)
        if value is None:
            return
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            self.fail(raw.line_of(key), f"`{key}` must map ids to type names", node_id)
        what = "output" if key == "output_types" else "input"
        for name in value:
            if name not in ids:
                self.fail(
                    raw.line_of(key),
                    f"`{key}` names {what} '{name}', which the node does not have"
                    f"{closest(name, ids)}",
                    node_id,
                )

    def restart_policy(self, raw: LineMap, node_id: str) -> RestartPolicy:
        mode = raw.get("restart_policy", "never")
        if mode not in _RESTART_MODES:
            self.fail(
                raw.line_of("restart_policy"),
                f"restart_policy must be one of {', '.join(_RESTART_MODES)} (got {mode!r})"
                f"{closest(str(mode), _RESTART_MODES)}",
                node_id,
            )
        max_restarts = raw.get("max_restarts", 0)
        if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or max_restarts < 0:
            self.fail(
                raw.line_of("max_restarts"),
                f"max_restarts must be an integer >= 0, 0 meaning unlimited (got {max_restarts!r})",
                node_id,
            )
        delay = self.seconds(raw, "restart_delay", node_id, allow_zero=True)
        return RestartPolicy(mode, max_restarts or None, delay or 0.0)

    def seconds(
        self, raw: LineMap, key: str, node_id: str, *, allow_zero: bool, prefix: str = ""
    ) -> float | None:
        value = raw.get(key)
        if value is None:
            return None
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if (
            not ok
            or value != value
            or value in (float("inf"),)
            or value < 0
            or (value == 0 and not allow_zero)
        ):
            bound = ">= 0" if allow_zero else "> 0"
            self.fail(
                raw.line_of(key),
                f"{prefix}{key} must be a number of seconds {bound} (got {value!r})",
                node_id,
            )
        return float(value)

    # -- inputs ---------------------------------------------------------------------------------
    def inputs(self, raw: LineMap, node_id: str) -> tuple[InputSpec, ...]:
        value = raw.get("inputs")
        if value is None:
            return ()
        if not isinstance(value, LineMap):
            self.fail(
                raw.line_of("inputs"), "`inputs` must be a mapping of input ids to sources", node_id
            )
        return tuple(self.input(value, input_id, node_id) for input_id in value)

    def input(self, inputs: LineMap, input_id: Any, node_id: str) -> InputSpec:
        line = inputs.line_of(input_id)
        if not isinstance(input_id, str) or not _DATA_ID.match(input_id):
            self.fail(
                line,
                f"input id {input_id!r} may only contain letters, digits, '_', '-', '.' and '/'",
                node_id,
            )
        value = inputs[input_id]
        queue_size: int = DEFAULT_QUEUE_SIZE
        timeout: float | None = None
        if isinstance(value, LineMap):
            self.check_keys(value, keys.INPUT_KEYS, keys.SUPPORTED_INPUT_KEYS, "input key", node_id)
            if "source" not in value:
                self.fail(line, f"input '{input_id}' has no `source`", node_id)
            source = value["source"]
            size = value.get("queue_size", DEFAULT_QUEUE_SIZE)
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                self.fail(
                    value.line_of("queue_size"),
                    f"input '{input_id}': queue_size must be an integer >= 1 (got {size!r})",
                    node_id,
                )
            queue_size = size
            timeout = self.seconds(
                value, "input_timeout", node_id, allow_zero=False, prefix=f"input '{input_id}': "
            )
            policy = value.get("queue_policy", "drop_oldest")
            if policy != "drop_oldest":
                known = ("drop_oldest", "backpressure")
                self.fail(
                    value.line_of("queue_policy"),
                    f"input '{input_id}': queue_policy {policy!r} is not supported by dora-ros "
                    f"(only 'drop_oldest'){closest(str(policy), known) if policy not in known else ''}",
                    node_id,
                )
            line = value.line_of("source")
        else:
            source = value
        if not isinstance(source, str):
            self.fail(
                line, f"input '{input_id}': source must be a string like 'node/output'", node_id
            )
        try:
            node_part, output = split_source(source)
            logs = (
                log_subscription(source) if node_part == "dora" and output[:4] == "logs" else None
            )
            interval = timer_interval(source) if node_part == "dora" and not logs else None
        except ValueError as err:
            self.fail(line, f"input '{input_id}': {err}", node_id)
        if logs is not None:
            return InputSpec(
                input_id, source, None, None, None, queue_size, timeout, self.loc(line), logs
            )
        if interval is not None:
            timer = TimerSpec(interval, source)
            return InputSpec(
                input_id, source, None, None, timer, queue_size, timeout, self.loc(line)
            )
        return InputSpec(
            input_id, source, node_part, output, None, queue_size, timeout, self.loc(line)
        )

    def check_inputs(self, nodes: tuple[NodeSpec, ...]) -> None:
        """Every input names an existing node and one of its declared (or implied) outputs."""
        outputs = {node.id: node.outputs for node in nodes}
        for node in nodes:
            for spec in node.inputs:
                line = spec.location.line
                if spec.logs is not None and spec.logs[1] is not None:
                    if spec.logs[1] not in outputs:
                        self.fail(
                            line,
                            f"input '{spec.id}' takes the logs of unknown node '{spec.logs[1]}'"
                            f"{closest(spec.logs[1], outputs)}",
                            node.id,
                        )
                if spec.source_node is None:
                    continue
                if spec.source_node not in outputs:
                    self.fail(
                        line,
                        f"input '{spec.id}' names unknown node '{spec.source_node}'"
                        f"{closest(spec.source_node, outputs)}",
                        node.id,
                    )
                declared = outputs[spec.source_node]
                if spec.source_output not in declared:
                    self.fail(
                        line,
                        f"input '{spec.id}' names unknown output '{spec.source}' "
                        f"(node '{spec.source_node}' declares "
                        f"{', '.join(repr(o) for o in declared) or 'no outputs'})"
                        f"{closest(spec.source_output or '', declared)}",
                        node.id,
                    )


def _rust_float(value: float) -> str:
    """A float as Rust's Display writes it: ``1`` for 1.0, no exponent, ``inf``, ``NaN``."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    text = format(Decimal(repr(value)), "f")
    return text[:-2] if text.endswith(".0") else text
