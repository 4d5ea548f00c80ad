"""Parameters of ``friedel scale`` (the ``scaling`` scope and the output files)."""

from __future__ import annotations

import attrs

from friedel.phil import ParamInfo, param, scope, types


def model_choice(default: str = "auto", help: str = ""):  # noqa: A002
    """``model=auto|physical|KB|...``: a plugin choice that also accepts ``auto``."""
    from friedel.plugin_manager import plugin_names  # names only: no model is imported to list them

    info = ParamInfo(help=help, value_type=types.Choice(lambda: ["auto"] + sorted(plugin_names("scaling_models"))),
                     optional=False, plugin_point="scaling_models")
    return attrs.field(default=default, metadata={"friedel": info})


#: absorption_level -> (lmax, surface_weight), as users of the mature tools expect
ABSORPTION_LEVELS = {"low": (4, 5e5), "medium": (6, 5e4), "high": (6, 5e3)}


@scope
class PhysicalParams:
    """Smooth scale and relative B in rotation angle, and an absorption surface."""

    scale_interval: float | None = param(None, type=types.Float(min=0.1),
                                         help="Spacing of the scale smoother (degrees; None: from the scan range)")
    decay_interval: float | None = param(None, type=types.Float(min=0.1),
                                         help="Spacing of the relative-B smoother (degrees; None: from the scan range)")
    decay_correction: bool = param(True, help="Refine a relative B factor (radiation damage) smooth in rotation")
    decay_restraint: float = param(0.1, type=types.Float(min=0.0), help="Restraint weight pulling B towards 0",
                                   expert_level=2)
    absorption_correction: object = param("auto", choices=["auto", "True", "False"],
                                          help="Refine the absorption surface (auto: for scans wider than 60 degrees)")
    absorption_level: str = param("low", choices=["low", "medium", "high"],
                                  help="Expected absorption: low (~1%, lmax 4, weight 5e5), medium (~5%, lmax 6, "
                                  "5e4), high (>25%, lmax 6, 5e3)")
    lmax: int | None = param(None, type=types.Int(min=1, max=10),
                             help="Highest harmonic order of the absorption surface (None: from absorption_level)",
                             expert_level=1)
    surface_weight: float | None = param(None, type=types.Float(min=0.0),
                                         help="Restraint weight on the harmonic coefficients (None: from absorption_level)",
                                         expert_level=1)


@scope
class KBParams:
    """One scale and one relative B per data set."""

    decay_correction: bool = param(True, help="Refine the relative B factor")
    decay_restraint: float = param(1.0, type=types.Float(min=0.0),
                                   help="Restraint weight pulling B towards 0 (stills overlap little, and an "
                                   "unrestrained B runs away)", expert_level=2)


@scope
class CutParams:
    """Which observations take part (all other rows are flagged excluded_for_scaling)."""

    d_min: float | None = param(None, type=types.Float(min=0.0), help="High-resolution limit (Angstrom)")
    d_max: float | None = param(None, type=types.Float(min=0.0), help="Low-resolution limit (Angstrom)")
    partiality_cutoff: float = param(0.4, type=types.Float(min=0.0, max=1.0),
                                     help="Observations with a smaller partiality are not scaled")
    min_partiality: float = param(0.95, type=types.Float(min=0.0, max=1.0),
                                  help="Smallest partiality used to determine the scales (others are scaled, not used)",
                                  expert_level=1)
    min_isigi: float = param(-5.0, help="Observations with a smaller I/sigma(I) are not scaled", expert_level=1)
    exclude_images: list = param([], type=types.Str(), multiple=True,
                                 help="Images to leave out: 'dataset:first:last' (e.g. 0:101:200), repeatable")
    exclude_datasets: list = param([], type=types.Ints(), help="Data sets (experiment numbers, 0-based) to leave out")


@scope
class OutlierParams:
    """Rejection of observations that disagree with their equivalents."""

    algorithm: str = param("standard", choices=["standard", "simple", "null"],
                           help="standard: each observation against the mean of the others in its group; "
                           "simple: against the mean including itself; null: none")
    zmax: float = param(6.0, type=types.Float(min=0.0), help="Normalised deviation beyond which an observation is rejected")


