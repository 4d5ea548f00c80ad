"""Reference profiles and 3-D profile fitting.

A reference profile is learned, for each detector region (an N x N grid of diffracted-beam
directions) and each block of the scan, from the strong full reflections around it: the
background-subtracted counts of each pixel column, as a fraction of the reflection's summed
intensity, are deposited (bilinearly) on a grid in the Kabsch plane (c1, c2), each with the
pixel's area in that plane. Their ratio is the profile *density* convolved with the pixel,
exactly what a pixel of another reflection records at that offset, so the predicted fraction
of a pixel is density x area: no sub-pixel resampling is needed. A reflection contributes to
its own profile and, with weight exp(-4 ln2 d^2) (d in grid steps), to its neighbours.

Along the rotation the fraction of a frame [z, z + 1) is that of the Gaussian rocking curve of
the profile model, 0.5 (erf((z + 1 - zc) a) - erf((z - zc) a)), so partials at the scan
ends and reflections spread over one or many frames are fitted alike.

Fitting (per reflection, on its valid foreground pixels not shared with a neighbour): weighted
least squares with Poisson weights, iterated to convergence,
I = sum((C - B) p / v) / sum(p^2 / v), v = B + max(I, 0) p, and
Var(I) = 1 / sum(p^2 / v) + Var(B level) (sum(p / v) / sum(p^2 / v))^2 — the counting error
of the fit plus the error of the background it subtracts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from .shoeboxes import FOREGROUND, OVERLAPPED, VALID


@dataclass
class ProfileGrid:
    """Where the reference profiles sit and how reflections are assigned to them (one experiment)."""

    n_regions: int
    u_edges: np.ndarray  # region edges in the direction components (x, y) of unit s1
    v_edges: np.ndarray
    z_start: float
    frames_per_block: float
    n_blocks: int
    offset: int = 0  # index of this experiment's first profile in the global list

    @property
    def n_profiles(self) -> int:
        return self.n_regions * self.n_regions * self.n_blocks

    @classmethod
    def build(cls, s1_unit: np.ndarray, z_range: tuple[int, int], frames_per_block: float, n_regions: int,
              offset: int = 0) -> "ProfileGrid":
        u = s1_unit[:, 0] if len(s1_unit) else np.zeros(1)
        v = s1_unit[:, 1] if len(s1_unit) else np.zeros(1)
        u_edges = np.linspace(u.min(), u.max() + 1e-9, n_regions + 1)
        v_edges = np.linspace(v.min(), v.max() + 1e-9, n_regions + 1)
        n_frames = max(z_range[1] - z_range[0], 1)
        n_blocks = max(int(math.ceil(n_frames / max(frames_per_block, 1e-9) - 1e-9)), 1)
        return cls(n_regions, u_edges, v_edges, float(z_range[0]), n_frames / n_blocks, n_blocks, offset)

    def position(self, s1_unit: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Continuous (iu, iv, ib) grid coordinates; profile centres sit at integers."""
        du = (self.u_edges[-1] - self.u_edges[0]) / self.n_regions
        dv = (self.v_edges[-1] - self.v_edges[0]) / self.n_regions
        iu = (s1_unit[:, 0] - self.u_edges[0]) / du - 0.5
        iv = (s1_unit[:, 1] - self.v_edges[0]) / dv - 0.5
        ib = (z - self.z_start) / self.frames_per_block - 0.5
        pos = np.column_stack([iu, iv, ib])
        top = np.array([self.n_regions - 1, self.n_regions - 1, self.n_blocks - 1], float)
        return np.clip(pos, 0.0, top)

    def centres(self) -> np.ndarray:
        iu, iv, ib = np.meshgrid(np.arange(self.n_regions), np.arange(self.n_regions), np.arange(self.n_blocks),
                                 indexing="ij")
        return np.column_stack([iu.ravel(), iv.ravel(), ib.ravel()]).astype(float)

    def nearest(self, pos: np.ndarray) -> np.ndarray:
        idx = np.rint(pos).astype(np.int64)
        return self.offset + (idx[:, 0] * self.n_regions + idx[:, 1]) * self.n_blocks + idx[:, 2]


