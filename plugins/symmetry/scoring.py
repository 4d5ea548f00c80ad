"""Evans-style scoring of symmetry elements and Laue groups (Evans 2011, Acta D67, 282, app. A).

* sigma(CC) is calibrated on random pairs of *unrelated* reflections of similar resolution:
  rms(CC) over groups of N pairs is fitted as CCsigFac / sqrt(N).
* E(CC), the correlation expected for truly equivalent reflections, combines the
  signal-to-noise estimate var(E^2) / (var(E^2) + <sigma^2>) with the CC of repeated
  observations of the same reflection.
* Each symmetry element (a rotation with its inverse) gets CC, N, Z = CC / sigma_CC and the
  likelihood p(S | CC) from a Cauchy p(CC | S) centred on E(CC) against p(CC | not S)
  integrated over a true CC in [0, 1] with weight sqrt(1 - mu^2).
* Each subgroup of the lattice group gets L = prod p(CC|S) over its elements x prod p(CC|not S)
  over the others (elements with N > 2), normalised over all subgroups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from friedel.plugins.bravais.correlation import friedel_key
from friedel.plugins.symmetry.lattice import element_label, hkl_text, key, symmetry_elements


# -- pairs of related reflections ---------------------------------------------------------------
class KeyIndex:
    """Fast lookup of reflections (Friedel mates together) in one data set."""

    def __init__(self, hkl):
        self.keys_unsorted = friedel_key(hkl)
        self.order = np.argsort(self.keys_unsorted)
        self.keys = self.keys_unsorted[self.order]

    def find(self, hkl):
        """(found mask, position in the data set) of reflections ``hkl``."""
        k = friedel_key(hkl)
        pos = np.searchsorted(self.keys, k)
        pos = np.minimum(pos, max(len(self.keys) - 1, 0))
        found = (len(self.keys) > 0) & (self.keys[pos] == k) if len(self.keys) else np.zeros(len(k), bool)
        return found, self.order[pos] if len(self.keys) else pos


def related_pairs(hkl, index: KeyIndex, R) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j) with hkl[j] equivalent to hkl[i] @ R, each unordered pair once."""
    related = np.asarray(hkl, dtype=np.int64) @ np.asarray(R, dtype=np.int64)
    found, j = index.find(related)
    i = np.arange(len(hkl))
    sel = found & (j != i)
    i, j = i[sel], j[sel]
    if np.array_equal(np.asarray(R) @ np.asarray(R), np.eye(3)):  # order 2: (i, j) and (j, i) both found
        keep = i < j
        i, j = i[keep], j[keep]
    return i, j


def pearson(x, y) -> float:
    if len(x) < 2:
        return float("nan")
    sx, sy = np.std(x), np.std(y)
    if sx == 0 or sy == 0:
        return float("nan")
    return float(np.mean((x - x.mean()) * (y - y.mean())) / (sx * sy))


# -- distributions ----------------------------------------------------------------------------
def truncated_cauchy(x, mu, gamma):
    """Cauchy density of location ``mu`` and scale ``gamma`` truncated to [-1, 1]."""
    mu = np.asarray(mu, float)
    norm = (np.arctan((1 - mu) / gamma) - np.arctan((-1 - mu) / gamma)) / np.pi
    return 1.0 / (np.pi * gamma * (1 + ((x - mu) / gamma) ** 2)) / norm


_MU = np.linspace(0.0, 1.0, 201)
_WEIGHT = np.sqrt(1 - _MU**2)


def p_cc_given_s(cc, cc_true, sigma):
    return float(truncated_cauchy(cc, cc_true, sigma))


def p_cc_given_not_s(cc, sigma):
    values = truncated_cauchy(cc, _MU, sigma) * _WEIGHT
    return float(np.trapezoid(values, _MU) / np.trapezoid(_WEIGHT, _MU))


def stars(likelihood: float) -> str:
    return "***" if likelihood > 0.9 else ("**" if likelihood > 0.7 else ("*" if likelihood > 0.5 else ""))


