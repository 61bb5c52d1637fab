"""The RL core, free of environments and networks: the data contract (rollouts, batches), return
estimators, losses (pure functions), the learner, live hyper-parameters, schedules, replay,
checkpoints, RNG state and the loss-term protocol."""
