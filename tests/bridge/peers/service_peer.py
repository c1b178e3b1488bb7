"""rclpy service peer for test_msgs/srv/BasicTypes (JSON config in argv[1]).

server: {"role": "server", "name": "/svc", "delay": 0} answers int32_value + 1, string_value
"echo:<s>", float64_value * 2 and prints each request.
client: {"role": "client", "name": "/svc", "requests": [{...}, ...], "timeout": 10} sends them one
after the other and prints each response, or a response with value null when none came within
`timeout` s (the request is then forgotten, as `rclpy`'s own `call(timeout_sec=...)` does).
With "burst": N it sends them N at a time, 0.5 s apart (a service reader keeps the last 10 by
default), then waits for each. "qos": {"depth": N, ...} replaces the client's service QoS.
"""

from __future__ import annotations

import time

from _peer import config, emit, from_plain, init, qos, spin_in_thread, to_plain
from test_msgs.srv import BasicTypes


def main() -> None:
    cfg = config()
    node = init(cfg.get("node", "service_peer"))
    if cfg["role"] == "server":

        def handle(request, response):
            emit(event="request", value=to_plain(request))
            time.sleep(cfg.get("delay", 0))
            response.int32_value = request.int32_value + 1
            response.string_value = "echo:" + request.string_value
            response.float64_value = request.float64_value * 2
            response.bool_value = not request.bool_value
            return response

        node.create_service(BasicTypes, cfg["name"], handle)
        spin_in_thread(node)
        emit(event="ready")
        while True:
            time.sleep(1)
    if "qos" in cfg:
        client = node.create_client(BasicTypes, cfg["name"], qos_profile=qos(cfg["qos"]))
    else:
        client = node.create_client(BasicTypes, cfg["name"])
    spin_in_thread(node)
    emit(event="ready")
    if not client.wait_for_service(timeout_sec=cfg.get("wait", 20)):
        emit(event="error", message="no service")
        return
    if cfg.get("burst"):
        futures = []
        for i, request in enumerate(cfg["requests"]):
            if i and i % cfg["burst"] == 0:
                time.sleep(0.5)
            futures.append(client.call_async(from_plain(BasicTypes.Request, request)))
        deadline = time.monotonic() + cfg.get("timeout", 10)
        for future in futures:
            while not future.done() and time.monotonic() < deadline:
                time.sleep(0.01)
            emit(event="response", value=to_plain(future.result()) if future.done() else None)
        emit(event="done")
        time.sleep(cfg.get("linger", 1))
        return
    for request in cfg["requests"]:
        future = client.call_async(from_plain(BasicTypes.Request, request))
        deadline = time.monotonic() + cfg.get("timeout", 10)
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not future.done():
            client.remove_pending_request(future)
        emit(event="response", value=to_plain(future.result()) if future.done() else None)
    emit(event="done")
    time.sleep(cfg.get("linger", 1))


if __name__ == "__main__":
    main()
