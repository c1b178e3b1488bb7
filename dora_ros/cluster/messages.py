"""JSON over Zenoh: the one encoding of every request, reply and event of the control plane."""

from __future__ import annotations

import json
import time
from typing import Any

from .zenoh_config import ClusterError

# A query that ends sooner than this with no reply found no queryable (request's docstring).
NOBODY_ANSWERS_S = 0.5


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), default=str).encode()


def decode(payload: Any) -> dict[str, Any]:
    """A JSON object from a Zenoh payload (ZBytes, bytes or None)."""
    if payload is None:
        return {}
    raw = payload.to_bytes() if hasattr(payload, "to_bytes") else bytes(payload)
    if not raw:
        return {}
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


def request(session: Any, key: str, message: dict[str, Any], *, timeout: float,
            what: str) -> dict[str, Any]:  # fmt: skip
    """One query, one reply; a reply with ``error`` or no reply at all is a ClusterError.

    A query that ends at once with no reply met no queryable at all: Zenoh closes it as soon as
    it knows nobody answers. For a coordinator or daemon that is up, that means access control
    hides the key from this session (docs/cluster.md), so the error says so.
    """
    began = time.monotonic()
    for reply in session.get(key, payload=encode(message), timeout=timeout):
        if reply.ok is None:
            raise ClusterError(f"{what}: {reply.err.payload.to_string()}")
        answer = decode(reply.ok.payload)
        if "error" in answer:
            raise ClusterError(str(answer["error"]))
        return answer
    if time.monotonic() - began < min(timeout / 2, NOBODY_ANSWERS_S):
        raise ClusterError(
            f"{what}: nothing answers {key} for this session: refused by access control, or"
            " shutting down (docs/cluster.md, Access control)"
        )
    raise ClusterError(f"{what}: no answer within {timeout:g} s")


def reply(query: Any, message: dict[str, Any]) -> None:
    """Answer ``query`` with ``message`` and end it (a query lives until it is dropped)."""
    try:
        query.reply(query.key_expr, encode(message))
    finally:
        query.drop()