@scope
class ErrorModelParams:
    """sigma'^2 = a^2 (sigma^2 + (b I)^2), fitted to the spread of equivalents."""

    model: str = param("basic", choices=["basic", "None"], help="Error model (None: keep the integration sigmas)")
    grouping: str = param("combined", choices=["combined", "individual"],
                          help="One error model for all data sets, or one per data set")
    method: str = param("robust", choices=["robust", "dials"],
                        help="robust: deviations from weighted means with their exact variance, robust "
                        "variances per intensity bin; dials: the equal-weight deviations and plain variances "
                        "of dials.scale (a comes out lower when equivalents have different weights)",
                        expert_level=1)
    min_Ih: float = param(25.0, help="Only groups with a larger scaled mean intensity are used", expert_level=1)
    a: float | None = param(None, help="Fix a (None: refine it)", expert_level=2)
    b: float | None = param(None, help="Fix b (None: refine it)", expert_level=2)


@scope
class RefineryParams:
    """The least-squares minimiser."""

    max_iterations: int = param(30, type=types.Int(min=1), help="Iterations per minimisation round")
    tolerance: float = param(1e-4, type=types.Float(min=0.0),
                             help="Stop when the relative decrease of the target falls below this")
    full_matrix: bool = param(True, help="Finish with a full-matrix round that gives parameter ESDs and "
                              "inverse-scale variances (switch off for very many data sets)")


@scope
class FilteringParams:
    """Removal of data sets (or image groups) that lower CC1/2 (multi-crystal work)."""

    method: str = param("None", choices=["None", "deltacchalf"], help="deltacchalf: remove groups whose "
                        "removal raises CC1/2 by far more than the others'")
    mode: str = param("dataset", choices=["dataset", "image_group"], help="Remove whole data sets or groups of images")
    group_size: int = param(10, type=types.Int(min=1), help="Images per group for mode=image_group")
    max_cycles: int = param(6, type=types.Int(min=1), help="Filter-and-rescale cycles")
    max_percent_removed: float = param(10.0, help="Stop when this percentage of observations has been removed")
    stdcutoff: float = param(4.0, help="Remove groups whose delta CC1/2 is below mean - stdcutoff * sigma")


@scope
class ScalingParams:
    """Scaling: models, intensities, target, outliers, error model."""

    model: str = model_choice("auto", help="Scaling model (auto: physical for rotation sweeps of at least "
                              "1 degree, KB for stills and narrower wedges)")
    intensity_choice: str = param("combine", choices=["profile", "sum", "combine"],
                                  help="Intensities to scale: profile-fitted, summation, or the combination "
                                  "(chosen by the lowest Rmeas)")
    Imid: float | None = param(None, help="Fix the profile/summation crossover intensity of combine (None: choose)",
                               expert_level=1)
    anomalous: bool = param(False, help="Keep I+ and I- apart in scaling and statistics")
    space_group: str | None = param(None, type=types.SpaceGroup(),
                                    help="Scale in this space group (None: the crystals' own, which must agree)")
    cut: CutParams = param(CutParams)
    outlier: OutlierParams = param(OutlierParams)
    error_model: ErrorModelParams = param(ErrorModelParams)
    refinery: RefineryParams = param(RefineryParams)
    filtering: FilteringParams = param(FilteringParams)
    n_bins: int = param(20, type=types.Int(min=1), help="Resolution bins of the merging-statistics table")


@scope
class ScaleOutputParams:
    """Output files."""

    experiments: str = param("scaled.expt", help="Experiments with the scaling models")
    reflections: str = param("scaled.refl", help="Reflections with inverse scale factors and flags")
    json: str = param("friedel.scale.json", help="Numbers of the tables (for friedel report)")


@scope
class ScaleParams:
    """Parameters of friedel scale."""

    scaling: ScalingParams = param(ScalingParams)
    output: ScaleOutputParams = param(ScaleOutputParams)
