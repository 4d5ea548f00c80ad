"""Entry-point module of the refinement plugins (registered in pyproject.toml)."""

from friedel.hookspecs import LazyPlugin, hookimpl


@hookimpl
def friedel_refinement_parameterisations():
    # declared without parameters: a parameter tree needs no import of the models' code
    module = "friedel.plugins.refinement.parameterisations:"
    return [LazyPlugin(name, module + cls, params=None) for name, cls in (
        ("beam", "BeamParameterisation"), ("crystal_orientation", "CrystalOrientationParameterisation"),
        ("crystal_unit_cell", "CrystalUnitCellParameterisation"), ("detector", "DetectorGroupParameterisation"),
        ("goniometer", "GoniometerParameterisation"))]


@hookimpl
def friedel_refinement_engines():
    module = "friedel.plugins.refinement.engines:"  # scipy is imported when an engine runs
    return [LazyPlugin("LevMar", module + "LevMar", params=None),
            LazyPlugin("GaussNewton", module + "GaussNewton", params=None)]


@hookimpl
def friedel_outlier_rejectors():
    from friedel.plugins.refinement.outliers import BUILT_IN

    return list(BUILT_IN)


@hookimpl
def friedel_commands():
    return [LazyPlugin("refine", "friedel.plugins.refinement.command:RefineCommand",
                       help="Refine the experimental geometry against indexed spot positions")]
