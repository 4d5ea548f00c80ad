"""Entry-point module of the spot finder: the command, threshold algorithms and filters."""

from friedel.hookspecs import hookimpl

from .command import FindSpots
from .filters import FILTERS
from .threshold import THRESHOLDS


@hookimpl
def friedel_commands():
    return [FindSpots]


@hookimpl
def friedel_spotfinder_thresholds():
    return list(THRESHOLDS)


@hookimpl
def friedel_spotfinder_filters():
    return list(FILTERS)
