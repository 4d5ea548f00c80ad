"""Entry-point module of the scaling plugins (registered in pyproject.toml)."""

from friedel.hookspecs import LazyPlugin, hookimpl


@hookimpl
def friedel_scaling_models():
    # parameters live in the cheap params module: a parameter tree imports no model code
    return [
        LazyPlugin("physical", "friedel.plugins.scaling.models:PhysicalModel",
                   help="Smooth scale and relative B in rotation angle, spherical-harmonic absorption surface",
                   params="friedel.plugins.scaling.params:PhysicalParams"),
        LazyPlugin("KB", "friedel.plugins.scaling.models:KBModel",
                   help="One scale and one relative B per data set (stills, narrow wedges)",
                   params="friedel.plugins.scaling.params:KBParams"),
    ]


@hookimpl
def friedel_commands():
    return [
        LazyPlugin("scale", "friedel.plugins.scaling.command:ScaleCommand",
                   help="Scale intensities of sweeps/stills jointly, fit the error model, report merging statistics"),
        LazyPlugin("estimate_resolution", "friedel.plugins.scaling.command:EstimateResolutionCommand",
                   help="Suggest a resolution limit from scaled data (CC1/2 tanh fit, optional I/sigma, completeness)"),
    ]
