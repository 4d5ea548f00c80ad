"""Parameters of geometry refinement (the ``refinement`` scope of ``friedel refine`` and indexing)."""

from __future__ import annotations

from friedel.phil import param, plugin_choice, plugin_choices, scope, types


#: several words from a fixed set (``a,b``, ``a+b``; ``None`` for none): the kernel's multi-choice type
ChoiceList = types.Choices


class FloatOrAuto(types.Float):
    """A number or ``Auto`` (kept as the string "Auto")."""

    name = "float(Auto)"

    def parse(self, text):
        if types.Str().parse(text).strip().lower() == "auto":
            return "Auto"
        return super().parse(text)

    def validate(self, value):
        return value if value == "Auto" else super().validate(value)


@scope
class BeamParams:
    """Beam direction (two angles, mrad) and wavelength."""

    fix: list = param(
        ["in_spindle_plane", "wavelength"],
        type=ChoiceList(["all", "in_spindle_plane", "out_spindle_plane", "wavelength"]),
        help="Beam parameters to fix. in_spindle_plane keeps the beam in its initial plane with the "
        "rotation axis (fixes the tilt out of that plane, which a single sweep cannot tell from a "
        "crystal rotation); out_spindle_plane fixes the tilt within it; None refines all",
    )


@scope
class CrystalParams:
    """Crystal orientation (three rotations about the lab axes, mrad) and symmetry-constrained cell."""

    fix: str = param("none", choices=["none", "cell", "orientation", "all"], help="Crystal parameters to fix")


@scope
class DetectorParams:
    """Detector position (distance, two shifts, mm) and orientation (three rotations, mrad)."""

    fix: str = param("none", choices=["none", "all", "position", "orientation", "distance"],
                     help="Detector parameters to fix")
    panels: str = param(
        "automatic", choices=["automatic", "single", "multiple", "hierarchical"],
        help="single: all panels move as one rigid group; multiple: each panel has its own six "
        "parameters; hierarchical: one rigid group per node of the detector hierarchy at "
        "hierarchy_level; automatic: single",
    )
    hierarchy_level: int = param(0, type=types.Int(min=0), help="Level of the detector hierarchy for panels=hierarchical")


@scope
class GoniometerParams:
    """Rotation-axis direction (two angles, mrad); fixed unless asked for."""

    fix: str = param("all", choices=["none", "all"], help="Goniometer parameters to fix (refining them needs several sweeps)")


@scope
class AutoReductionParams:
    """What to do when a model is seen by too few reflections for its parameters."""

    min_nref_per_parameter: int = param(5, type=types.Int(min=1),
                                        help="Reflections that must see each free parameter (every reflection of an "
                                        "experiment sees all parameters of its models, as DIALS counts)")
    action: str = param("fail", choices=["fail", "fix"],
                        help="fail: stop with an error; fix: fix the parameters of under-determined models")


@scope
class SmootherParams:
    """The Gaussian smoother of scan-varying models."""

    interval_width_degrees: float = param(36.0, type=types.Float(min=0.01),
                                          help="Width of one smoother interval (degrees of rotation); the number "
                                          "of intervals is the scan width over this, at least 1")
    absolute_num_intervals: int | None = param(None, type=types.Int(min=1),
                                               help="Number of intervals, whatever the scan width (overrides "
                                               "interval_width_degrees)", expert_level=1)
    min_nref_per_sample: int = param(
        100, type=types.Int(min=1),
        help="Reflections (sums of smoother weights) each sample point needs; with fewer the intervals are "
        "widened, and a sweep that cannot give one interval this many stays static", expert_level=1)


@scope
class ParameterisationParams:
    """Which models are refined and how they are parameterised."""

    models: list = plugin_choices(
        "refinement_parameterisations",
        default=["beam", "crystal_orientation", "crystal_unit_cell", "detector", "goniometer"],
        help="Model parameterisations used, in order (a plugin's parameterisation is used only when named "
        "here); each keeps its own fix= settings", expert_level=2)
    scan_varying: str = param(
        "Auto", choices=["Auto", "True", "False"],
        help="Auto: a static fit, then crystal orientation and cell as smooth functions of the rotation angle "
        "for every sweep with enough reflections (stills stay static); True: scan-varying from the start; "
        "False: static only. The scan-varying model is kept only if it lowers the RMSDs")
    smoother: SmootherParams = param(SmootherParams)
    beam: BeamParams = param(BeamParams)
    crystal: CrystalParams = param(CrystalParams)
    detector: DetectorParams = param(DetectorParams)
    goniometer: GoniometerParams = param(GoniometerParams)
    auto_reduction: AutoReductionParams = param(AutoReductionParams)


