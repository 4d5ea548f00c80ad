"""The physics of a rotation image: what fraction of each reflection lands on which image,
with which geometric corrections and spot shape, on top of which background.

Conventions match what an integration program divides out (DIALS's ``lp`` column):

* Lorentz: ``L = |s1 . (m2 x s0)| / (|s0| |s1|)``; slowly-crossing reflections (small L)
  are recorded more strongly, so raw counts scale as ``1 / L``.
* Polarization: ``P = (1 - 2 p)(1 - (n . s1/|s1|)^2) + p (1 + cos^2 2theta)`` for a beam
  with polarization plane normal ``n`` and fraction ``p``; raw counts scale as ``P``.
* ``lp = L / P``: ``raw * lp`` is proportional to the true intensity (times partiality,
  per-image scale and decay).
* Rocking curve: a Gaussian of standard deviation ``sigma_m`` (mosaicity and beam
  divergence added in quadrature) in the angle about ``e1 = s1 x s0 / |s1 x s0|``; seen in
  the rotation angle its width is ``sigma_m / |m2 . e1|``. The fraction recorded on an
  image is the integral of this profile over the image's oscillation.
* Spot shape on the detector: angular spread ``sigma_b`` (beam divergence and crystal
  size) in the two directions normal to ``s1``, mapped to pixels through the local
  Jacobian of the detector (so spots stretch at oblique incidence), plus the detector
  point-spread function, integrated over each pixel.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf


def lorentz_polarization(s0, s1, axis, polarization_normal, polarization_fraction):
    """Return ``(L, P)`` for rays ``s1`` (n x 3); see the module docstring."""
    s0 = np.asarray(s0, float)
    s1 = np.asarray(s1, float)
    ls1 = np.linalg.norm(s1, axis=1)
    ls0 = np.linalg.norm(s0)
    L = np.abs(s1 @ np.cross(axis, s0)) / (ls0 * ls1)
    p1 = (s1 @ np.asarray(polarization_normal, float)) / ls1
    cos2t = (s1 @ s0) / (ls1 * ls0)
    P = (1.0 - 2.0 * polarization_fraction) * (1.0 - p1**2) + polarization_fraction * (1.0 + cos2t**2)
    return L, P


def rocking_width_phi(s0, s1, axis, sigma_m_rad: float) -> np.ndarray:
    """Standard deviation (radians) of each reflection's rocking curve in the rotation angle."""
    e1 = np.cross(s1, s0)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    zeta = np.abs(e1 @ axis)
    return sigma_m_rad / np.maximum(zeta, 1e-3)


def image_partials(phi_c, sigma_phi, scan, n_sigma: float = 5.0):
    """Spread each reflection over the images of ``scan``.

    Returns ``(row, image_index, fraction)``: for each reflection ``row`` and 0-based image
    index, the fraction of its rocking curve integrated over that image's oscillation
    (only images within ``n_sigma`` of the centre; fractions below 1e-5 dropped).
    """
    start, width = np.radians(scan.oscillation[0]), np.radians(scan.oscillation[1])
    n_images = scan.num_images
    z_lo = np.floor((phi_c - n_sigma * sigma_phi - start) / width).astype(np.int64)
    z_hi = np.floor((phi_c + n_sigma * sigma_phi - start) / width).astype(np.int64) + 1
    z_lo = np.clip(z_lo, 0, n_images)
    z_hi = np.clip(z_hi, 0, n_images)
    count = np.maximum(z_hi - z_lo, 0)
    row = np.repeat(np.arange(len(phi_c)), count)
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    image = z_lo[row] + offset
    lo = start + image * width
    root2s = np.sqrt(2.0) * sigma_phi[row]
    frac = 0.5 * (erf((lo + width - phi_c[row]) / root2s) - erf((lo - phi_c[row]) / root2s))
    keep = frac > 1e-5
    return row[keep], image[keep], frac[keep]


