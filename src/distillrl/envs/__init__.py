"""Environments: ids and option strings (gym:, minatar:, minigrid:, ale:), vector envs, task sets."""