@scope
class OutlierParams:
    """Rejection of reflections whose position residuals do not fit the others."""

    algorithm: str = plugin_choice("outlier_rejectors", default="mcd", help="Outlier rejection algorithm (null: none)")
    separate_experiments: bool = param(True, help="Reject outliers in each experiment separately")
    separate_panels: bool = param(True, help="Reject outliers on each panel separately", expert_level=1)
    separate_blocks: bool = param(True, help="Reject outliers in blocks of block_width degrees of rotation "
                                  "separately (a model that drifts over the scan does not inflate the spread)",
                                  expert_level=1)
    block_width: float = param(18.0, type=types.Float(min=0.1), help="Width of the blocks (degrees)",
                               expert_level=1)
    minimum_number_of_reflections: int = param(20, type=types.Int(min=1),
                                               help="Groups smaller than this are left alone", expert_level=1)
    repeat: bool = param(True, help="Reject again with the refined model and re-refine if the outliers changed",
                         expert_level=1)


@scope
class ReflectionsParams:
    """Which indexed reflections are used."""

    use_all_reflections: bool = param(False, help="Use every indexed reflection, however wide the scan")
    reflections_per_degree: object = param(
        "Auto", type=FloatOrAuto(min=1.0),
        help="Size of a random subset per degree of rotation. Auto: every indexed reflection, unless the scan is "
        "wider than one turn, then 100 per degree (at least minimum_sample_size). The indexing macro-cycles "
        "take 100 per degree when this is Auto")
    minimum_sample_size: int = param(1000, type=types.Int(min=1),
                                     help="A random subset is never smaller than this", expert_level=1)
    random_seed: int = param(42, help="Seed of the random subset (same seed, same result)", expert_level=1)
    close_to_spindle_cutoff: float = param(0.02, type=types.Float(min=0.0),
                                           help="Exclude reflections that cross the Ewald sphere almost tangentially "
                                           "(|e.(s1 x s0)| / |s0|^2 below this; their phi is ill-determined)",
                                           expert_level=1)


@scope
class TargetParams:
    """When to stop."""

    bin_size_fraction: float = param(0.0, type=types.Float(min=0.0),
                                     help="Stop when every RMSD is below this fraction of the pixel size "
                                     "(X, Y) and of the image width (phi); 0: run to convergence")
    rmsd_tolerance: float = param(1e-4, type=types.Float(min=0.0),
                                  help="Converged when no RMSD changes by more than this fraction", expert_level=1)
    stills_delta_psi_sigma: float = param(
        0.057, type=types.Float(min=1e-6),
        help="Stills: standard uncertainty (degrees) of DeltaPsi, the turn that brings each lattice point onto "
        "the Ewald sphere (a fraction of the mosaic spread; it weights the Ewald condition against X, Y)",
        expert_level=1)


@scope
class RefinementParams:
    """Geometry refinement of beam, crystal, detector and goniometer against observed spot positions."""

    engine: str = plugin_choice("refinement_engines", default="LevMar", help="Least-squares engine")
    max_iterations: int = param(30, type=types.Int(min=1), help="Most steps per refinement run")
    sparse: str = param("Auto", choices=["Auto", "True", "False"],
                           help="Sparse normal equations (Auto: when there are many parameters)", expert_level=1)
    parameterisation: ParameterisationParams = param(ParameterisationParams)
    outlier: OutlierParams = param(OutlierParams)
    reflections: ReflectionsParams = param(ReflectionsParams)
    target: TargetParams = param(TargetParams)


def static_subset_params(params: RefinementParams | None = None) -> RefinementParams:
    """A copy of ``params`` for refinement inside another step (indexing macro-cycles, Bravais
    settings): static models, and 100 reflections per degree where ``reflections_per_degree``
    is Auto (``friedel refine`` itself uses every reflection and a scan-varying second stage)."""
    import copy

    out = copy.deepcopy(params) if params is not None else RefinementParams()
    out.parameterisation.scan_varying = "False"
    if out.reflections.reflections_per_degree == "Auto":
        out.reflections.reflections_per_degree = 100.0
    return out
