"""distillrl — teach reinforcement-learning agents with agents."""

__version__ = "0.1.0"
