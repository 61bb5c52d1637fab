"""How every report figure places its legend and labels log axes."""

from __future__ import annotations

from typing import Any

from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullFormatter


def legend_outside(ax: Any, fontsize: int = 7) -> None:
    """The legend to the right of the axes, so however many entries it has it never covers or
    squashes the curves (figures are saved with ``bbox_inches="tight"``, which makes room)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)


def log_y(ax: Any) -> None:
    """A log y axis with readable ticks over narrow ranges too: 1, 2 and 5 per decade, in
    scientific notation, no minor labels."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(LogFormatterSciNotation(labelOnlyBase=False))
    ax.yaxis.set_minor_formatter(NullFormatter())


SAVE = {"bbox_inches": "tight"}
"""keyword arguments of every ``savefig``"""
