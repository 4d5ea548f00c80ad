"""Geometry refinement of beam, detector, goniometer and crystal models (static models).

Public API::

    from friedel.plugins.refinement import refine, RefinementParams
    result = refine(experiments, reflections, params=RefinementParams())
    result.experiments   # refined copies of the models (inputs untouched; sharing kept)
    result.reflections   # copy with xyzcal.mm/px, used_in_refinement and centroid_outlier flags
    result.rmsds         # {experiment id: (rmsd_x mm, rmsd_y mm, rmsd_phi rad)}
    result.history       # per step: {"step", "nref", "rmsd", "chi2", "mu", "cycle"}
"""

__all__ = ["refine", "RefinementParams", "RefinementResult"]


def __getattr__(name):
    # imported on first use: the parameter scope alone (``friedel index --help``) needs no scipy
    if name == "RefinementParams":
        from friedel.plugins.refinement.params import RefinementParams

        return RefinementParams
    if name in ("refine", "RefinementResult"):
        from friedel.plugins.refinement import refiner

        return getattr(refiner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
