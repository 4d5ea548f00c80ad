"""Entry-point module of the scaling plugins (registered in pyproject.toml)."""

from friedel.hookspecs import LazyPlugin, hookimpl


@hookimpl
def friedel_scaling_models():
    from friedel.plugins.scaling.models import BUILT_IN

    return list(BUILT_IN)


@hookimpl
def friedel_commands():
    # declared: a command's module is imported only when it runs (friedel --help stays fast)
    return [
        LazyPlugin("scale", "friedel.plugins.scaling.command:ScaleCommand",
                   help="Scale intensities of sweeps/stills jointly, fit the error model, report merging statistics"),
        LazyPlugin("estimate_resolution", "friedel.plugins.scaling.command:EstimateResolutionCommand",
                   help="Suggest a resolution limit from scaled data (CC1/2 tanh fit, optional I/sigma, completeness)"),
    ]