@dataclass
class ReferenceProfiles:
    """Accumulated (then finalised) reference profiles of all experiments."""

    grid_points: int
    step: np.ndarray  # (n_profiles,) grid spacing in radians
    centres: np.ndarray  # (n_profiles, 3) grid coordinates of each profile (within its experiment)
    experiment: np.ndarray  # (n_profiles,) experiment index of each profile
    numerator: np.ndarray = field(default=None)
    denominator: np.ndarray = field(default=None)
    weight: np.ndarray = field(default=None)
    count: np.ndarray = field(default=None)
    density: np.ndarray = field(default=None)
    valid: np.ndarray = field(default=None)
    substitute: np.ndarray = field(default=None)  # profile used for each profile index
    #: (table rows, frames, counts) of the reference reflections frame by frame (rocking width)
    rocking: list = field(default_factory=list)

    def __post_init__(self):
        n, g = len(self.step), self.grid_points
        if self.numerator is None:
            self.numerator = np.zeros((n, g, g))
            self.denominator = np.zeros((n, g, g))
            self.weight = np.zeros(n)
            self.count = np.zeros(n, np.int64)

    def empty_like(self) -> "ReferenceProfiles":
        return ReferenceProfiles(self.grid_points, self.step, self.centres, self.experiment)

    def add(self, other: "ReferenceProfiles") -> None:
        self.numerator += other.numerator
        self.denominator += other.denominator
        self.weight += other.weight
        self.count += other.count
        self.rocking.extend(other.rocking)

    def rocking_counts(self):
        """(rows, frames, counts) of every reference reflection on each frame of its box."""
        if not self.rocking:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        return tuple(np.concatenate([part[k] for part in self.rocking]) for k in range(3))

    def finalise(self, min_spots: float) -> None:
        """Density = numerator / denominator (negatives to 0); choose substitutes for empty profiles.

        No renormalisation: each reference deposited its pixels as fractions of its *summed*
        (foreground) intensity, so the density already sums to one over a foreground and a
        fitted intensity is on the scale of summation. (Normalising over the whole grid would
        count the clipped-positive noise of the empty tails as signal, about 1% here.)
        """
        with np.errstate(invalid="ignore", divide="ignore"):
            density = np.where(self.denominator > 0, self.numerator / self.denominator, 0.0)
        density = np.maximum(density, 0.0)
        total = density.sum(axis=(1, 2)) * self.step**2
        ok = (self.weight >= min_spots) & (total > 0)
        density[~ok] = 0.0
        self.density = density
        self.valid = ok
        sub = np.full(len(ok), -1, np.int64)
        for i in range(len(ok)):
            same = np.flatnonzero(ok & (self.experiment == self.experiment[i]))
            if ok[i]:
                sub[i] = i
            elif len(same):
                d = np.linalg.norm(self.centres[same] - self.centres[i], axis=1)
                sub[i] = same[np.argmin(d)]
        self.substitute = sub

    def summary_rows(self) -> list[dict]:
        return [{"profile": i, "experiment": int(self.experiment[i]), "region_u": int(self.centres[i, 0]),
                 "region_v": int(self.centres[i, 1]), "scan_block": int(self.centres[i, 2]),
                 "n_reflections": int(self.count[i]), "weight": float(self.weight[i]),
                 "valid": bool(self.valid[i]) if self.valid is not None else False}
                for i in range(len(self.step))]


