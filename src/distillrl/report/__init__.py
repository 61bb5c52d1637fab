"""Reports over run directories: curves, λ traces, speed-ups, PBT lineages."""
