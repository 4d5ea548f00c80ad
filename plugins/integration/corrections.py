"""Lorentz-polarisation and detector quantum efficiency, stored as columns (not applied).

* ``lp = L'/P``, with L' = |s1 . (m2 x s0)| / (|s0| |s1|) the inverse Lorentz factor and
  P = (1 - 2f)(1 - (n . s1^)^2) + f (1 + (s1^ . s0^)^2) the polarisation factor (f the
  polarised fraction, n the normal of the polarisation plane). Corrected I = I x lp.
* ``qe = 1 - exp(-mu t0 / |cos(angle between panel normal and s1)|)`` when the panel has an
  attenuation coefficient; corrected I = I / qe.
"""

from __future__ import annotations

import numpy as np


def lorentz_polarisation(experiment, s1: np.ndarray) -> np.ndarray:
    beam = experiment.beam
    s0 = beam.s0
    s1 = np.atleast_2d(s1)
    n1 = np.linalg.norm(s1, axis=1)
    u1 = s1 / n1[:, None]
    u0 = s0 / np.linalg.norm(s0)
    if experiment.goniometer is not None:
        m2 = experiment.goniometer.rotation_axis
        lorentz_inv = np.abs(s1 @ np.cross(m2, s0)) / (np.linalg.norm(s0) * n1)
    else:
        lorentz_inv = np.ones(len(s1))
    f = beam.polarization_fraction
    normal = np.asarray(beam.polarization_normal, float)
    normal = normal / np.linalg.norm(normal)
    pol = (1 - 2 * f) * (1 - (u1 @ normal) ** 2) + f * (1 + (u1 @ u0) ** 2)
    return lorentz_inv / pol


def quantum_efficiency(experiment, s1: np.ndarray, panel: np.ndarray) -> np.ndarray | None:
    """Per-reflection qe, or None when no panel has an attenuation coefficient."""
    detector = experiment.detector
    if not any(p.mu > 0 and p.thickness > 0 for p in detector):
        return None
    qe = np.ones(len(s1))
    for i, p in enumerate(detector):
        sel = panel == i
        if not sel.any() or p.mu <= 0:
            continue
        u = s1[sel] / np.linalg.norm(s1[sel], axis=1)[:, None]
        cos = np.abs(u @ p.normal)
        qe[sel] = 1.0 - np.exp(-p.mu * p.thickness / cos)
    return qe
