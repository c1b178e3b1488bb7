"""rclpy parameter client peer: reads and writes parameters of another node (JSON in argv[1]).

{"target": "/bridge_node", "get": ["speed"], "set": {"speed": 2.5}, "list": true}
prints {"event": "list", "names": [...]}, {"event": "get", "values": {...}}, {"event": "set", ...}
in that order: list, get, set, get again.
"""

from __future__ import annotations

import time

from _peer import config, emit, init, spin_in_thread
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient


def wait(future):
    deadline = time.monotonic() + 10
    while not future.done() and time.monotonic() < deadline:
        time.sleep(0.01)
    return future.result()


def main() -> None:
    cfg = config()
    node = init("param_peer")
    spin_in_thread(node)
    client = AsyncParameterClient(node, cfg["target"])
    emit(event="ready")
    if not client.wait_for_services(timeout_sec=20):
        emit(event="error", message="no parameter services")
        return
    names = wait(client.list_parameters([], 10)).result.names
    emit(event="list", names=sorted(names))
    got = wait(client.get_parameters(cfg.get("get", [])))
    emit(
        event="get",
        values={
            n: _plain(Parameter.from_parameter_msg(_named(n, v)).value)
            for n, v in zip(cfg.get("get", []), got.values, strict=False)
        },
    )
    if cfg.get("set"):
        results = wait(
            client.set_parameters([Parameter(k, value=v) for k, v in cfg["set"].items()])
        )
        emit(event="set", ok=[r.successful for r in results.results])
        got = wait(client.get_parameters(list(cfg["set"])))
        emit(
            event="get",
            values={
                n: _plain(Parameter.from_parameter_msg(_named(n, v)).value)
                for n, v in zip(cfg["set"], got.values, strict=False)
            },
        )
    emit(event="done")
    time.sleep(0.5)


def _plain(value):
    return list(value) if hasattr(value, "__len__") and not isinstance(value, str) else value


def _named(name, value):
    from rcl_interfaces.msg import Parameter as ParameterMsg

    return ParameterMsg(name=name, value=value)


if __name__ == "__main__":
    main()
