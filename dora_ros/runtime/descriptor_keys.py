"""Every key dora-rs knows in a dataflow file, and which of them dora-rs also implements.

Taken from the serde structs of dora-rs (``libraries/message/src/descriptor.rs``: ``Descriptor``,
``Node``; ``config.rs``: ``InputDef``) in 0.x (the last release before 1.0), 1.0 and 1.1
(``dora validate`` of dora-rs-cli 1.1 lists the same 41 node keys). A key listed
here always parses; one not in a ``SUPPORTED`` set is rejected with "not supported by dora-ros". A
key in no table is a typo, and the error suggests the closest known key.
"""

from __future__ import annotations

__all__ = [
    "DEPLOY_KEYS",
    "INPUT_KEYS",
    "NODE_KEYS",
    "SUPPORTED_DEPLOY_KEYS",
    "SUPPORTED_INPUT_KEYS",
    "SUPPORTED_NODE_KEYS",
    "SUPPORTED_TOP_KEYS",
    "TOP_KEYS",
]

# Node keys, with a note for the ones dora-ros does not implement (shown in the error message).
NODE_KEYS: dict[str, str] = {
    "id": "",
    "name": "",
    "description": "",
    "path": "",
    "args": "",
    "env": "",
    "build": "",
    "inputs": "",
    "outputs": "",
    "send_stdout_as": "",
    "restart_policy": "",
    "max_restarts": "",
    "restart_delay": "",
    "deploy": "",
    "ros2": "",
    # Known to dora-rs, not implemented by dora-ros.
    "path_sha256": "checksums of downloaded paths",
    "operators": "operators: run the operator as a node with `path:`",
    "operator": "operators: run the operator as a node with `path:`",
    "custom": "the pre-1.0 `custom:` form: move its keys into the node itself",
    "output_types": "",  # type annotations: accepted, not checked (dora-rs only warns too)
    "output_framing": "per-output framing",
    "input_types": "",
    "output_metadata": "required metadata keys",
    "pattern": "communication patterns",
    "send_logs_as": "",
    "min_log_level": "",
    "max_log_size": "",
    "max_rotated_files": "",
    "git": "git sources: clone the repository and use `path:`",
    "hub": "hub packages",
    "branch": "git sources",
    "tag": "git sources",
    "rev": "git sources",
    "shared_memory_pool_size": "zenoh shared-memory pools",
    "max_restart_delay": "restart back-off caps",
    "restart_window": "restart windows",
    "health_check_timeout": "health checks",
    "finish_grace_secs": "per-node drain grace periods",
    # Expanded before nodes are read (descriptor_modules): never seen on a node afterwards.
    "module": "",
    "params": "module parameters, on a `module:` node",
    "cpu_affinity": "CPU pinning",
    "startup_timeout": "start-up timeouts",
    "_unstable_deploy": "",  # the pre-1.0 name of `deploy`, read as it (multi-machine)
}

SUPPORTED_NODE_KEYS: frozenset[str] = frozenset(key for key, note in NODE_KEYS.items() if not note)

TOP_KEYS: dict[str, str] = {
    "nodes": "",
    "env": "",
    "deploy": "",
    # Accepted at their defaults only (`dora expand` writes them): see _Parser.top_defaults.
    "debug": "",
    "health_check_interval": "",
    "strict_types": "type checking",
    "exit_when_nodes_finish": "`exit_when_nodes_finish`",
    "type_rules": "type rules",
    "communication": "the pre-1.0 `communication` settings",
    "_unstable_deploy": "",  # the pre-1.0 name of `deploy`, read as it (multi-machine)
    "_unstable_debug": "the pre-1.0 name of `debug`",
}

SUPPORTED_TOP_KEYS: frozenset[str] = frozenset(key for key, note in TOP_KEYS.items() if not note)

# Keys of a `deploy` mapping (node or top level), kept for the multi-machine work.
DEPLOY_KEYS: dict[str, str] = {
    "machine": "",
    "working_dir": "",
    "labels": "",
    "distribute": "",
}

SUPPORTED_DEPLOY_KEYS: frozenset[str] = frozenset(DEPLOY_KEYS)

# Keys of an input written in its long form.
INPUT_KEYS: dict[str, str] = {
    "source": "",
    "queue_size": "",
    "input_timeout": "",
    "queue_policy": "",
}

SUPPORTED_INPUT_KEYS: frozenset[str] = frozenset(INPUT_KEYS)
