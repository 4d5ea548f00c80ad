"""The Gaussian profile model in the Kabsch frame (``profile.algorithm=gaussian_rs``).

A reflection is a Gaussian of standard deviation sigma_b (beam divergence and crystal
size, radians) in (c1, c2) and sigma_m (mosaicity, radians) in c3. Both are estimated from
the strong indexed spots, as DIALS does:

* sigma_b = sqrt(mean over spots of sum(I theta^2) / (sum(I) - 1)), theta the angle between
  a strong pixel's ray and the predicted s1 (so it is the radial rms, sqrt(2) times the
  per-axis width of a round spot);
* sigma_m maximises the multinomial likelihood of each spot's counts on its frames, the
  fraction on frame [z, z + 1) being 0.5 (erf((z + 1 - zc) a) - erf((z - zc) a)),
  a = |zeta| dphi / (sqrt(2) sigma_m).

The foreground is the disc of radius n_sigma sigma_b in (c1, c2) on every frame of the box;
the box extends ``background_box`` times that radius on the detector and n_sigma sigma_m / |zeta|
in rotation.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import erf

from friedel.contracts.integration import LocalFrames, ProfileEstimate, ProfileModel
from friedel.errors import FriedelError
from friedel.flags import MaskCode
from friedel.plugins.integration.params import GaussianRSParams  # noqa: F401 - cheap module

log = logging.getLogger("friedel")


class TooFewSpots(FriedelError):
    """Not enough strong spots to estimate the profile of one experiment."""


def _pixel_table(shoeboxes, rows):
    """Flat (box, x, y, z, value) of the strong (valid foreground) pixels of boxes ``rows``."""
    sub = shoeboxes.select(rows)
    sizes = sub.offsets[1:] - sub.offsets[:-1]
    box = np.repeat(np.arange(len(sub)), sizes)
    local = np.arange(len(sub.data)) - np.repeat(sub.offsets[:-1], sizes)
    b = sub.bbox.astype(np.int64)[box]
    nx = b[:, 1] - b[:, 0]
    ny = b[:, 3] - b[:, 2]
    x = b[:, 0] + local % nx
    y = b[:, 2] + (local // nx) % ny
    z = b[:, 4] + local // (nx * ny)
    code = int(MaskCode.valid | MaskCode.foreground)
    keep = ((sub.mask & code) == code) & (sub.data > 0)
    return box[keep], x[keep], y[keep], z[keep], sub.data[keep].astype(float)


def estimate_sigma_b(shoeboxes, frames: LocalFrames) -> tuple[float, int]:
    """(sigma_b radians, spots used) from strong-spot pixels around the predicted centres."""
    box, x, y, _, value = _pixel_table(shoeboxes, np.arange(len(frames)))
    d = np.column_stack([x + 0.5, y + 0.5]) - frames.centre[box, :2]
    c = np.einsum("nij,nj->ni", frames.jacobian[box], d)
    theta2 = np.einsum("ni,ni->n", c, c)
    total = np.bincount(box, value, len(frames))
    moment = np.bincount(box, value * theta2, len(frames))
    ok = total > 1
    if ok.sum() == 0:
        return float("nan"), 0
    return float(np.sqrt(np.mean(moment[ok] / (total[ok] - 1)))), int(ok.sum())


def estimate_sigma_m(shoeboxes, frames: LocalFrames, min_zeta: float) -> tuple[float, int]:
    """(sigma_m radians, spots used): maximum likelihood of the counts per frame of every spot."""
    use = np.flatnonzero(np.abs(frames.zeta) >= min_zeta)
    if not len(use):
        return float("nan"), 0
    box, _, _, z, value = _pixel_table(shoeboxes, use)
    key = box * 1_000_000 + z
    uniq, inv = np.unique(key, return_inverse=True)
    k = np.bincount(inv, value)
    spot = uniq // 1_000_000
    frame = (uniq % 1_000_000).astype(float)
    return sigma_m_likelihood(spot, frame, k, frames.centre[use, 2], np.abs(frames.zeta[use]), frames.dphi)


def sigma_m_likelihood(spot, frame, k, zc_of_spot, zeta_of_spot, dphi) -> tuple[float, int]:
    """Maximum-likelihood sigma_m (radians) of counts ``k`` of spots on frames (a multinomial
    over each spot's frames); ``spot`` indexes the per-spot ``zc_of_spot`` / ``zeta_of_spot``."""
    spot = np.asarray(spot, np.int64)
    k = np.maximum(np.asarray(k, float), 0.0)
    frame = np.asarray(frame, float)
    n_spots = len(np.unique(spot))
    if n_spots == 0:
        return float("nan"), 0
    zc = np.asarray(zc_of_spot, float)[spot]
    a0 = np.abs(np.asarray(zeta_of_spot, float))[spot] * dphi / math.sqrt(2.0)
    n_bins = int(spot.max()) + 1

    def nll(log_sigma):
        a = a0 / math.exp(log_sigma)
        frac = 0.5 * (erf((frame + 1 - zc) * a) - erf((frame - zc) * a))
        frac = np.maximum(frac, 1e-300)
        norm = np.bincount(spot, frac, n_bins)[spot]
        return -float(np.sum(k * (np.log(frac) - np.log(norm))))

    res = minimize_scalar(nll, bounds=(math.log(1e-5), math.log(0.2)), method="bounded",
                          options={"xatol": 1e-4})
    return float(math.exp(res.x)), n_spots


class GaussianRSProfile(ProfileModel):
    """Gaussian in the Kabsch frame: sigma_b across, sigma_m along the rotation (DIALS gaussian_rs)."""

    name = "gaussian_rs"
    Params = GaussianRSParams

    def __init__(self, params=None, *, experiment):
        super().__init__(params, experiment=experiment)
        p = self.params
        if (p.sigma_b is None) != (p.sigma_m is None):
            raise FriedelError("give both profile.gaussian_rs.sigma_b and sigma_m (degrees), or neither")
        self.sigma_b = math.radians(p.sigma_b) if p.sigma_b is not None else None
        self.sigma_m = math.radians(p.sigma_m) if p.sigma_m is not None else None

    # -- estimation ---------------------------------------------------------------------------
    def estimate(self, reference, frames: LocalFrames) -> ProfileEstimate:
        p = self.params
        if self.sigma_b is not None:
            return ProfileEstimate(math.degrees(self.sigma_b), math.degrees(self.sigma_m), 0, 0, given=True)
        if reference is not None and len(reference) and "shoebox" not in reference:
            raise FriedelError("the reflections have no shoeboxes to estimate the profile from: give refined.refl "
                               "from find_spots/index/refine, or profile.gaussian_rs.sigma_b= and sigma_m= (degrees)")
        n = len(reference) if reference is not None else 0
        scan = self.experiment.scan
        degrees = abs(scan.oscillation[1]) * scan.num_images if scan is not None else 0.0
        needed = min(p.min_spots, max(int(math.ceil(p.min_spots_per_degree * degrees)), 5))
        if n < needed:
            raise TooFewSpots(f"too few strong indexed spots for profile modelling ({n} < {needed}); "
                               "give profile.gaussian_rs.sigma_b= and sigma_m= (degrees)")
        rows = np.arange(n)
        if n > p.max_spots:
            rows = np.linspace(0, n - 1, p.max_spots).astype(int)
        boxes = reference["shoebox"].select(rows)
        sub = frames.select(rows)
        sigma_b, nb = estimate_sigma_b(boxes, sub)
        sigma_m, nm = estimate_sigma_m(boxes, sub, p.min_zeta)
        if not (np.isfinite(sigma_b) and sigma_b > 0 and np.isfinite(sigma_m) and sigma_m > 0):
            raise FriedelError("could not estimate the profile widths from the strong spots; give "
                               "profile.gaussian_rs.sigma_b= and sigma_m= (degrees)")
        self.sigma_b, self.sigma_m = sigma_b, sigma_m
        return ProfileEstimate(math.degrees(sigma_b), math.degrees(sigma_m), nb, nm)

    def adopt(self, sigma_b: float, sigma_m: float) -> None:
        """Take widths (radians) estimated elsewhere (another sweep of the same crystal)."""
        self.sigma_b, self.sigma_m = float(sigma_b), float(sigma_m)

    def refine_sigma_m(self, frames: LocalFrames, spot, frame, counts) -> int | None:
        """Re-estimate sigma_m from the background-subtracted foreground counts of the reference
        reflections on every frame of their boxes (the strong-pixel estimate is biased wide:
        a neighbouring frame enters a strong spot only when its tail happens to be bright).
        ``spot`` indexes ``frames``. Returns the number of reflections used (None: kept)."""
        if self.params.sigma_m is not None:
            return None
        use = np.abs(frames.zeta[spot]) >= self.params.min_zeta
        if np.unique(spot[use]).size < min(self.params.min_spots, 20):
            return None
        sigma_m, n = sigma_m_likelihood(spot[use], frame[use], counts[use], frames.centre[:, 2], frames.zeta,
                                        frames.dphi)
        if np.isfinite(sigma_m) and sigma_m > 0:
            self.sigma_m = sigma_m
            return n
        return None

    # -- geometry of each reflection ----------------------------------------------------------
    def _require(self):
        if self.sigma_b is None:
            raise RuntimeError("profile model used before estimate()")

    def foreground_radius(self, frames: LocalFrames) -> np.ndarray:
        self._require()
        return np.full(len(frames), self.params.n_sigma * self.sigma_b)

    def rocking_sigma_frames(self, frames: LocalFrames) -> np.ndarray:
        self._require()
        with np.errstate(divide="ignore"):
            return self.sigma_m / (np.abs(frames.zeta) * frames.dphi)

    def bounding_boxes(self, frames: LocalFrames, z_range: tuple[int, int]) -> np.ndarray:
        radius = self.foreground_radius(frames)
        inv = np.linalg.inv(frames.jacobian)  # pixels per radian
        metric = np.einsum("nij,nkj->nik", inv, inv)
        reach = self.params.background_box * radius
        hx = reach * np.sqrt(metric[:, 0, 0])
        hy = reach * np.sqrt(metric[:, 1, 1])
        # the foreground test uses pixel corners: one pixel beyond the disc is always inside
        fx = radius * np.sqrt(metric[:, 0, 0]) + 1.0
        fy = radius * np.sqrt(metric[:, 1, 1]) + 1.0
        hx, hy = np.maximum(hx, fx), np.maximum(hy, fy)
        hz = self.params.n_sigma * self.rocking_sigma_frames(frames)
        hz = np.minimum(hz, 1e6)
        c = frames.centre
        bbox = np.empty((len(frames), 6), np.int64)
        bbox[:, 0] = np.floor(c[:, 0] - hx)
        bbox[:, 1] = np.ceil(c[:, 0] + hx)
        bbox[:, 2] = np.floor(c[:, 1] - hy)
        bbox[:, 3] = np.ceil(c[:, 1] + hy)
        bbox[:, 4] = np.maximum(np.floor(c[:, 2] - hz), z_range[0])
        bbox[:, 5] = np.minimum(np.ceil(c[:, 2] + hz), z_range[1])
        return bbox.astype(np.int32)

    def partiality(self, frames: LocalFrames, bbox: np.ndarray) -> np.ndarray:
        self._require()
        a = np.abs(frames.zeta) * frames.dphi / (math.sqrt(2.0) * self.sigma_m)
        zc = frames.centre[:, 2]
        return 0.5 * (erf((bbox[:, 5] - zc) * a) - erf((bbox[:, 4] - zc) * a))

    def to_dict(self) -> dict:
        self._require()
        return {"__id__": "gaussian_rs", "n_sigma": float(self.params.n_sigma),
                "sigma_b": math.degrees(self.sigma_b), "sigma_m": math.degrees(self.sigma_m)}


BUILT_IN = [GaussianRSProfile]
