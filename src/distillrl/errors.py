"""The project's one error type.

:class:`DistillRLError` (and its subclasses) mean *the input is wrong*: a bad option, an
unknown environment, an unreadable checkpoint. The command line turns exactly these into a
one-line message and exit code 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class DistillRLError(ValueError):
    """A problem with the user's input, reported as one line (subclasses name the room)."""


class ConfigError(DistillRLError):
    """A configuration value is unknown, mistyped or outside its domain."""


class EnvError(DistillRLError):
    """Unknown or unusable environment id."""


class TeacherError(DistillRLError):
    """A teacher that cannot be loaded or does not fit the environment."""


class SourceError(DistillRLError):
    """A run directory, checkpoint or zoo name that cannot be resolved to an agent."""


class CheckpointError(DistillRLError):
    """A checkpoint that is missing, truncated, corrupted, foreign or of another format."""


class RunDirError(DistillRLError):
    """A run directory that cannot be used as asked (exists, nothing to resume, ...)."""
