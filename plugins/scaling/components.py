"""Building blocks of scaling models: smoothers in rotation angle and absorption harmonics.

Each block is a fixed design (built once per data set) so that the model's values are linear
in its parameters: ``C = Σ w·c`` over a few nearby knots for a smoother, ``S = 1 + Y @ a``
for the absorption surface. The multiplicative model ``g = C · exp(B / 2d²) · S`` then has a Jacobian that is a
row scaling of these matrices (see :mod:`friedel.plugins.scaling.models`).
"""

from __future__ import annotations

import numpy as np

#: DIALS's automatic (scale, decay) smoother intervals in degrees by total scan range
AUTO_INTERVALS = ((5.0, 1.0, 1.5), (10.0, 2.0, 3.0), (25.0, 4.0, 5.0), (90.0, 8.0, 10.0))
LONG_SCAN_INTERVALS = (15.0, 20.0)


def auto_intervals(scan_range: float) -> tuple[float, float]:
    """(scale, decay) smoother intervals (degrees) for a scan of ``scan_range`` degrees."""
    for limit, scale, decay in AUTO_INTERVALS:
        if scan_range < limit:
            return scale, decay
    return LONG_SCAN_INTERVALS


def smoother_knots(phi_range: tuple[float, float], interval: float) -> np.ndarray:
    """Knot positions (degrees) of a 1-D smoother over ``phi_range`` with spacing ~``interval``.

    Two knots when the range fits in one interval, three when it fits in two, otherwise
    ``n_bins + 2`` knots half an interval beyond each end with ``n_bins = max(ceil(R/w), 3)``
    and the actual interval ``R / n_bins`` ≤ w (the numbers of parameters DIALS uses: 26 and
    20 for 360 degrees at 15 and 20 degrees, 14 and 11 for 180 degrees).
    """
    start, end = float(min(phi_range)), float(max(phi_range))
    width = max(end - start, 1e-6)
    if width <= interval:
        return np.array([start, end])
    if width < 2 * interval:
        return np.array([start, 0.5 * (start + end), end])
    n_bins = max(int(np.ceil(width / interval - 1e-9)), 3)
    step = width / n_bins
    return start - 0.5 * step + step * np.arange(n_bins + 2)


def gaussian_smoother_weights(phi: np.ndarray, knots: np.ndarray, half_window: int = 3):
    """Row-normalised Gaussian weights of each ``phi`` on its nearest knots.

    Returns ``(cols, weights)``, both (n, 2·half_window): the knots from ``half_window - 1``
    below to ``half_window`` above the knot interval holding ``phi`` (a window centred on
    ``phi``, so the smoother has no bias on a ramp) and their weights (zero for knots outside
    the range). The Gaussian width is the knot spacing, so the value at ``phi`` is a local
    weighted average of the knot values: smooth, and exactly 1 when every knot value is 1.
    """
    phi = np.asarray(phi, dtype=float)
    k = len(knots)
    spacing = float(np.min(np.diff(knots))) if k > 1 else 1.0
    position = (phi - knots[0]) / spacing  # in knot units
    below = np.floor(position).astype(np.int64)
    offsets = np.arange(-half_window + 1, half_window + 1)
    cols = below[:, None] + offsets[None, :]
    valid = (cols >= 0) & (cols < k)
    cols = np.clip(cols, 0, k - 1)
    dist = (phi[:, None] - knots[cols]) / spacing
    weights = np.where(valid, np.exp(-0.5 * dist**2), 0.0)
    weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-300)
    return cols, weights


def smoother_values(cols, weights, knot_values) -> np.ndarray:
    """Smoothed value at every row: Σ_j weights[i, j]·knot_values[cols[i, j]]."""
    return np.einsum("ij,ij->i", weights, knot_values[cols])


def real_spherical_harmonics(lmax: int, unit_vectors: np.ndarray) -> np.ndarray:
    """Real spherical harmonics Y_lm, l = 1..lmax, m = -l..l, at unit vectors (n, 3).

    Columns are ordered l = 1 (m = -1, 0, 1), l = 2 (m = -2..2), ...: ``lmax² + 2·lmax``
    of them. Real forms: √2·(−1)^m·Re Y_l^m for m > 0, √2·(−1)^m·Im Y_l^|m| for m < 0.
    """
    from scipy.special import sph_harm_y

    v = np.asarray(unit_vectors, dtype=float)
    theta = np.arccos(np.clip(v[:, 2], -1.0, 1.0))  # polar angle
    azimuth = np.arctan2(v[:, 1], v[:, 0])
    columns = []
    for l in range(1, lmax + 1):
        for m in range(-l, l + 1):
            y = sph_harm_y(l, abs(m), theta, azimuth)
            if m == 0:
                columns.append(y.real)
            elif m > 0:
                columns.append(np.sqrt(2.0) * (-1) ** m * y.real)
            else:
                columns.append(np.sqrt(2.0) * (-1) ** m * y.imag)
    return np.column_stack(columns) if columns else np.zeros((len(v), 0))


def crystal_frame_directions(experiment, phi_deg: np.ndarray, s1: np.ndarray):
    """Reverse-beam and scattered directions rotated back into the crystal (goniometer) frame.

    With the lab rotation R = S·R(φ)·F at each observation, returns ``(s0c, s1c)`` =
    ``(R⁻¹·(−ŝ0), R⁻¹·ŝ1)`` as unit vectors (n, 3): the path of the beam through a crystal
    that turns with the goniometer, which is what an absorption surface depends on.
    """
    s1 = np.asarray(s1, dtype=float)
    s1u = s1 / np.linalg.norm(s1, axis=1, keepdims=True)
    s0u = experiment.beam.unit_s0 if hasattr(experiment.beam, "unit_s0") else experiment.beam.s0
    s0u = np.asarray(s0u, dtype=float) / np.linalg.norm(s0u)
    gonio = experiment.goniometer
    if gonio is None:
        return np.broadcast_to(-s0u, s1u.shape).copy(), s1u
    R = gonio.rotation_matrix(np.radians(np.asarray(phi_deg, dtype=float)))  # (n, 3, 3)
    if R.ndim == 2:
        R = np.broadcast_to(R, (len(s1u), 3, 3))
    Rt = np.transpose(R, (0, 2, 1))
    s0c = np.einsum("nij,j->ni", Rt, -s0u)
    s1c = np.einsum("nij,nj->ni", Rt, s1u)
    return s0c, s1c


def absorption_design_matrix(lmax: int, experiment, phi_deg: np.ndarray, s1: np.ndarray) -> np.ndarray:
    """Ỹ_lm = ½[Y_lm(ŝ0c) + Y_lm(ŝ1c)] for every observation (n, lmax² + 2·lmax)."""
    s0c, s1c = crystal_frame_directions(experiment, phi_deg, s1)
    return 0.5 * (real_spherical_harmonics(lmax, s0c) + real_spherical_harmonics(lmax, s1c))
