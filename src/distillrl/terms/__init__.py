"""Loss terms and training aids added to a trainer: kickstarting, RND, IE-KD, codistillation,
KD controls, gradient surgery, task curricula."""
