"""Parameter scopes of spot finding, in a module of their own: ``friedel find_spots --help`` and
the parameter trees of other commands need them without importing the numba kernels.

The built-in thresholds' and filters' classes live in :mod:`.threshold` and :mod:`.filters`
(which re-export these names).
"""

from __future__ import annotations

from friedel.parallel import MpParams
from friedel.phil import param, plugin_choice, scope, types


@scope
class DispersionParams:
    """Local index-of-dispersion threshold."""

    gain: float = param(1.0, help="Detector gain (ADU per photon); 1 for photon counters")
    kernel_size: tuple = param((3, 3), type=types.Ints(size=2),
                               help="Half-size (fast, slow) of the local box: the box is (2k+1)^2 pixels")
    sigma_background: float = param(6.0, help="Sigma for the index-of-dispersion (background) test")
    sigma_strong: float = param(3.0, help="Sigma for the pixel-above-local-mean (strong) test")
    min_local: int = param(2, help="Minimum number of good pixels in the box for a pixel to be tested")
    global_threshold: float = param(0.0, help="Pixels at or below this value are never strong")


@scope
class GlobalParams:
    """A single count threshold for the whole image."""

    threshold: float = param(10.0, help="Pixels above this value (counts) are strong")


@scope
class IceRingParams:
    """Remove spots on the powder rings of hexagonal ice."""

    filter: bool = param(False, help="Remove spots on ice rings")
    width: float = param(0.002, help="Full width of an ice ring in 1/d^2 (1/Angstrom^2)")


@scope
class UntrustedParams:
    """Regions of the detector whose spots are discarded (pixel coordinates)."""

    rectangle: list = param([], type=types.Ints(size=5), multiple=True,
                            help="panel x0 x1 y0 y1: remove spots centred in this box (may repeat)")
    circle: list = param([], type=types.Floats(size=4), multiple=True,
                         help="panel xc yc r: remove spots centred in this circle (may repeat)")
    polygon: list = param([], type=types.Floats(), multiple=True,
                          help="panel x1 y1 x2 y2 x3 y3 ...: remove spots centred in this polygon (may repeat)")


@scope
class BackgroundGradientParams:
    """Remove spots sitting on steep backgrounds (powder or ice rings, beam-stop shadow edges)."""

    filter: bool = param(False, help="Remove spots whose local background has a steep gradient")
    background_size: int = param(2, help="Width (pixels) of the border around the spot used for the background")
    gradient_cutoff: float = param(4.0, help="Maximum background change across the box, in background sigmas")


@scope(plugins=("spotfinder_filters",))  # third-party filters' Params appear here, by name
class FilterParams:
    """Which found spots to keep."""

    min_spot_size: object = param("Auto", type=types.IntOrAuto(min=1),
                                  help="Smallest spot (strong pixels); Auto: 3 for pixel-array detectors, 6 for CCDs")
    max_spot_size: int = param(1000, help="Largest spot (strong pixels)")
    max_separation: float | None = param(2.0, help="Largest distance (pixels) between a spot's peak pixel and its centroid")
    d_min: float | None = param(None, help="Remove spots at higher resolution than this (Angstrom)")
    d_max: float | None = param(None, help="Remove spots at lower resolution than this (Angstrom)")
    ice_rings: IceRingParams = param(IceRingParams)
    untrusted: UntrustedParams = param(UntrustedParams)
    background_gradient: BackgroundGradientParams = param(BackgroundGradientParams)


@scope
class ThresholdParams:
    """How strong pixels are told from background."""

    # dispersion_extended, as in DIALS 3.12: the plain test lets a bright spot inflate its own box
    # statistics and cuts its tails, which biases the centroid towards the peak pixel
    algorithm: str = plugin_choice("spotfinder_thresholds", default="dispersion_extended",
                                   help="Threshold algorithm for strong pixels (dispersion_extended: two passes, "
                                        "the background measured without the spot; dispersion: one pass)")


@scope
class SpotfinderParams:
    """Spot finding."""

    scan_range: list = param([], type=types.Ints(size=2), multiple=True,
                             help="first,last image numbers to search (inclusive; may repeat). Default: all images")
    threshold: ThresholdParams = param(ThresholdParams)
    filter: FilterParams = param(FilterParams)
    mp: MpParams = param(MpParams)
