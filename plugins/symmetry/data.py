"""Data preparation shared by ``friedel symmetry`` and ``friedel cosym``.

1. :func:`select_observations`: per experiment, the usable observations (indexed, integrated,
   not excluded), the intensity column (``intensity.scale`` > profile-fitted > summation),
   LP/QE corrections (summation also divided by the partiality), a partiality cut, rejection of
   I/sigma < -5, and only the first 360 degrees of a sweep.
2. :func:`merge_p1`: average repeated observations (Friedel mates together) in P1, keeping a
   few pairs of repeats for the expected correlation of identical reflections; for unscaled
   data, observations more than 12 sigma from the others of their reflection are dropped first
   and sigma is inflated (:func:`inflate_sigma`).
3. :func:`normalise`: E^2 = I / <I>, the expectation from a Wilson model fitted by maximum
   likelihood (isotropic B or an anisotropic quadratic form) times a shell-wise correction, or
   the plain shell means ("quasi").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from friedel.contracts.symmetry import MergedDataset
from friedel.errors import FriedelError
from friedel.flags import Flags
from friedel.plugins.bravais.correlation import encode, friedel_key

log = logging.getLogger("friedel")


@dataclass
class Observations:
    """The usable observations of one experiment (indices in the experiment's own basis)."""

    identifier: str
    experiment_index: int
    hkl: np.ndarray
    intensity: np.ndarray
    variance: np.ndarray
    column: str                 # which intensity was used
    rows: np.ndarray            # row numbers in the input reflection table

    def __len__(self) -> int:
        return len(self.hkl)


def _intensity_column(table, choice: str) -> str:
    have = lambda name: f"intensity.{name}.value" in table and f"intensity.{name}.variance" in table  # noqa: E731
    if choice != "auto":
        name = {"profile": "prf", "sum": "sum", "scale": "scale"}[choice]
        if not have(name):
            raise FriedelError(f"intensity={choice} but the reflections have no intensity.{name}.value/variance columns")
        return name
    for name in ("scale", "prf", "sum"):
        if have(name):
            return name
    raise FriedelError("the reflections have no intensities (intensity.sum.value): "
                       "give integrated reflections (friedel integrate)")


def _first_360(experiment, table, rows):
    """The rows (of one experiment) recorded within the first 360 degrees of its scan."""
    scan = experiment.scan
    column = "xyzobs.px.value" if "xyzobs.px.value" in table else ("xyzcal.px" if "xyzcal.px" in table else None)
    if scan is None or column is None or experiment.is_still:
        return rows
    width = abs(float(scan.oscillation[1]))
    first = scan.image_range[0]
    if width * (scan.image_range[1] - first + 1) <= 360.0 + 1e-6:
        return rows
    z = np.asarray(table[column])[rows, 2]  # image n spans z in [n - 1, n)
    return rows[(z - (first - 1)) * width < 360.0]


def _corrected_intensities(reflections, col: str, base, partiality_threshold: float, min_i_over_sigma: float):
    """(I, V, usable) of intensity column ``col`` for every row: lp/qe (and for summation
    partiality) corrected; usable = indexed, integrated with that method, partiality and I/sigma cuts."""
    flags = np.asarray(reflections["flags"]) if "flags" in reflections else None
    sel = base.copy()
    if flags is not None:
        if col == "scale":
            sel &= (flags & Flags.bad_for_scaling) == 0
            if "inverse_scale_factor" in reflections:
                sel &= np.asarray(reflections["inverse_scale_factor"]) > 0
        else:
            needed = Flags.integrated_prf if col == "prf" else Flags.integrated_sum
            sel &= (flags & needed) != 0
    I = np.asarray(reflections[f"intensity.{col}.value"], float)
    V = np.asarray(reflections[f"intensity.{col}.variance"], float)
    if col != "scale":
        factor = np.ones(len(I))
        if "lp" in reflections:
            factor = factor * np.asarray(reflections["lp"], float)
        qe_name = "qe" if "qe" in reflections else ("dqe" if "dqe" in reflections else None)
        if qe_name is not None:
            qe = np.asarray(reflections[qe_name], float)
            factor = factor / np.where(qe > 0, qe, 1.0)
        if "partiality" in reflections:
            p = np.asarray(reflections["partiality"], float)
            sel &= p >= partiality_threshold
            if col == "sum":
                factor = factor / np.where(p > 0, p, 1.0)
        I, V = I * factor, V * factor**2
    sel &= np.isfinite(I) & np.isfinite(V) & (V > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        sel &= I / np.sqrt(np.where(V > 0, V, np.inf)) >= min_i_over_sigma
    return I, V, sel


def select_observations(experiments, reflections, intensity: str = "auto", partiality_threshold: float = 0.4,
                        min_i_over_sigma: float = -5.0) -> list[Observations]:
    """The usable observations of each experiment that has a crystal.

    Parameters
    ----------
    intensity : {"auto", "profile", "sum", "scale"}
        ``auto``: scaled intensities if present, else profile-fitted (on the rows fitted), else
        summation. Corrections: I * lp / qe; summation intensities also / partiality.
    partiality_threshold : float
        Rows with a lower ``partiality`` are dropped.
    min_i_over_sigma : float
        Rows with I/sigma below this are dropped (gross background errors).
    """
    for name in ("miller_index", "id"):
        if name not in reflections:
            raise FriedelError(f"the reflections have no {name} column: give indexed, integrated reflections")
    hkl_all = np.asarray(reflections["miller_index"])
    ids = np.asarray(reflections["id"])
    name = _intensity_column(reflections, intensity)
    base = np.any(hkl_all != 0, axis=1) & (ids >= 0)
    usable = {}  # column -> (corrected I, V, usable mask), each computed once for the whole table

    def corrected(col):
        if col not in usable:
            usable[col] = _corrected_intensities(reflections, col, base, partiality_threshold, min_i_over_sigma)
        return usable[col]

    # rows of each experiment, without one pass over the table per experiment
    order = np.argsort(ids, kind="stable")
    bounds = np.searchsorted(ids[order], np.arange(len(experiments) + 1))
    out = []
    for index, experiment in enumerate(experiments):
        if experiment.crystal is None:
            continue
        identifier = experiment.identifier or str(index)
        rows = order[bounds[index]:bounds[index + 1]]
        col = name
        I, V, ok = corrected(col)
        if name == "prf" and not ok[rows].any() and "intensity.sum.value" in reflections:
            col = "sum"  # this experiment was not profile fitted
            I, V, ok = corrected(col)
        rows = _first_360(experiment, reflections, np.sort(rows[ok[rows]]))
        out.append(Observations(identifier, index, hkl_all[rows].astype(np.int32), I[rows], V[rows],
                                col, rows))
    if not out:
        raise FriedelError("no experiment has a crystal model: give integrated experiments (friedel integrate)")
    if all(len(o) == 0 for o in out):
        raise FriedelError("no integrated reflections to analyse (check that the .refl was written by "
                           "friedel integrate / dials.integrate, and the partiality_threshold)")
    return out


# -- merging in P1 --------------------------------------------------------------------------------
@dataclass
class P1Merged:
    """Friedel-merged P1 averages of one data set (before normalisation)."""

    hkl: np.ndarray
    intensity: np.ndarray
    sigma: np.ndarray
    multiplicity: np.ndarray
    group: np.ndarray           # unique reflection of each observation
    obs_intensity: np.ndarray   # the observations, for CC1/2 and repeats
    obs_variance: np.ndarray


def merge_p1(hkl, intensity, variance) -> P1Merged:
    """Inverse-variance weighted means of repeated observations (h and -h together)."""
    hkl = np.asarray(hkl, dtype=np.int64)
    keys = friedel_key(hkl)
    unique, first, group = np.unique(keys, return_index=True, return_inverse=True)
    w = 1.0 / np.asarray(variance, float)
    sw = np.bincount(group, weights=w, minlength=len(unique))
    mean = np.bincount(group, weights=w * intensity, minlength=len(unique)) / sw
    rep = hkl[first]
    # one of each Friedel pair: the one with the larger key
    flip = encode(rep) < encode(-rep)
    rep[flip] = -rep[flip]
    return P1Merged(rep.astype(np.int32), mean, 1.0 / np.sqrt(sw), np.bincount(group, minlength=len(unique)),
                    group, np.asarray(intensity, float), np.asarray(variance, float))


def outliers_p1(hkl, intensity, variance, zmax: float = 12.0, max_rounds: int = 10) -> np.ndarray:
    """True for observations more than ``zmax`` sigma from the mean of the other observations of
    the same reflection (h and -h together, at least three observations): zingers and gross
    integration errors, which unscaled data have not yet been filtered for. Iterative: in each
    round only the worst observation of a reflection goes, so one outlier cannot condemn the rest."""
    keys = friedel_key(np.asarray(hkl, dtype=np.int64))
    _u, group = np.unique(keys, return_inverse=True)
    n_groups = int(group.max()) + 1 if len(group) else 0
    V = np.asarray(variance, float)
    w = 1.0 / V
    I = np.asarray(intensity, float)
    rejected = np.zeros(len(I), bool)
    for _ in range(max_rounds):
        kept_w = np.where(rejected, 0.0, w)
        sw = np.bincount(group, weights=kept_w, minlength=n_groups)
        swi = np.bincount(group, weights=kept_w * I, minlength=n_groups)
        count = np.bincount(group, weights=(~rejected).astype(float), minlength=n_groups)
        others_w = sw[group] - kept_w
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_others = (swi[group] - kept_w * I) / others_w
            z = np.abs(I - mean_others) / np.sqrt(V + 1.0 / others_w)
        z[rejected | (count[group] < 3) | ~(others_w > 0) | ~np.isfinite(z)] = 0.0
        # the worst of each reflection, if beyond zmax
        worst = np.zeros(n_groups)
        np.maximum.at(worst, group, z)
        new = (z > zmax) & (z == worst[group])
        if not new.any():
            break
        rejected |= new
    return rejected


def repeat_pairs(merged: P1Merged, rng: np.random.Generator, max_pairs: int = 20000) -> np.ndarray:
    """(n, 2) pairs of independent observations of the same reflection (raw intensities)."""
    order = np.argsort(merged.group, kind="stable")
    g = merged.group[order]
    same = np.flatnonzero(g[1:] == g[:-1])
    # non-overlapping consecutive pairs within each group
    take = same[np.concatenate([[True], np.diff(same) > 1])] if len(same) else same
    if len(take) > max_pairs:
        take = rng.choice(take, max_pairs, replace=False)
    return np.column_stack([order[take], order[take + 1]])


def inflate_sigma(intensity, sigma, sd_fac: float = 2.0, sd_add: float = 0.03):
    """sigma' = sd_fac * sqrt(sigma^2 + (sd_add I)^2) (unscaled data underestimate errors)."""
    s = sd_fac * np.sqrt(sigma**2 + (sd_add * intensity) ** 2)
    return np.maximum(s, np.sqrt(0.1) * sigma)


# -- normalisation to E^2 ------------------------------------------------------------------------
def _wilson_fit(s2: np.ndarray, hkl: np.ndarray, intensity: np.ndarray, anisotropic: bool):
    """ML fit of <I> = k exp(-h' beta h) (or k exp(-2 B s^2)) with the acentric Wilson
    likelihood sum(log mu + I/mu); returns the expected intensity of every reflection."""
    h = np.asarray(hkl, float)
    if anisotropic:
        X = np.column_stack([np.ones(len(h)), h[:, 0] ** 2, h[:, 1] ** 2, h[:, 2] ** 2,
                             2 * h[:, 0] * h[:, 1], 2 * h[:, 0] * h[:, 2], 2 * h[:, 1] * h[:, 2]])
    else:
        X = np.column_stack([np.ones(len(h)), s2])
    # columns scaled to order 1 so the minimiser's steps stay sane
    colscale = np.maximum(np.abs(X).mean(axis=0), 1e-12)
    colscale[0] = 1.0
    X = X / colscale
    y = np.maximum(intensity, 0.0)
    mean = max(float(np.mean(y)), 1e-12)
    p0 = np.zeros(X.shape[1])
    p0[0] = np.log(mean)

    def nll(p):
        eta = np.clip(X @ p, -700, 700)
        return float(np.sum(eta + y * np.exp(-eta)))

    # Newton's method (a gamma GLM with log link): gradient X'(1 - r), Hessian X' diag(r) X
    p, value = p0, nll(p0)
    for _ in range(50):
        r = y * np.exp(-np.clip(X @ p, -700, 700))
        grad = X.T @ (1.0 - r)
        hess = (X * r[:, None]).T @ X + 1e-9 * np.eye(X.shape[1])
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        t = 1.0
        while t > 1e-4:
            trial = p - t * step
            v = nll(trial)
            if v <= value:
                break
            t *= 0.5
        else:
            break
        converged = value - v < 1e-10 * max(1.0, abs(value))
        p, value = trial, v
        if converged:
            break
    return np.exp(np.clip(X @ p, -700, 700)), p / colscale


def n_shells_for(n: int) -> int:
    return 20 if n > 20000 else (15 if n > 15000 else 10)


def shell_index(s2: np.ndarray, n_shells: int) -> np.ndarray:
    """Shells of equal width in 1/d^2."""
    lo, hi = float(s2.min()), float(s2.max())
    if hi <= lo:
        return np.zeros(len(s2), dtype=np.int64)
    return np.minimum(((s2 - lo) / (hi - lo) * n_shells).astype(np.int64), n_shells - 1)


def normalise(hkl, intensity, sigma, d, method: str = "ml_aniso"):
    """E^2, sigma(E^2) and the divisor used, for merged intensities.

    ``quasi``: I / <I> in shells of equal width in 1/d^2 (negative I count as 0 in the means).
    ``ml_iso`` / ``ml_aniso``: I / (Wilson model) then the same shell-wise correction, so that
    the overall fall-off and its anisotropy do not fake correlations.
    """
    intensity = np.asarray(intensity, float)
    s2 = 1.0 / np.asarray(d, float) ** 2
    expected = np.ones(len(intensity))
    if method in ("ml_iso", "ml_aniso") and len(intensity) >= 20:
        # anisotropic fits need enough reflections for 7 parameters
        expected, _p = _wilson_fit(s2, hkl, intensity, anisotropic=method == "ml_aniso" and len(intensity) >= 100)
    elif method not in ("quasi", "ml_iso", "ml_aniso"):
        raise FriedelError(f"normalisation={method} is not one of quasi, ml_iso, ml_aniso")
    ratio = intensity / expected
    n_shells = min(n_shells_for(len(ratio)), max(1, len(ratio) // 20))
    shell = shell_index(s2, n_shells)
    counts = np.bincount(shell, minlength=n_shells)
    means = np.bincount(shell, weights=np.maximum(ratio, 0.0), minlength=n_shells) / np.maximum(counts, 1)
    means = np.where(means > 0, means, 1.0)
    scale = expected * means[shell]
    return intensity / scale, np.asarray(sigma, float) / scale, scale


def lattice_epsilon_one(hkl: np.ndarray, rotations) -> np.ndarray:
    """True where no non-identity lattice rotation maps h onto +-h (epsilon = 1 in the lattice's
    Patterson group): only those reflections are used for correlations."""
    h = np.asarray(hkl, dtype=np.int64)
    ok = np.ones(len(h), bool)
    for R in rotations:
        R = np.asarray(R, dtype=np.int64)
        if np.array_equal(R, np.eye(3, dtype=np.int64)):
            continue
        hr = h @ R
        ok &= ~(np.all(hr == h, axis=1) | np.all(hr == -h, axis=1))
    return ok


def merged_dataset(identifier: str, hkl, intensity, variance, unit_cell_A, rotations, normalisation: str,
                   d_min: float | None = None, inflate: bool = True, rng=None) -> MergedDataset:
    """Merge one data set's observations (already in the lattice's standard basis) in P1, cut at
    ``d_min``, keep epsilon = 1 reflections, normalise to E^2."""
    rng = np.random.default_rng(230) if rng is None else rng
    hkl = np.asarray(hkl, dtype=np.int32)
    d_obs = 1.0 / np.linalg.norm(hkl @ np.asarray(unit_cell_A).T, axis=1)
    keep = np.ones(len(hkl), bool) if d_min is None else d_obs >= d_min
    if inflate:  # unscaled data: drop gross outliers before merging
        keep &= ~outliers_p1(hkl, intensity, variance)
    merged = merge_p1(hkl[keep], np.asarray(intensity)[keep], np.asarray(variance)[keep])
    d = 1.0 / np.linalg.norm(merged.hkl @ np.asarray(unit_cell_A).T, axis=1)
    sigma = inflate_sigma(merged.intensity, merged.sigma) if inflate else merged.sigma
    eps1 = lattice_epsilon_one(merged.hkl, rotations)
    if eps1.sum() < 2:
        return MergedDataset(identifier, merged.hkl[:0], np.zeros(0), np.zeros(0), np.zeros(0),
                             np.zeros(0, int), np.zeros((0, 2)))
    e2, se2, divisor = normalise(merged.hkl[eps1], merged.intensity[eps1], sigma[eps1], d[eps1], normalisation)
    # repeated observations, normalised with the same factors as their merged reflection
    pairs = repeat_pairs(merged, rng)
    factor = np.full(len(merged.hkl), np.nan)
    factor[eps1] = 1.0 / divisor
    if len(pairs):
        g = merged.group[pairs[:, 0]]
        f = factor[g]
        good = np.isfinite(f)
        rp = np.column_stack([merged.obs_intensity[pairs[good, 0]] * f[good],
                              merged.obs_intensity[pairs[good, 1]] * f[good]])
    else:
        rp = np.zeros((0, 2))
    return MergedDataset(identifier, merged.hkl[eps1], e2, np.maximum(se2, 1e-6), d[eps1],
                         merged.multiplicity[eps1], rp)
