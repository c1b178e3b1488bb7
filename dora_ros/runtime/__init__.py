"""runtime subsystem of dora-ros."""
