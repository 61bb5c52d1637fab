"""Ray: populations (PBT), seed sweeps, codistillation peers, cluster connection."""
