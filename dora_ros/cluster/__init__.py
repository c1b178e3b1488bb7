"""Control plane and multi-machine dataflows on Zenoh (docs/cluster.md).

``coordinator`` (a Zenoh router: registry of daemons and dataflows, the CLI's requests),
``daemon`` (one per machine: spawns a ``machine_run`` per dataflow part), ``machine_run`` (the
runtime's supervisor for the nodes of one machine, synchronised with the other machines),
``remote_link`` (node-to-node edges between machines), ``keys`` (every key expression) and
``zenoh_config`` (sessions as dora-rs 1.1 configures them). ``commands`` holds the CLI.
"""
