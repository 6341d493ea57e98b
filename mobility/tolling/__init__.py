"""ETC toll plazas: generation, simulation, queueing theory and lane-mix optimisation."""
