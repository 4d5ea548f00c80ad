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
    # declared: the numba kernels are imported when spots are found, not for parameter trees
    module, params = "friedel.plugins.spotfinding.threshold:", "friedel.plugins.spotfinding.params:"
    return [LazyPlugin("dispersion", module + "DispersionThreshold", params=params + "DispersionParams"),
            LazyPlugin("dispersion_extended", module + "DispersionExtendedThreshold", params=None),
            LazyPlugin("global", module + "GlobalThreshold", params=params + "GlobalParams")]


@hookimpl
def friedel_spotfinder_filters():
    # in the order they run (built-ins are configured by spotfinder.filter.*, not by own Params)
    module = "friedel.plugins.spotfinding.filters:"
    return [LazyPlugin(name, module + cls, params=None) for name, cls in (
        ("min_spot_size", "MinSpotSize"), ("max_spot_size", "MaxSpotSize"), ("max_separation", "MaxSeparation"),
        ("resolution", "ResolutionRange"), ("ice_rings", "IceRings"), ("untrusted", "UntrustedRegions"),
        ("background_gradient", "BackgroundGradient"))]
