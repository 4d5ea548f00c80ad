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
    max_window_mb: float = param(128.0, help="Upper bound (MB) on the shoeboxes of one window of reflections, "
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


# -- parameters of the built-in profile and background models (here, not beside their numba and
# scipy code, so that friedel integrate --help imports neither) --------------------------------------
@scope
class GaussianRSParams:
    """Gaussian profile in the Kabsch reciprocal-space frame."""

    n_sigma: float = param(3.0, type=types.Float(min=0.5), help="Foreground half-width in units of sigma")
    sigma_b: float | None = param(None, help="Beam divergence E.S.D. (degrees); give with sigma_m to skip the estimate")
    sigma_m: float | None = param(None, help="Mosaicity E.S.D. (degrees); give with sigma_b to skip the estimate")
    min_spots: int = param(50, type=types.Int(min=5), help="Strong indexed spots needed to estimate the widths "
                           "(or min_spots_per_degree of the scan)", expert_level=1)
    min_spots_per_degree: float = param(20.0, help="Enough spots for the estimate, per degree of scan, on short "
                                        "sweeps", expert_level=1)
    max_spots: int = param(10000, type=types.Int(min=50), help="Use at most this many spots (evenly chosen)",
                           expert_level=2)
    min_zeta: float = param(0.05, help="Spots nearer the rotation axis are not used for sigma_m", expert_level=2)
    background_box: float = param(2.0, type=types.Float(min=1.0),
                                  help="Shoebox half-width on the detector in units of the foreground radius",
                                  expert_level=2)


@scope
class SimpleParams:
    """A constant per box or per frame, after outlier rejection."""

    model: str = param("constant3d", choices=["constant3d", "constant2d"], help="Constant over the box or per frame")
    outlier: str = param("nsigma", choices=["nsigma", "tukey", "null"], help="Outlier rejection")
    n_sigma: float = param(3.0, help="nsigma: reject pixels further than this many SDs from the mean")
    tukey_k: float = param(1.5, help="tukey: fences at this many IQRs outside the quartiles", expert_level=1)
    min_pixels: int = param(10, type=types.Int(min=1), help="Fewer background pixels: the reflection fails",
                            expert_level=1)


@scope
class GlmParams:
    """Robust Poisson GLM background."""

    model: str = param("constant3d", choices=["constant3d", "constant2d"], help="Constant over the box or per frame")
    tuning_constant: float = param(1.345, help="Huber tuning constant of the Pearson residuals", expert_level=1)
    min_pixels: int = param(10, type=types.Int(min=1), help="Fewer background pixels: the reflection fails",
                            expert_level=1)