def spot_covariance_px(panel, s1, sigma_b_rad: float, psf_px: float) -> np.ndarray:
    """Covariance (n x 3: var_x, cov_xy, var_y, in px^2) of each spot on ``panel``."""
    s1 = np.asarray(s1, float)
    ls1 = np.linalg.norm(s1, axis=1, keepdims=True)
    u = s1 / ls1
    ref = np.where(np.abs(u[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = np.cross(u, ref)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(u, e1)
    eps = 1e-4

    def px(v):
        xy, _ = panel.ray_intersection(v)
        return panel.mm_to_px(xy)

    centre = px(u)
    j1 = (px(u + eps * e1) - centre) / eps
    j2 = (px(u + eps * e2) - centre) / eps
    var = sigma_b_rad**2
    cxx = var * (j1[:, 0] ** 2 + j2[:, 0] ** 2) + psf_px**2
    cxy = var * (j1[:, 0] * j1[:, 1] + j2[:, 0] * j2[:, 1])
    cyy = var * (j1[:, 1] ** 2 + j2[:, 1] ** 2) + psf_px**2
    return np.column_stack([cxx, cxy, cyy])


def image_scales(n_images: int, drift: float, seed: int) -> np.ndarray:
    """Smooth per-image scale drift around 1 (beam intensity, illuminated volume)."""
    rng = np.random.default_rng([seed, 7])
    t = np.arange(n_images) / max(n_images - 1, 1)
    phase = rng.uniform(0, 2 * np.pi)
    return 1.0 + drift * (0.6 * np.sin(2 * np.pi * 0.7 * t + phase) + 0.4 * (t - 0.5))


def image_b_factors(n_images: int, damage_b: float) -> np.ndarray:
    """Extra B factor (A^2) of each image from radiation damage, growing linearly with dose."""
    return damage_b * np.arange(n_images) / max(n_images - 1, 1)


def background_map(panel, s0, flat: float, air: float, air_width_deg: float, ring: float,
                   ring_d: float, ring_width: float, polarization_normal, polarization_fraction) -> np.ndarray:
    """Expected background counts per pixel (float32, slow x fast) on one image at scale 1.

    ``flat`` counts/pixel everywhere (diffuse scatter and fluorescence), ``air`` counts at
    the beam centre falling off as ``exp(-2theta / air_width)`` (air and solvent
    scatter), and a solvent ring of peak ``ring`` counts at d = ``ring_d`` A with Gaussian
    width ``ring_width`` in 1/d. Scattered terms follow pixel solid angle and polarization.
    """
    nx, ny = panel.image_size
    px = panel.pixel_size
    x = ((np.arange(nx, dtype=np.float32) + 0.5) * np.float32(px[0]))
    y = ((np.arange(ny, dtype=np.float32) + 0.5) * np.float32(px[1]))
    o, f, s = (np.asarray(v, np.float32) for v in (panel.origin, panel.fast_axis, panel.slow_axis))
    lab = [o[i] + y[:, None] * s[i] + x[None, :] * f[i] for i in range(3)]
    r = np.sqrt(lab[0] ** 2 + lab[1] ** 2 + lab[2] ** 2)
    s0 = np.asarray(s0, float)
    u0 = (s0 / np.linalg.norm(s0)).astype(np.float32)
    cos2t = (lab[0] * u0[0] + lab[1] * u0[1] + lab[2] * u0[2]) / r
    two_theta = np.arccos(np.clip(cos2t, -1, 1))
    normal = panel.normal.astype(np.float32)
    # solid angle of a pixel relative to one at normal incidence on the closest point
    cos_inc = np.abs(lab[0] * normal[0] + lab[1] * normal[1] + lab[2] * normal[2]) / r
    solid = cos_inc * (panel.distance / r) ** 2
    n = np.asarray(polarization_normal, np.float32)
    p1 = (lab[0] * n[0] + lab[1] * n[1] + lab[2] * n[2]) / r
    pol = (1 - 2 * polarization_fraction) * (1 - p1**2) + polarization_fraction * (1 + cos2t**2)
    inv_d = 2.0 * np.sin(two_theta / 2) * np.float32(np.linalg.norm(s0))
    scatter = air * np.exp(-np.degrees(two_theta) / air_width_deg)
    scatter = scatter + ring * np.exp(-0.5 * ((inv_d - 1.0 / ring_d) / ring_width) ** 2)
    bg = flat + scatter * solid * pol
    return bg.astype(np.float32)


def drift_profile(n_points: int) -> np.ndarray:
    """Fraction (0 to 1) of the crystal's total turn reached at each of ``n_points`` evenly
    spaced scan points: smooth, monotonic and not linear (a half sine on a linear ramp), so a
    model linear in the angle cannot fit it exactly."""
    t = np.linspace(0.0, 1.0, n_points)
    return 0.6 * t + 0.4 * np.sin(0.5 * np.pi * t) ** 2


def drifting_crystal_A(crystal, n_images: int, drift_deg: float, cell_drift: float, rng) -> np.ndarray:
    """True A (n_images + 1 x 3 x 3) at the image boundaries of a crystal that turns by
    ``drift_deg`` about a random axis and whose cell edges grow by the fraction ``cell_drift``
    over the sweep. The crystal's own A is taken as the start of the sweep."""
    from friedel.models.crystal import B_matrix
    from friedel.models.geometry import axis_angle_matrix
    import gemmi

    axis = rng.standard_normal(3)
    axis /= np.linalg.norm(axis)
    turn = drift_profile(n_images + 1) * np.radians(drift_deg)
    cell = crystal.unit_cell
    U0 = crystal.U
    grow = np.linspace(0.0, 1.0, n_images + 1) * cell_drift
    out = []
    for angle, g in zip(turn, grow):
        c = gemmi.UnitCell(cell.a * (1 + g), cell.b * (1 + g), cell.c * (1 + g), cell.alpha, cell.beta, cell.gamma)
        out.append(axis_angle_matrix(axis, angle) @ U0 @ B_matrix(c))
    return np.array(out)
