"""``module:`` nodes: reusable sub-graphs, expanded into plain nodes before anything else reads them.

As dora-rs 1.1 (``dora expand``, its ``docs/modules.md``): a node ``{id: pipe, module: m.yml,
inputs: {...}, params: {...}}`` is replaced by the nodes of ``m.yml``, whose ids get the prefix
``pipe.``; in the module, ``_mod/<port>`` is what the parent wired to ``<port>`` (an optional port
left unwired drops the input), ``<inner>/<output>`` names a sibling, and the parent reads the
module's declared outputs as ``pipe/<output>``. Paths of inner nodes are relative to the module
file and are rewritten relative to the graph; ``params`` become ``PARAM_<KEY>`` environment
variables of every inner node and replace ``$PARAM_<KEY>`` in their ``args``; the module node's
``env`` and ``deploy`` reach every inner node, and its ``build`` and the module's own ``build`` run
before an inner node's. Modules nest (at most ``MAX_DEPTH`` deep) and must stay inside the graph's
folder.

This works on the YAML as parsed (``descriptor_yaml``), so the expanded nodes are then checked as
any node is; their line numbers are set to the ``module:`` node's line in the graph, so a mistake
inside a module is reported where the module is used, naming the expanded node id.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import DescriptorError
from .descriptor_yaml import LineMap, LineSeq, load_yaml, yaml_error

__all__ = ["MAX_DEPTH", "check_module_file", "expand_modules"]

MAX_DEPTH = 8
MAX_MODULE_BYTES = 1 << 20
_HEADER_KEYS = frozenset({"name", "inputs", "inputs_optional", "outputs"})
_MODULE_FILE_KEYS = frozenset({"module", "nodes", "build"})
# Keys a module node may have; the rest (path, args, git, operators, ...) would be dropped.
# (`outputs` is allowed: dora-rs accepts it, and the module header declares the real ones.)
_MODULE_NODE_KEYS = frozenset(
    {"id", "name", "description", "module", "inputs", "outputs", "params", "env", "build"}
    | {"deploy"}
)
_PARAM_KEY = re.compile(r"^[A-Za-z0-9_]+$")


def _fail(where: str, line: int, message: str) -> DescriptorError:
    return DescriptorError(f"{where}:{line}: {message}")


def _relabel(value: Any, line: int) -> Any:
    """``value`` with every line number set to ``line`` (the module node's line in the graph)."""
    if isinstance(value, LineMap):
        out = LineMap({k: _relabel(v, line) for k, v in value.items()})
        out.line = line
        out.key_lines = dict.fromkeys(value, line)
        out.origin = value.origin
        return out
    if isinstance(value, LineSeq):
        seq = LineSeq(_relabel(v, line) for v in value)
        seq.line = line
        seq.item_lines = [line] * len(value)
        return seq
    return value


def _map(items: dict[str, Any], line: int) -> LineMap:
    out = LineMap(items)
    out.line = line
    out.key_lines = dict.fromkeys(items, line)
    return out


def _names(header: LineMap, key: str, where: str) -> list[str]:
    value = header.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(where, header.line_of(key), f"module `{key}` must be a list of names")
    return list(value)


def _check_ports(nodes: LineSeq, declared: list[str], where: str) -> None:
    """Every ``_mod/<port>`` of a module's own nodes names a declared input (or optional one)."""
    for node in nodes:
        inputs = node.get("inputs") if isinstance(node, LineMap) else None
        if not isinstance(inputs, LineMap):
            continue
        for input_id, value in inputs.items():
            source = value.get("source") if isinstance(value, dict) else value
            if isinstance(source, str) and source.startswith("_mod/"):
                port = source[len("_mod/") :]
                if port not in declared:
                    known = ", ".join(repr(p) for p in declared) or "none"
                    raise _fail(
                        where,
                        inputs.line_of(input_id),
                        f"node '{node.get('id')}': input '{input_id}' reads '{source}', but the"
                        f" module declares no input '{port}' (its inputs: {known})",
                    )


def check_module_file(path: Path) -> None:
    """Validate a module file on its own (``dora-ros expand --module``): its header, its ports,
    its outputs, its nested modules, and its nodes as nodes of a graph (required ports wired to a
    timer). Raises DescriptorError."""
    from .descriptor import parse_dataflow  # descriptor imports this module

    try:
        doc = load_yaml(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise DescriptorError(f"{path}: cannot read module file: {err}") from err
    header = doc.get("module") if isinstance(doc, LineMap) else None
    ports = header.get("inputs") if isinstance(header, LineMap) else None
    wired = ", ".join(f"{p}: dora/timer/secs/1" for p in ports or () if isinstance(p, str))
    graph = f"nodes:\n  - id: module\n    module: {path.name}\n    inputs: {{{wired}}}\n"
    try:
        parse_dataflow(graph, path.parent / f".{path.stem}.check.yml")
    except DescriptorError as err:
        message = str(err)
        if ".check.yml:" in message:  # about the stand-in graph: say which module it checked
            message = f"module {path}: {message.split(': ', 1)[1]}"
        raise DescriptorError(message) from err


class _Expander:
    def __init__(self, graph_file: Path) -> None:
        self.graph_file = graph_file
        self.base = graph_file.resolve().parent

    def nodes(
        self, nodes: LineSeq, where: str, here: Path, depth: int, chain: tuple[Path, ...]
    ) -> tuple[LineSeq, dict[str, dict[str, str]]]:
        """``nodes`` (of the graph or of a module file in folder ``here``), modules expanded,
        and for each module node among them: its output -> the expanded node producing it."""
        out = LineSeq()
        out.line = nodes.line
        out.item_lines = []
        modules: dict[str, dict[str, str]] = {}
        for index, node in enumerate(nodes):
            if isinstance(node, LineMap) and "module" in node:
                expanded, outputs = self.module(node, where, here, depth, chain)
                modules[str(node.get("id"))] = outputs
                out.extend(expanded)
                out.item_lines.extend([node.line] * len(expanded))
            else:
                out.append(node)
                out.item_lines.append(nodes.line_of(index))
        return out, modules

    def module(
        self, node: LineMap, where: str, here: Path, depth: int, chain: tuple[Path, ...]
    ) -> tuple[list[LineMap], dict[str, str]]:
        node_id = node.get("id")
        line = node.line_of("module")
        what = f"node '{node_id}'"
        extra = sorted(str(k) for k in node if k not in _MODULE_NODE_KEYS)
        if extra:
            raise _fail(
                where,
                node.line_of(extra[0]),
                f"{what}: key '{extra[0]}' cannot be used with `module:` (a module node has no"
                " program of its own: its nodes come from the module file)",
            )
        if depth >= MAX_DEPTH:
            raise _fail(where, line, f"{what}: modules nest more than {MAX_DEPTH} deep")
        reference = node["module"]
        if not isinstance(reference, str) or not reference:
            raise _fail(where, line, f"{what}: `module` must be the path of a module file")
        file = (here / reference).resolve()
        if os.path.isabs(reference) or not file.is_relative_to(self.base):
            raise _fail(
                where, line, f"{what}: module '{reference}' must be inside the graph's folder"
            )
        if file in chain:
            raise _fail(where, line, f"{what}: module '{reference}' includes itself")
        doc, header, inner_where = self.load(file, reference, where, line, what)
        ports = _names(header, "inputs", inner_where)
        optional = _names(header, "inputs_optional", inner_where)
        outputs = _names(header, "outputs", inner_where)
        wired = node.get("inputs") or {}
        if not isinstance(wired, dict):
            raise _fail(where, node.line_of("inputs"), f"{what}: `inputs` must be a mapping")
        for port in wired:
            if port not in ports and port not in optional:
                known = ", ".join(repr(p) for p in [*ports, *optional]) or "none"
                raise _fail(
                    where,
                    wired.line_of(port) if isinstance(wired, LineMap) else line,
                    f"{what}: module '{reference}' has no input '{port}' (its inputs: {known})",
                )
        for port in ports:
            if port not in wired:
                raise _fail(where, line, f"{what}: module input '{port}' is not wired")
        params = node.get("params") or {}
        if not isinstance(params, dict):
            raise _fail(where, node.line_of("params"), f"{what}: `params` must be a mapping")
        for key in params:
            if not isinstance(key, str) or not _PARAM_KEY.match(key):
                raise _fail(
                    where, line, f"{what}: param {key!r} may only contain letters, digits and '_'"
                )
        inner_nodes = doc.get("nodes")
        if not isinstance(inner_nodes, LineSeq):
            raise _fail(inner_where, doc.line, "a module file needs a `nodes` list")
        _check_ports(inner_nodes, [*ports, *optional], inner_where)
        inner, nested = self.nodes(inner_nodes, inner_where, file.parent, depth + 1, (*chain, file))
        inner_ids = {str(n.get("id")) for n in inner if isinstance(n, LineMap)}
        children = {str(n.get("id")) for n in inner_nodes if isinstance(n, LineMap)}
        produced = self.producers(inner, children, nested)
        for output in outputs:
            if output not in produced:
                raise _fail(
                    inner_where,
                    header.line_of("outputs"),
                    f"module output '{output}' is produced by none of its nodes",
                )
            if len(produced[output]) > 1:
                raise _fail(
                    inner_where,
                    header.line_of("outputs"),
                    f"module output '{output}' is produced by more than one node"
                    f" ({', '.join(sorted(produced[output]))})",
                )
        builds = [b for b in (node.get("build"), doc.get("build")) if isinstance(b, str) and b]
        env_value = node.get("env")
        env: dict[str, Any] = env_value if isinstance(env_value, dict) else {}
        result = []
        for child in inner:
            if not isinstance(child, LineMap):
                raise _fail(inner_where, inner_nodes.line, "every node must be a mapping")
            renamed = self.rename(
                child, str(node_id), wired, (inner_ids, nested), params, env, builds, node,
                file.parent if str(child.get("id")) in children else None,
            )  # fmt: skip
            # Errors found later name the module file too (a nested module's node keeps its own).
            renamed.origin = child.origin or f"{inner_where}:{child.line}"
            result.append(renamed)
        outputs_map = {o: f"{node_id}.{produced[o][0]}" for o in outputs}
        return [_relabel(n, line) for n in result], outputs_map

    def load(
        self, file: Path, reference: str, where: str, line: int, what: str
    ) -> tuple[LineMap, LineMap, str]:
        try:
            if file.stat().st_size > MAX_MODULE_BYTES:
                raise _fail(where, line, f"{what}: module '{reference}' is larger than 1 MB")
            text = file.read_text()
        except OSError as err:
            raise _fail(
                where, line, f"{what}: cannot read module '{reference}': {err.strerror}"
            ) from err
        inner_where = (
            os.path.relpath(file, Path.cwd()) if file.is_relative_to(Path.cwd()) else str(file)
        )
        try:
            doc = load_yaml(text)
        except yaml.YAMLError as err:
            bad_line, problem = yaml_error(err)
            raise _fail(
                inner_where,
                bad_line,
                f"invalid YAML: {problem} (the module of {what}, {where}:{line})",
            ) from err
        if not isinstance(doc, LineMap) or not isinstance(doc.get("module"), LineMap):
            raise _fail(
                inner_where, getattr(doc, "line", 1), "a module file starts with a `module:` header"
            )
        for key in doc:
            if key not in _MODULE_FILE_KEYS:
                raise _fail(inner_where, doc.line_of(key), f"unknown module file key '{key}'")
        header = doc["module"]
        for key in header:
            if key not in _HEADER_KEYS:
                raise _fail(
                    inner_where,
                    header.line_of(key),
                    f"unknown module header key '{key}' (known: {', '.join(sorted(_HEADER_KEYS))})",
                )
        if not isinstance(header.get("name"), str):
            raise _fail(inner_where, header.line, "the module header needs a `name`")
        return doc, header, inner_where

    def producers(
        self, inner: list[Any], children: set[str], nested: dict[str, dict[str, str]]
    ) -> dict[str, list[str]]:
        """Output name -> the direct children (or nested modules' nodes) producing it."""
        produced: dict[str, list[str]] = {}
        for child in inner:
            if not isinstance(child, LineMap):
                continue
            child_id = str(child.get("id"))
            if child_id not in children:
                continue  # a nested module's node: its declared outputs are added below
            for output in child.get("outputs") or ():
                produced.setdefault(str(output), []).append(child_id)
        for child_id in children:
            for output, target in nested.get(child_id, {}).items():
                produced.setdefault(output, []).append(target)
        return produced

    def rename(
        self, child: LineMap, prefix: str, wired: dict[str, Any],
        scope: tuple[set[str], dict[str, dict[str, str]]],
        params: dict[str, Any], env: dict[str, Any], builds: list[str], module_node: LineMap,
        here: Path | None,
    ) -> LineMap:  # fmt: skip
        out = dict(child)
        out["id"] = f"{prefix}.{child.get('id')}"
        path = child.get("path")
        # Relative to the module file: rewritten once, by the module the node is written in.
        if (
            here is not None
            and isinstance(path, str)
            and path != "dynamic"
            and not os.path.isabs(path)
        ):
            if "/" in path or (here / path).exists():
                out["path"] = os.path.relpath(here / path, self.base)
        inputs = child.get("inputs")
        if isinstance(inputs, dict):
            new_inputs: dict[str, Any] = {}
            for input_id, value in inputs.items():
                resolved = self.source(value, prefix, wired, scope)
                if resolved is not None:
                    new_inputs[input_id] = resolved
            out["inputs"] = _map(new_inputs, child.line_of("inputs"))
        args = child.get("args")
        if here is not None and isinstance(args, str) and params:  # a nested module's own
            for key, value in params.items():
                args = args.replace(f"$PARAM_{key.upper()}", str(value))
            out["args"] = args
        merged_env: dict[str, Any] = {}
        merged_env.update(env)
        merged_env.update({f"PARAM_{k.upper()}": str(v) for k, v in params.items()})
        if isinstance(child.get("env"), dict):
            merged_env.update(child["env"])
        if merged_env:
            out["env"] = _map(dict(sorted(merged_env.items())), child.line)
        own_build = child.get("build")
        all_builds = [*builds, *([own_build] if isinstance(own_build, str) and own_build else [])]
        if all_builds:
            out["build"] = "\n".join(all_builds)
        if module_node.get("deploy") is not None and child.get("deploy") is None:
            out["deploy"] = module_node["deploy"]
        return _map(out, child.line)

    def source(
        self, value: Any, prefix: str, wired: dict[str, Any],
        scope: tuple[set[str], dict[str, dict[str, str]]],
    ) -> Any | None:  # fmt: skip
        """An inner input's source in the graph's terms; None for an unwired optional port."""
        source = value.get("source") if isinstance(value, dict) else value
        if not isinstance(source, str):
            return value
        node, _, output = source.partition("/")
        if node == "_mod":
            if output not in wired:
                return None
            parent = wired[output]
            if isinstance(value, dict):
                merged = dict(value)
                if isinstance(parent, dict):
                    merged.update(parent)
                else:
                    merged["source"] = parent
                return _map(merged, getattr(value, "line", 1))
            return parent
        if node == "dora":
            return value
        inner_ids, nested = scope
        if output in nested.get(node, {}):  # a nested module's declared output
            target = f"{prefix}.{nested[node][output]}/{output}"
        elif node in inner_ids:
            target = f"{prefix}.{node}/{output}"
        else:
            return value  # not a sibling: the node checks report it
        if isinstance(value, dict):
            return _map({**value, "source": target}, getattr(value, "line", 1))
        return target


def expand_modules(doc: LineMap, graph_file: Path) -> LineMap:
    """``doc`` (a graph as parsed) with its ``module:`` nodes replaced by their nodes."""
    nodes = doc.get("nodes")
    if not isinstance(nodes, LineSeq) or not any(
        isinstance(n, LineMap) and "module" in n for n in nodes
    ):
        return doc
    expander = _Expander(graph_file)
    expanded, modules = expander.nodes(nodes, graph_file.name, expander.base, 0, ())
    # References to a module's outputs from outside it: `pipe/out` -> `pipe.inner/out`.
    for node in expanded:
        inputs = node.get("inputs") if isinstance(node, LineMap) else None
        if not isinstance(inputs, dict):
            continue
        for input_id, value in list(inputs.items()):
            source = value.get("source") if isinstance(value, dict) else value
            if not isinstance(source, str):
                continue
            module, _, output = source.partition("/")
            target = modules.get(module, {}).get(output)
            if target is not None:
                new = f"{target}/{output}"
                inputs[input_id] = {**value, "source": new} if isinstance(value, dict) else new
    out = LineMap(doc)
    out.line = doc.line
    out.key_lines = doc.key_lines
    out["nodes"] = expanded
    return out
