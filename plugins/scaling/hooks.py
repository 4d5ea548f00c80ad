"""Entry-point module of the scaling plugins (registered in pyproject.toml)."""

from friedel.hookspecs import hookimpl


@hookimpl
def friedel_scaling_models():
    from friedel.plugins.scaling.models import BUILT_IN

    return list(BUILT_IN)


@hookimpl
def friedel_commands():
    from friedel.plugins.scaling.command import EstimateResolutionCommand, ScaleCommand

    return [ScaleCommand, EstimateResolutionCommand]
