"""Spot filters (hook ``friedel_spotfinder_filters``): which found spots to keep.

Each filter is a class with a ``name`` and is called as
``filter(reflections, experiments, params) -> bool array`` (True = keep), where ``params``
is the ``spotfinder.filter`` scope. Filters run in order, each on the survivors of the
previous one, so the count removed by each is unambiguous.
"""

from __future__ import annotations

import functools

import gemmi
import numpy as np

from friedel.contracts.spotfinding import SpotFilter
from friedel.errors import ParameterError

from .labelling import PEAK_COLUMN
from .params import BackgroundGradientParams, FilterParams, IceRingParams, UntrustedParams  # noqa: F401


# ---------------------------------------------------------------------------------------
def spot_resolution(reflections, experiments) -> np.ndarray:
    """d-spacing (Angstrom) at each spot's centroid."""
    d = np.full(len(reflections), np.inf)
    xy = reflections["xyzobs.px.value"][:, :2]
    ids = reflections["id"]
    panels = reflections["panel"]
    for i, expt in enumerate(experiments):
        for p, panel in enumerate(expt.detector):
            sel = (ids == i) & (panels == p)
            if sel.any():
                d[sel] = panel.resolution_at_pixel(expt.beam.s0, xy[sel])
    return d


class MinSpotSize(SpotFilter):
    """Remove spots with fewer strong pixels than ``min_spot_size``."""

    name = "min_spot_size"

    def __call__(self, reflections, experiments, params):
        size = params.min_spot_size
        if size == "Auto":
            ccd = any("CCD" in p.type.upper() for e in experiments for p in e.detector)
            size = 6 if ccd else 3
        return reflections["n_signal"] >= int(size)


class MaxSpotSize(SpotFilter):
    """Remove spots with more strong pixels than ``max_spot_size``."""

    name = "max_spot_size"

    def __call__(self, reflections, experiments, params):
        if params.max_spot_size is None:
            return np.ones(len(reflections), bool)
        return reflections["n_signal"] <= int(params.max_spot_size)


class MaxSeparation(SpotFilter):
    """Remove spots whose brightest pixel is far from the centroid (merged or streaky spots)."""

    name = "max_separation"

    def __call__(self, reflections, experiments, params):
        if params.max_separation is None or PEAK_COLUMN not in reflections:
            return np.ones(len(reflections), bool)
        sep = np.linalg.norm(reflections[PEAK_COLUMN] - reflections["xyzobs.px.value"], axis=1)
        return sep <= params.max_separation


class ResolutionRange(SpotFilter):
    """Remove spots outside ``d_min`` .. ``d_max`` (Angstrom)."""

    name = "resolution"

    def __call__(self, reflections, experiments, params):
        keep = np.ones(len(reflections), bool)
        if params.d_min is None and params.d_max is None:
            return keep
        if params.d_min is not None and params.d_max is not None and params.d_min >= params.d_max:
            raise ParameterError(f"d_min={params.d_min} must be smaller than d_max={params.d_max}")
        d = spot_resolution(reflections, experiments)
        if params.d_min is not None:
            keep &= d >= params.d_min
        if params.d_max is not None:
            keep &= d <= params.d_max
        return keep


@functools.lru_cache(maxsize=8)
def ice_ring_d_spacings(d_min: float = 0.8) -> np.ndarray:
    """d-spacings (Angstrom) of the allowed reflections of hexagonal ice Ih, down to ``d_min``."""
    cell = gemmi.UnitCell(4.498, 4.498, 7.338, 90, 90, 120)
    ops = gemmi.SpaceGroup("P 63/m m c").operations()
    hmax = [int(np.ceil(cell.parameters[i] / d_min)) for i in range(3)]
    grid = np.stack(np.meshgrid(*[np.arange(-m, m + 1) for m in hmax], indexing="ij"), -1).reshape(-1, 3)
    grid = grid[np.any(grid != 0, axis=1)]
    d = np.array([cell.calculate_d(list(map(int, h))) for h in grid])
    grid, d = grid[d >= d_min], d[d >= d_min]
    allowed = np.array([not ops.is_systematically_absent(list(map(int, h))) for h in grid], bool)
    return np.unique(np.round(d[allowed], 4))[::-1]


class IceRings(SpotFilter):
    """Remove spots on hexagonal-ice powder rings (``ice_rings.filter=True``)."""

    name = "ice_rings"

    def __call__(self, reflections, experiments, params):
        if not params.ice_rings.filter or len(reflections) == 0:
            return np.ones(len(reflections), bool)
        d = spot_resolution(reflections, experiments)
        s2 = 1.0 / d**2
        rings = 1.0 / ice_ring_d_spacings(max(0.5, float(np.min(d)) * 0.9)) ** 2
        half = params.ice_rings.width / 2
        on_ring = np.any(np.abs(s2[:, None] - rings[None, :]) <= half, axis=1)
        return ~on_ring


def _points_in_polygon(x, y, poly):
    """Even-odd rule; loops over the polygon's edges, vectorised over points."""
    inside = np.zeros(len(x), bool)
    n = len(poly)
    for i in range(n):
        x1, y1 = poly[i]
        x2, y2 = poly[(i + 1) % n]
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (x < xc)
    return inside


class UntrustedRegions(SpotFilter):
    """Remove spots centred in untrusted rectangles, circles or polygons."""

    name = "untrusted"

    def __call__(self, reflections, experiments, params):
        u = params.untrusted
        keep = np.ones(len(reflections), bool)
        x, y = reflections["xyzobs.px.value"][:, 0], reflections["xyzobs.px.value"][:, 1]
        panel = reflections["panel"]
        for p, x0, x1, y0, y1 in u.rectangle or []:
            keep &= ~((panel == p) & (x >= x0) & (x < x1) & (y >= y0) & (y < y1))
        for p, xc, yc, r in u.circle or []:
            keep &= ~((panel == int(p)) & ((x - xc) ** 2 + (y - yc) ** 2 <= r**2))
        for values in u.polygon or []:
            if len(values) < 7 or len(values) % 2 == 0:
                raise ParameterError("untrusted.polygon needs a panel number then at least three x y vertex pairs")
            poly = np.asarray(values[1:], float).reshape(-1, 2)
            keep &= ~((panel == int(values[0])) & _points_in_polygon(x, y, poly))
        return keep


class BackgroundGradient(SpotFilter):
    """Remove spots whose surrounding background has a steep gradient.

    Works on the summed foreground-free border of each spot's shoebox region, read back
    from the images: a plane ``a + b x + c y`` is fitted to the border pixels and a spot is
    removed when the plane changes across the box by more than ``gradient_cutoff`` times
    the Poisson sigma of the background. Off by default (it reads the images again).
    """

    name = "background_gradient"
    #: image source, set by the spot finder (None: read the experiment's image files)
    opener = None

    def __call__(self, reflections, experiments, params):
        g = params.background_gradient
        if not g.filter or len(reflections) == 0:
            return np.ones(len(reflections), bool)
        from .gradient import background_gradient_sigmas

        sig = background_gradient_sigmas(reflections, experiments, g.background_size, self.opener)
        return sig <= g.gradient_cutoff


FILTERS = [MinSpotSize, MaxSpotSize, MaxSeparation, ResolutionRange, IceRings, UntrustedRegions, BackgroundGradient]
