"""Entry-point module of the refinement plugins (registered in pyproject.toml)."""

from friedel.hookspecs import LazyPlugin, hookimpl


@hookimpl
def friedel_refinement_parameterisations():
    from friedel.plugins.refinement.parameterisations import BUILT_IN

    return list(BUILT_IN)


@hookimpl
def friedel_refinement_engines():
    from friedel.plugins.refinement.engines import BUILT_IN

    return list(BUILT_IN)


@hookimpl
def friedel_outlier_rejectors():
    from friedel.plugins.refinement.outliers import BUILT_IN

    return list(BUILT_IN)


@hookimpl
def friedel_commands():
    return [LazyPlugin("refine", "friedel.plugins.refinement.command:RefineCommand",
                       help="Refine the experimental geometry against indexed spot positions")]
