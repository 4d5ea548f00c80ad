"""Entry-point module of the spot finder: the command, threshold algorithms and filters.

The command is declared lazily (its module is imported only when it runs or shows its help).
"""

from friedel.hookspecs import LazyPlugin, hookimpl


@hookimpl
def friedel_commands():
    return [LazyPlugin("find_spots", "friedel.plugins.spotfinding.command:FindSpots",
                       help="Find strong spots on every image (writes strong.refl)")]


@hookimpl
def friedel_spotfinder_thresholds():
    from .threshold import THRESHOLDS

    return list(THRESHOLDS)


@hookimpl
def friedel_spotfinder_filters():
    from .filters import FILTERS

    return list(FILTERS)
