"""The ``distillrl`` command line (entry point :func:`distillrl.cli.main.main`)."""

from distillrl.cli.main import main

__all__ = ["main"]
