"""Merging scaled observations into unique reflections, with amplitudes (French-Wilson).

Per wavelength group: inverse-variance weighted means of symmetry-equivalent observations
(IMEAN, from :func:`friedel.merging_statistics.merge_equivalents`), with ``anomalous`` also of
each Friedel half (I(+), I(-); centric reflections are I(+) only), and the multiplicities. With
``truncate`` French-Wilson amplitudes: non-anomalous F from IMEAN; anomalous F(+) and F(-)
separately (one Wilson prior from all the halves), F their inverse-variance mean, and
DANO = F(+) - F(-) with SIGDANO = sqrt(SIGF(+)^2 + SIGF(-)^2) where both halves exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from friedel.merging_statistics import merge_equivalents
from friedel.miller import d_spacing, hkl_key
from friedel.plugins.export.french_wilson import french_wilson


@dataclass
class MergedArrays:
    """Unique reflections of one wavelength group (rows: ASU indices ``hkl``).

    Columns are NaN where a value does not exist (a Friedel half never measured, a rejected
    French-Wilson amplitude).
    """

    hkl: np.ndarray
    d: np.ndarray
    centric: np.ndarray
    epsilon: np.ndarray
    imean: np.ndarray
    sigimean: np.ndarray
    n: np.ndarray
    anomalous: bool
    i_plus: np.ndarray | None = None
    sigi_plus: np.ndarray | None = None
    i_minus: np.ndarray | None = None
    sigi_minus: np.ndarray | None = None
    n_plus: np.ndarray | None = None
    n_minus: np.ndarray | None = None
    f: np.ndarray | None = None
    sigf: np.ndarray | None = None
    f_plus: np.ndarray | None = None
    sigf_plus: np.ndarray | None = None
    f_minus: np.ndarray | None = None
    sigf_minus: np.ndarray | None = None
    dano: np.ndarray | None = None
    sigdano: np.ndarray | None = None
    notes: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.hkl)


def _scatter(keys_target, keys_source, values, fill=np.nan):
    """Values of ``keys_source`` rows placed at the rows of ``keys_target`` with the same key."""
    out = np.full(len(keys_target), fill, dtype=float)
    if not len(keys_target):
        return out
    order = np.argsort(keys_target)
    pos = np.clip(np.searchsorted(keys_target, keys_source, sorter=order), 0, len(order) - 1)
    rows = order[pos]
    found = keys_target[rows] == keys_source  # a half whose index has no IMEAN is left out
    out[rows[found]] = np.asarray(values, dtype=float)[found]
    return out


def merge_intensities(hkl, intensity, variance, space_group, unit_cell, anomalous: bool = True,
                      truncate: bool = True, fw_min_reflections: int = 200) -> MergedArrays:
    """Merge observations (observed indices, scaled intensities, variances) into unique reflections."""
    hkl = np.asarray(hkl, dtype=np.int32).reshape(-1, 3)
    intensity = np.asarray(intensity, dtype=float)
    variance = np.asarray(variance, dtype=float)
    mean = merge_equivalents(hkl, intensity, variance, space_group, anomalous=False)
    keep = np.isfinite(mean.intensity) & (mean.sigma > 0)
    out_hkl = mean.hkl[keep]
    d = d_spacing(out_hkl, unit_cell)
    merged = MergedArrays(hkl=out_hkl, d=d, centric=mean.centric[keep], epsilon=mean.epsilon[keep],
                          imean=mean.intensity[keep], sigimean=mean.sigma[keep], n=mean.multiplicity[keep],
                          anomalous=anomalous)
    key = hkl_key(out_hkl)
    if anomalous:
        half = merge_equivalents(hkl, intensity, variance, space_group, anomalous=True)
        ok = np.isfinite(half.intensity) & (half.sigma > 0)
        asu = np.where(half.plus[:, None], half.hkl, -half.hkl)
        hkey = hkl_key(asu)
        plus, minus = ok & half.plus, ok & ~half.plus
        merged.i_plus = _scatter(key, hkey[plus], half.intensity[plus])
        merged.sigi_plus = _scatter(key, hkey[plus], half.sigma[plus])
        merged.n_plus = _scatter(key, hkey[plus], half.multiplicity[plus])
        merged.i_minus = _scatter(key, hkey[minus], half.intensity[minus])
        merged.sigi_minus = _scatter(key, hkey[minus], half.sigma[minus])
        merged.n_minus = _scatter(key, hkey[minus], half.multiplicity[minus])
    if truncate:
        _add_amplitudes(merged, fw_min_reflections)
    return merged


def _add_amplitudes(m: MergedArrays, min_reflections: int) -> None:
    if not m.anomalous:
        fw = french_wilson(m.imean, m.sigimean, m.d, m.centric, m.epsilon, min_reflections=min_reflections)
        m.f, m.sigf = fw.F, fw.sigF
        if fw.n_rejected:
            m.notes.append(f"{fw.n_rejected} intensities too negative for an amplitude (French-Wilson)")
        return
    # the two halves side by side, truncated with one prior
    has_p, has_m = np.isfinite(m.i_plus), np.isfinite(m.i_minus)
    rows = np.concatenate([np.flatnonzero(has_p), np.flatnonzero(has_m)])
    i = np.concatenate([m.i_plus[has_p], m.i_minus[has_m]])
    s = np.concatenate([m.sigi_plus[has_p], m.sigi_minus[has_m]])
    fw = french_wilson(i, s, m.d[rows], m.centric[rows], m.epsilon[rows], min_reflections=min_reflections)
    n_p = int(has_p.sum())
    m.f_plus = np.full(len(m), np.nan)
    m.sigf_plus = np.full(len(m), np.nan)
    m.f_minus = np.full(len(m), np.nan)
    m.sigf_minus = np.full(len(m), np.nan)
    m.f_plus[has_p], m.sigf_plus[has_p] = fw.F[:n_p], fw.sigF[:n_p]
    m.f_minus[has_m], m.sigf_minus[has_m] = fw.F[n_p:], fw.sigF[n_p:]
    if fw.n_rejected:
        m.notes.append(f"{fw.n_rejected} intensities too negative for an amplitude (French-Wilson)")
    # F: inverse-variance mean of the halves that have an amplitude
    with np.errstate(divide="ignore", invalid="ignore"):
        wp = np.where(np.isfinite(m.f_plus) & (m.sigf_plus > 0), 1.0 / m.sigf_plus**2, 0.0)
        wm = np.where(np.isfinite(m.f_minus) & (m.sigf_minus > 0), 1.0 / m.sigf_minus**2, 0.0)
        sw = wp + wm
        m.f = np.where(sw > 0, (np.nan_to_num(m.f_plus) * wp + np.nan_to_num(m.f_minus) * wm) / sw, np.nan)
        m.sigf = np.where(sw > 0, 1.0 / np.sqrt(sw), np.nan)
    both = np.isfinite(m.f_plus) & np.isfinite(m.f_minus) & ~m.centric
    m.dano = np.where(both, m.f_plus - m.f_minus, np.nan)
    m.sigdano = np.where(both, np.sqrt(m.sigf_plus**2 + m.sigf_minus**2), np.nan)