# -- calibration ------------------------------------------------------------------------------
def cc_sigma_factor(intensity, d, rng, n_values=(5, 10, 20, 40, 80, 120, 200), n_draws: int = 200) -> float:
    """CCsigFac from random unrelated pairs in resolution bins (rms CC = CCsigFac / sqrt(N))."""
    n = len(intensity)
    if n < 20:
        return 1.0
    order = np.argsort(d)
    n_bins = int(np.clip(n // 200, 1, 500))
    bin_of = np.empty(n, dtype=np.int64)
    bin_of[order] = np.minimum(np.arange(n) * n_bins // n, n_bins - 1)
    starts = np.searchsorted(bin_of[order], np.arange(n_bins))
    sizes = np.bincount(bin_of, minlength=n_bins)
    x_num, x_den = 0.0, 0.0
    for N in n_values:
        if N > n // 2:
            break
        a = rng.integers(0, n, size=(n_draws, N))
        b_bin = bin_of[a]
        b = order[starts[b_bin] + (rng.random((n_draws, N)) * sizes[b_bin]).astype(np.int64)]
        x, y = intensity[a], intensity[b]
        xm, ym = x - x.mean(1, keepdims=True), y - y.mean(1, keepdims=True)
        den = np.sqrt((xm**2).sum(1) * (ym**2).sum(1))
        cc = np.where(den > 0, (xm * ym).sum(1) / np.where(den > 0, den, 1), 0.0)
        rms = np.sqrt(np.mean(cc**2))
        # least squares of rms = f / sqrt(N)
        x_num += rms / np.sqrt(N)
        x_den += 1.0 / N
    return float(x_num / x_den) if x_den else 1.0


def expected_cc(intensity, sigma, repeat_pairs, cc_sig_fac: float) -> tuple[float, float, float, int]:
    """(E(CC), E(CC) from signal/noise, CC of repeated observations, number of repeats)."""
    var_i = float(np.var(intensity))
    e_cc = var_i / (var_i + float(np.mean(sigma**2))) if var_i > 0 else 0.0
    n_id = 0 if repeat_pairs is None else len(repeat_pairs)
    cc_id = pearson(repeat_pairs[:, 0], repeat_pairs[:, 1]) if n_id >= 10 else float("nan")
    s1 = max(0.05, cc_sig_fac / np.sqrt(200))
    if not np.isfinite(cc_id):
        return e_cc, e_cc, cc_id, n_id
    s2 = max(0.05, cc_sig_fac / np.sqrt(n_id))
    w1, w2 = 1 / s1**2, 1 / s2**2
    return float((w1 * e_cc + w2 * cc_id) / (w1 + w2)), e_cc, cc_id, n_id


# -- the scores -------------------------------------------------------------------------------
@dataclass
class ElementScore:
    rotations: list
    cc: float
    n: int
    z_cc: float
    likelihood: float
    p_s: float
    p_not_s: float

    @property
    def keys(self) -> set:
        return {key(R) for R in self.rotations}

    def as_dict(self) -> dict:
        R = self.rotations[0]
        return {"operator": element_label(R), "hkl": hkl_text(R), "cc": _num(self.cc), "n": self.n,
                "z_cc": _num(self.z_cc), "likelihood": _num(self.likelihood), "stars": stars(self.likelihood)}


@dataclass
class SubgroupScore:
    rotations: list            # the subgroup's proper rotations (lattice basis)
    likelihood: float
    z_cc_for: float
    z_cc_against: float
    cc_for: float
    cc_against: float
    log_l: float = 0.0

    @property
    def keys(self) -> frozenset:
        return frozenset(key(R) for R in self.rotations)

    @property
    def net_z_cc(self) -> float:
        return self.z_cc_for - self.z_cc_against

    def as_dict(self) -> dict:
        return {"likelihood": _num(self.likelihood), "stars": stars(self.likelihood),
                "net_z_cc": _num(self.net_z_cc), "z_cc_for": _num(self.z_cc_for),
                "z_cc_against": _num(self.z_cc_against), "cc_for": _num(self.cc_for),
                "cc_against": _num(self.cc_against)}


def _num(x):
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def score_element(cc: float, n: int, cc_true: float, cc_sig_fac: float, min_sigma: float = 0.1) -> tuple:
    """(Z-CC, likelihood, p(CC|S), p(CC|not S)) of one element."""
    if not np.isfinite(cc) or n < 1:
        return float("nan"), float("nan"), 1.0, 1.0
    sigma = max(min_sigma, cc_sig_fac / np.sqrt(n))
    p_s = p_cc_given_s(cc, cc_true, sigma)
    p_n = p_cc_given_not_s(cc, sigma)
    return cc / sigma, p_s / (p_s + p_n), p_s, p_n


def element_correlations(dataset, elements, outlier_iqr: float = 20.0):
    """(CC, N) of each element over pairs of related reflections of one merged data set."""
    x = dataset.intensity
    q1, q3 = np.percentile(x, [25, 75]) if len(x) else (0, 0)
    ok = x <= np.median(x) + outlier_iqr * max(q3 - q1, 1e-12) if len(x) else np.zeros(0, bool)
    index = KeyIndex(dataset.hkl)
    out = []
    for element in elements:
        i, j = related_pairs(dataset.hkl, index, element[0])
        good = ok[i] & ok[j]
        i, j = i[good], j[good]
        out.append((pearson(x[i], x[j]), len(i)))
    return out


def score_subgroups(element_scores: list[ElementScore], groups: list) -> list[SubgroupScore]:
    """Likelihood of every subgroup (lists of rotations) from the scores of its elements; best first."""
    results = []
    for rotations in groups:
        inside = {key(R) for R in rotations}
        log_l, z_in, z_out = 0.0, [], []
        cc_in, n_in, cc_out, n_out = 0.0, 0, 0.0, 0
        for e in element_scores:
            if e.n <= 2 or not np.isfinite(e.cc):
                continue
            if key(e.rotations[0]) in inside:
                log_l += np.log(max(e.p_s, 1e-300))
                z_in.append(e.z_cc)
                cc_in, n_in = cc_in + e.cc * e.n, n_in + e.n
            else:
                log_l += np.log(max(e.p_not_s, 1e-300))
                z_out.append(e.z_cc)
                cc_out, n_out = cc_out + e.cc * e.n, n_out + e.n
        results.append(SubgroupScore(
            list(rotations), 0.0, float(np.mean(z_in)) if z_in else 0.0, float(np.mean(z_out)) if z_out else 0.0,
            cc_in / n_in if n_in else float("nan"), cc_out / n_out if n_out else float("nan"), log_l))
    logs = np.array([r.log_l for r in results])
    p = np.exp(logs - logs.max())
    p /= p.sum()
    for r, v in zip(results, p):
        r.likelihood = float(v)
    # best first; among equals, the higher symmetry (a group and its supergroup can tie only
    # when no element distinguishes them)
    results.sort(key=lambda r: (-round(r.likelihood, 12), -len(r.rotations)))
    return results


def confidence(scores: list[SubgroupScore]) -> float:
    if len(scores) < 2:
        return 1.0
    p0, p1 = scores[0].likelihood, scores[1].likelihood
    return float(np.sign(p0 - p1) * np.sqrt(abs(p0 * (p0 - p1))))


@dataclass
class LaueGroupAnalysis:
    """Everything the Evans scoring found for one (combined) data set."""

    cc_sig_fac: float
    cc_true: float
    cc_signal_noise: float
    cc_identity: float
    n_identity: int
    cc_unrelated: float
    n_unrelated: int
    elements: list
    subgroups: list

    def as_dict(self) -> dict:
        return {
            "cc_sig_fac": _num(self.cc_sig_fac), "cc_true": _num(self.cc_true),
            "cc_signal_to_noise": _num(self.cc_signal_noise), "cc_identity": _num(self.cc_identity),
            "n_identity": self.n_identity, "cc_unrelated_pairs": _num(self.cc_unrelated),
            "n_unrelated_pairs": self.n_unrelated,
            "sym_op_scores": [e.as_dict() for e in self.elements],
            "subgroup_scores": [s.as_dict() for s in self.subgroups],
        }


def unrelated_cc(intensity, d, rng, max_pairs: int = 20000) -> tuple[float, int]:
    """CC over random pairs of reflections of similar resolution (the 'no symmetry' baseline)."""
    n = len(intensity)
    if n < 4:
        return float("nan"), 0
    order = np.argsort(d)
    m = min(max_pairs, n // 2)
    a = rng.integers(0, n, m)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    partner = np.clip(rank[a] + rng.integers(-100, 101, m), 0, n - 1)
    b = order[partner]
    keep = a != b
    return pearson(intensity[a[keep]], intensity[b[keep]]), int(keep.sum())


def analyse(dataset, lattice_rotations, groups, rng=None, min_sigma: float = 0.1) -> LaueGroupAnalysis:
    """Score every element of the lattice group and every subgroup in ``groups`` on one data set."""
    rng = np.random.default_rng(230) if rng is None else rng
    x, d = dataset.intensity, dataset.d
    fac = cc_sigma_factor(x, d, rng)
    cc_true, cc_sn, cc_id, n_id = expected_cc(x, dataset.sigma, dataset.repeat_pairs, fac)
    cc_un, n_un = unrelated_cc(x, d, rng)
    elements = symmetry_elements(lattice_rotations)
    scores = []
    for element, (cc, n) in zip(elements, element_correlations(dataset, elements)):
        z, lik, p_s, p_n = score_element(cc, n, cc_true, fac, min_sigma)
        scores.append(ElementScore(element, cc, n, z, lik, p_s, p_n))
    subgroup_scores = score_subgroups(scores, groups)
    return LaueGroupAnalysis(fac, cc_true, cc_sn, cc_id, n_id, cc_un, n_un, scores, subgroup_scores)