# --------------------------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------------------------
@njit(cache=True)
def accumulate_profiles(data, mask, background, offsets, shapes, bbox, centre, jac, use, intensity,
                        position, experiment_of, profile_first, profile_centres, step, numerator,
                        denominator, weight, count):
    """Deposit the (x, y) columns of reflections ``use`` into every nearby profile of their experiment."""
    n_prof, g, _ = numerator.shape
    half = (g - 1) / 2.0
    four_ln2 = 4.0 * math.log(2.0)
    for b in range(len(offsets) - 1):
        if not use[b]:
            continue
        nz, ny, nx = shapes[b, 0], shapes[b, 1], shapes[b, 2]
        plane = ny * nx
        column = np.zeros(plane)
        good = np.ones(plane, np.bool_)
        start = offsets[b]
        for z in range(nz):
            for k in range(plane):
                i = start + z * plane + k
                m = mask[i]
                if (m & VALID) == 0 or (m & OVERLAPPED) != 0:
                    good[k] = False
                column[k] += data[i] - background[i]
        area = abs(jac[b, 0, 0] * jac[b, 1, 1] - jac[b, 0, 1] * jac[b, 1, 0])
        e = experiment_of[b]
        for p in range(n_prof):
            if profile_first[p] != e:
                continue
            d2 = 0.0
            for a in range(3):
                d2 += (position[b, a] - profile_centres[p, a]) ** 2
            w = math.exp(-four_ln2 * d2)
            if w < 0.05:  # the own profile and its nearest neighbours
                continue
            weight[p] += w
            count[p] += 1
            st = step[p]
            for k in range(plane):
                if not good[k]:
                    continue
                u = bbox[b, 0] + (k % nx) + 0.5 - centre[b, 0]
                v = bbox[b, 2] + (k // nx) + 0.5 - centre[b, 1]
                c1 = jac[b, 0, 0] * u + jac[b, 0, 1] * v
                c2 = jac[b, 1, 0] * u + jac[b, 1, 1] * v
                gx = c1 / st + half
                gy = c2 / st + half
                ix = int(math.floor(gx))
                iy = int(math.floor(gy))
                if ix < 0 or iy < 0 or ix + 1 >= g or iy + 1 >= g:
                    continue
                fx = gx - ix
                fy = gy - iy
                f = column[k] / intensity[b]
                for (jx, jy, wb) in ((ix, iy, (1 - fx) * (1 - fy)), (ix + 1, iy, fx * (1 - fy)),
                                     (ix, iy + 1, (1 - fx) * fy), (ix + 1, iy + 1, fx * fy)):
                    numerator[p, jy, jx] += w * wb * f
                    denominator[p, jy, jx] += w * wb * area


@njit(cache=True, inline="always")
def _density(density, p, st, c1, c2):
    g = density.shape[1]
    half = (g - 1) / 2.0
    gx = c1 / st + half
    gy = c2 / st + half
    ix = int(math.floor(gx))
    iy = int(math.floor(gy))
    if ix < 0 or iy < 0 or ix + 1 >= g or iy + 1 >= g:
        return 0.0
    fx = gx - ix
    fy = gy - iy
    return ((1 - fx) * (1 - fy) * density[p, iy, ix] + fx * (1 - fy) * density[p, iy, ix + 1]
            + (1 - fx) * fy * density[p, iy + 1, ix] + fx * fy * density[p, iy + 1, ix + 1])


@njit(cache=True)
def fit_profiles(data, mask, background, offsets, shapes, bbox, centre, jac, sigma_z, profile, density, step,
                 bg_var_of_mean, max_iter=100):
    """Profile-fitted intensity, variance, correlation and a success flag per box."""
    n = len(offsets) - 1
    intensity = np.zeros(n)
    variance = np.zeros(n)
    correlation = np.zeros(n)
    ok = np.zeros(n, np.bool_)
    root2 = math.sqrt(2.0)
    for b in range(n):
        p_index = profile[b]
        if p_index < 0:
            continue
        nz, ny, nx = shapes[b, 0], shapes[b, 1], shapes[b, 2]
        size = nz * ny * nx
        start = offsets[b]
        pr = np.zeros(size)
        cnt = np.zeros(size)
        bg = np.zeros(size)
        m = 0
        area = abs(jac[b, 0, 0] * jac[b, 1, 1] - jac[b, 0, 1] * jac[b, 1, 0])
        a = 1.0 / (root2 * max(sigma_z[b], 1e-6))
        st = step[p_index]
        for z in range(nz):
            zz = bbox[b, 4] + z
            q = 0.5 * (math.erf((zz + 1 - centre[b, 2]) * a) - math.erf((zz - centre[b, 2]) * a))
            for y in range(ny):
                v = bbox[b, 2] + y + 0.5 - centre[b, 1]
                for x in range(nx):
                    i = start + (z * ny + y) * nx + x
                    code = mask[i]
                    if (code & (VALID | FOREGROUND)) != (VALID | FOREGROUND) or (code & OVERLAPPED) != 0:
                        continue
                    u = bbox[b, 0] + x + 0.5 - centre[b, 0]
                    c1 = jac[b, 0, 0] * u + jac[b, 0, 1] * v
                    c2 = jac[b, 1, 0] * u + jac[b, 1, 1] * v
                    pr[m] = _density(density, p_index, st, c1, c2) * area * q
                    cnt[m] = data[i]
                    bg[m] = max(background[i], 0.0)
                    m += 1
        psum = 0.0
        isum = 0.0
        for k in range(m):
            psum += pr[k]
            isum += cnt[k] - bg[k]
        if m < 2 or psum < 0.05:
            continue
        value = isum / psum
        s1 = 0.0
        s2 = 0.0
        converged = False
        for _ in range(max_iter):
            s1 = 0.0
            s2 = 0.0
            num = 0.0
            pos = max(value, 0.0)
            for k in range(m):
                w = bg[k] + pos * pr[k] + 1e-9
                num += (cnt[k] - bg[k]) * pr[k] / w
                s1 += pr[k] / w
                s2 += pr[k] * pr[k] / w
            new = num / s2
            if abs(new - value) < 1e-3 * max(1.0, math.sqrt(abs(value))):
                value = new
                converged = True
                break
            value = new
        if not converged or s2 <= 0:
            continue
        # goodness of fit: a profile that does not describe the spot (strong reflections, where
        # counting noise is small) must widen the error bar, not hide in it
        chi2 = 0.0
        pos = max(value, 0.0)
        for k in range(m):
            w = bg[k] + pos * pr[k] + 1e-9
            chi2 += (cnt[k] - bg[k] - value * pr[k]) ** 2 / w
        inflation = max(1.0, chi2 / (m - 1))
        intensity[b] = value
        variance[b] = inflation / s2 + bg_var_of_mean[b] * (s1 / s2) ** 2
        # correlation of the background-subtracted counts with the profile
        mx = 0.0
        my = 0.0
        for k in range(m):
            mx += cnt[k] - bg[k]
            my += pr[k]
        mx /= m
        my /= m
        sxy = 0.0
        sxx = 0.0
        syy = 0.0
        for k in range(m):
            dx = cnt[k] - bg[k] - mx
            dy = pr[k] - my
            sxy += dx * dy
            sxx += dx * dx
            syy += dy * dy
        correlation[b] = sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else 0.0
        ok[b] = True
    return intensity, variance, correlation, ok
