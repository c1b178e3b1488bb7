"""msgconv subsystem of dora-ros."""
