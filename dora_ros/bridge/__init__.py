"""bridge subsystem of dora-ros."""
