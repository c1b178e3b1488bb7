"""launch subsystem of dora-ros."""
