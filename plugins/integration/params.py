"""Parameters of ``friedel integrate`` (plugin scopes add themselves under their choices)."""

from __future__ import annotations

from friedel.parallel import MpParams
from friedel.phil import param, plugin_choice, scope, types


@scope
class PredictionParams:
    """Which reflections are predicted."""

    d_min: float | None = param(None, help="High-resolution limit (Angstrom); None: the detector corners")
    d_max: float | None = param(None, help="Low-resolution limit (Angstrom); None: no limit")
    padding: float = param(1.0, help="Predict this far (degrees) beyond each end of the scan, so that partials "
                                      "whose peak lies just outside are measured", expert_level=1)


@scope
class ReferenceParams:
    """Reference profiles for profile fitting."""

    detector_regions: int = param(3, type=types.Int(min=1), help="Reference profiles on an N x N grid of "
                                  "directions across the detector", expert_level=1)
    scan_step: float = param(5.0, help="Spacing of reference profiles in rotation angle (degrees)", expert_level=1)
    grid_points: int = param(31, type=types.Int(min=5), help="Points per axis of the (c1, c2) profile grid",
                             expert_level=2)
    min_spots: int = param(10, type=types.Int(min=1), help="A reference profile needs this many strong full "
                           "reflections (weighted); fewer and its reflections fall back to the nearest profile "
                           "that has them", expert_level=1)
    min_i_over_sigma: float = param(3.0, help="Reference reflections need I/sigma(sum) above this", expert_level=2)


@scope
class ProfileParams:
    """The reflection profile model and profile fitting."""

    algorithm: str = plugin_choice("profile_models", default="gaussian_rs", help="Profile model")
    fitting: bool = param(True, help="Fit every reflection with the reference profiles (False: summation only)")
    reference: ReferenceParams = param(ReferenceParams)


@scope
class BackgroundParams:
    """Background under the spots."""

    algorithm: str = plugin_choice("background_algorithms", default="auto",
                                   help="Background model (auto: glm for photon-counting detectors, else simple)")


@scope
class BlockParams:
    """How images are read in blocks of frames."""

    size: object = param("Auto", type=types.IntOrAuto(min=1),
                         help="Frames per parallel job (Auto: the scan split over mp.nproc jobs)")
    max_memory_usage: float = param(0.9, type=types.Float(min=0.01, max=1.0),
                                    help="Fraction of the available memory (cgroup limits respected) that live "
                                         "shoeboxes may use")
    max_window_mb: float = param(256.0, help="Upper bound (MB) on the shoeboxes of one window of reflections, "
                                             "whatever the memory available", expert_level=2)


@scope
class IntegrationParams:
    """Integration."""

    background: BackgroundParams = param(BackgroundParams)
    block: BlockParams = param(BlockParams)
    mp: MpParams = param(MpParams)
    min_zeta: float = param(0.05, help="Reflections with |zeta| below this (near the rotation axis) are not integrated")
    valid_foreground_threshold: float = param(0.75, help="Reflections with a smaller fraction of valid foreground "
                                              "pixels are not integrated", expert_level=1)
    sigma_b_multiplier: float = param(2.0, help="Background box half-width in units of the foreground radius",
                                      expert_level=2)
    exclude_images: list = param([], type=types.Ints(size=2), multiple=True,
                                 help="first,last image numbers (inclusive) to leave out; may repeat")


@scope
class OutputParams:
    experiments: str = param("integrated.expt", help="Experiments with the profile model")
    reflections: str = param("integrated.refl", help="Integrated reflections")
    include_unintegrated: bool = param(False, help="Also write reflections that could not be integrated",
                                       expert_level=1)


@scope
class IntegrateParams:
    """Parameters of friedel integrate."""

    prediction: PredictionParams = param(PredictionParams)
    profile: ProfileParams = param(ProfileParams)
    integration: IntegrationParams = param(IntegrationParams)
    output: OutputParams = param(OutputParams)
