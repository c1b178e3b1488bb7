"""Every Zenoh key expression of the control plane and of the data path, in one place.

docs/cluster.md lists them. Requests are queries to queryables, presence is liveliness tokens,
events are publications:

- ``dora-ros/coordinator`` (liveliness): the coordinator is up.
- ``dora-ros/coordinator/api/<verb>`` (queryable): ``start``, ``list``, ``stop``, ``logs``,
  ``status``, ``destroy``; a JSON request in, a JSON reply out (``{"error": ...}`` on failure).
- ``dora-ros/daemon/<machine>`` (liveliness): daemon ``<machine>`` is up.
- ``dora-ros/daemon/<machine>/api/<verb>`` (queryable): ``spawn``, ``logs``, ``runs``.
- ``dora-ros/cluster/destroy`` (publication): every daemon exits (``dora-ros down``).
- ``dora-ros/df/<id>/run/<machine>`` (liveliness + queryable): the part of dataflow ``<id>`` on
  ``<machine>`` runs; a query returns its description (a restarted coordinator learns it back).
- ``dora-ros/df/<id>/run/<machine>/api/<verb>`` (queryable): the dataflow API of that part's
  supervisor (``describe``, node verbs, taps; ``dataflow_api.py``); ``dora-ros run`` serves it too,
  on a local Unix socket only.
- ``dora-ros/df/<id>/tap/<node>/<output>`` (publication): the messages of a tapped output, while
  someone listens (``tap_server.py``): Arrow IPC, a JSON attachment.
- ``dora-ros/df/<id>/event/<machine>`` (publication): ``ready``, ``node_finished``, ``done``.
- ``dora-ros/df/<id>/control`` (publication): ``start``, ``stop``, ``machine_lost``.
- ``dora-ros/df/<id>/status`` (publication): the dataflow ended (``finished``).
- ``dora-ros/df/<id>/log/<node>`` (publication): each output line of a node (``logs -f``).
- ``dora-ros/df/<id>/data/<sender>/<receiver>`` (publication): the frames of one edge between
  machines, from the sending node straight to the receiving node.
- ``dora-ros/df/<id>/data/<sender>/<receiver>/lines/<index>`` (publication): the output lines of
  ``sender`` (output ``index``: ``send_stdout_as``, or stdout log records) for a receiver on
  another machine, from the sender's machine run (``remote_link.RemoteLines``).
"""

from __future__ import annotations

ROOT = "dora-ros"
COORDINATOR = f"{ROOT}/coordinator"
DAEMONS = f"{ROOT}/daemon/*"
DESTROY = f"{ROOT}/cluster/destroy"


def coordinator_api(verb: str) -> str:
    return f"{COORDINATOR}/api/{verb}"


def daemon(machine: str) -> str:
    return f"{ROOT}/daemon/{machine}"


def daemon_api(machine: str, verb: str) -> str:
    return f"{ROOT}/daemon/{machine}/api/{verb}"


def dataflow(dataflow_id: str) -> str:
    return f"{ROOT}/df/{dataflow_id}"


def run(dataflow_id: str, machine: str) -> str:
    return f"{ROOT}/df/{dataflow_id}/run/{machine}"


def run_api(dataflow_id: str, machine: str, verb: str) -> str:
    return f"{ROOT}/df/{dataflow_id}/run/{machine}/api/{verb}"


def tap(dataflow_id: str, node: str, output: str) -> str:
    return f"{ROOT}/df/{dataflow_id}/tap/{node}/{output}"


def event(dataflow_id: str, machine: str) -> str:
    return f"{ROOT}/df/{dataflow_id}/event/{machine}"


def control(dataflow_id: str) -> str:
    return f"{ROOT}/df/{dataflow_id}/control"


def status(dataflow_id: str) -> str:
    return f"{ROOT}/df/{dataflow_id}/status"


def log(dataflow_id: str, node: str) -> str:
    return f"{ROOT}/df/{dataflow_id}/log/{node}"


def data(dataflow_id: str, sender: str, receiver: str) -> str:
    return f"{ROOT}/df/{dataflow_id}/data/{sender}/{receiver}"


ALL_RUNS = f"{ROOT}/df/*/run/*"
ALL_EVENTS = f"{ROOT}/df/*/event/*"


def last_chunk(key: object) -> str:
    """The last ``/``-separated chunk of a key expression (a machine or node id)."""
    return str(key).rsplit("/", 1)[-1]
