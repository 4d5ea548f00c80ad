"""Scan-varying crystal models: orientation and unit cell as smooth functions of the rotation angle.

Each parameter of the crystal (three orientation angles, the free metric parameters of the
cell) is given at a few evenly spaced *sample points* over the scan and read at any frame
``z`` through a Gaussian smoother (:class:`GaussianSmoother`)::

    p(z) = sum_i w_i(z) p_i / sum_i w_i(z),   w_i(z) = exp(-((t - t_i) / 0.7)^2)

with ``t`` the frame in units of the interval width and only the three nearest samples taking
part. The number of intervals is ``max(int(scan width / interval_width_degrees), 1)``; there
are 2 samples for one interval, 3 for two and ``n + 2`` otherwise (DIALS's layout).

The model is composed once per image (at the image centre), as DIALS does per block: every
observation on image ``b`` sees

    A_b = Phi(p_b) U0 B(g_b)

where ``Phi`` is the product of small rotations (mrad) about the lab x, y, z axes, ``U0`` the
orientation at the start of the scan-varying fit and ``B(g)`` the lower-triangular factor of the
symmetry-constrained reciprocal metric (so every image keeps the lattice symmetry). Derivatives
are analytic: ``dA_b/dp_{i,k} = W_i(b) dA/dp_k`` (``W`` the normalised smoother weights).
"""

from __future__ import annotations

import numpy as np

from friedel.plugins.refinement.cell_constraints import METRIC_SCALE, MetricModel
from friedel.plugins.refinement.parameterisations import MRAD, ModelParameterisation, cross_matrix

SIGMA = 0.65 + 0.05 * (3 - 2)  # smoother width in interval units for the three nearest points


def number_of_intervals(width_degrees: float, interval_width_degrees: float) -> int:
    """``max(int(width / interval width), 1)``."""
    return max(int(abs(width_degrees) / interval_width_degrees), 1)


class GaussianSmoother:
    """Smoother weights over a scan's frames (``z`` in DIALS frame coordinates).

    Parameters
    ----------
    frame_range : (float, float)
        Frames covered, e.g. ``scan.array_range``.
    n_intervals : int
        Number of intervals (at least 1).
    """

    def __init__(self, frame_range, n_intervals: int):
        self.z0, z1 = float(frame_range[0]), float(frame_range[1])
        self.n_intervals = max(int(n_intervals), 1)
        self.spacing = (z1 - self.z0) / self.n_intervals
        if self.n_intervals == 1:
            self.positions = np.array([0.0, 1.0])
        elif self.n_intervals == 2:
            self.positions = np.array([0.0, 1.0, 2.0])
        else:
            self.positions = np.arange(self.n_intervals + 2) - 0.5

    @property
    def n_values(self) -> int:
        return len(self.positions)

    def sample_frames(self) -> np.ndarray:
        """Frame of each sample point."""
        return self.z0 + self.positions * self.spacing

    def weights(self, z) -> np.ndarray:
        """Normalised weights (n_values x len(z)): ``p(z) = W.T @ values``."""
        t = (np.atleast_1d(np.asarray(z, dtype=float)) - self.z0) / self.spacing
        d = t[None, :] - self.positions[:, None]
        w = np.exp(-((d / SIGMA) ** 2))
        if self.n_values > 3:  # only the three nearest samples contribute
            rank = np.argsort(np.argsort(np.abs(d), axis=0), axis=0)
            w = np.where(rank < 3, w, 0.0)
        return w / w.sum(axis=0, keepdims=True)


# -- vectorised pieces -------------------------------------------------------------------------
def _rotations(axis, angles_mrad):
    """R (n x 3 x 3) about a fixed unit axis, and dR/d(angle in mrad)."""
    K = cross_matrix(axis)
    a = np.asarray(angles_mrad, dtype=float) * MRAD
    c, s = np.cos(a)[:, None, None], np.sin(a)[:, None, None]
    R = np.eye(3) * c + K * s + np.outer(axis, axis) * (1.0 - c)
    return R, (K @ R) * MRAD


def _B_from_metrics(G):
    """Stacked lower-triangular B with B^T B = G (n x 3 x 3)."""
    P = np.eye(3)[::-1]
    L = np.linalg.cholesky(P @ G @ P)
    return P @ np.swapaxes(L, -1, -2) @ P


def _dB_from_dmetric(B, dG):
    """dB (n x k x 3 x 3) for metric derivatives dG (k x 3 x 3), B stacked (n x 3 x 3)."""
    Binv = np.linalg.inv(B)
    X = np.einsum("nji,kjl,nlm->nkim", Binv, dG, Binv, optimize=True)
    diag = np.einsum("nkii->nki", X)
    Y = np.tril(X, -1) + diag[..., None] * np.eye(3) / 2
    return Y @ B[:, None]


class ScanVaryingCrystalModel:
    """The state of one crystal in one sweep: smoother, start orientation U0, the cell's metric
    model and the sample values of orientation (mrad, n_values x 3) and cell (n_values x k)."""

    def __init__(self, crystal, experiment, frame_range=None, n_intervals: int = 1):
        scan = experiment.scan
        self.crystal = crystal
        self.scan = scan
        self.smoother = GaussianSmoother(scan.array_range if frame_range is None else frame_range, n_intervals)
        self.metric_model = MetricModel(crystal.space_group_ops)
        B0 = crystal.B
        g0 = self.metric_model.parameters_from_B(B0)
        B0 = self.metric_model.B(g0)  # symmetrised
        self.U0 = crystal.A @ np.linalg.inv(crystal.B)
        self.orientation = np.zeros((self.smoother.n_values, 3))
        self.cell = np.tile(g0, (self.smoother.n_values, 1))
        n_images = scan.num_images
        self.block_frames = scan.array_range[0] + np.arange(n_images) + 0.5
        self.block_weights = self.smoother.weights(self.block_frames)  # v x n_blocks
        self._cache = None

    # -- composition ---------------------------------------------------------------------------
    def block_of(self, z) -> np.ndarray:
        """Image (block) index of frames ``z``, clamped to the scan."""
        b = np.floor(np.asarray(z, dtype=float) - self.scan.array_range[0]).astype(np.int64)
        return np.clip(b, 0, self.scan.num_images - 1)

    def invalidate(self):
        self._cache = None

    def compose(self, frames=None, weights=None):
        """A, dA/d(orientation) (3 x n x 3 x 3) and dA/d(cell) (k x n x 3 x 3) at the block
        centres (or at ``frames``)."""
        if frames is None and self._cache is not None:
            return self._cache
        W = self.block_weights if frames is None else self.smoother.weights(frames)
        p = W.T @ self.orientation  # n x 3 (mrad)
        g = W.T @ self.cell  # n x k
        rots = [_rotations(ax, p[:, j]) for j, ax in enumerate(np.eye(3))]
        (R1, d1), (R2, d2), (R3, d3) = rots
        Phi = R3 @ R2 @ R1
        G = np.einsum("nk,kij->nij", g, self.metric_model.basis_matrices)
        B = _B_from_metrics(G)
        UB = self.U0 @ B
        A = Phi @ UB
        dA_orient = np.array([R3 @ R2 @ d1 @ UB, R3 @ d2 @ R1 @ UB, d3 @ R2 @ R1 @ UB])
        dB = _dB_from_dmetric(B, self.metric_model.basis_matrices)  # n x k x 3 x 3
        dA_cell = np.swapaxes((Phi @ self.U0)[:, None] @ dB, 0, 1)
        out = (A, dA_orient, dA_cell)
        if frames is None:
            self._cache = out
        return out

    def A_at_scan_points(self) -> np.ndarray:
        """A at every image boundary (num_images + 1 points), as DIALS writes them."""
        z = self.scan.array_range[0] + np.arange(self.scan.num_images + 1)
        return self.compose(frames=z)[0]

    def cells_at_scan_points(self) -> np.ndarray:
        """Unit cells (n x 6) at the image boundaries."""
        z = self.scan.array_range[0] + np.arange(self.scan.num_images + 1)
        g = self.smoother.weights(z).T @ self.cell
        out = []
        for gi in g:
            Gd = np.linalg.inv(self.metric_model.metric(gi))
            a, b, c = np.sqrt(np.diag(Gd))
            out.append([a, b, c, np.degrees(np.arccos(Gd[1, 2] / (b * c))),
                        np.degrees(np.arccos(Gd[0, 2] / (a * c))), np.degrees(np.arccos(Gd[0, 1] / (a * b)))])
        return np.array(out)

    def observation_A(self, frames) -> np.ndarray:
        return self.compose()[0][self.block_of(frames)]


class _ScanVaryingPart(ModelParameterisation):
    """Common part of the two scan-varying crystal parameterisations (values: sample-major)."""

    kind = "A_sv"

    def __init__(self, sv_model, experiment_ids, names, values, label):
        super().__init__(sv_model.crystal, experiment_ids, names, values, label)
        self.sv = sv_model

    def _store(self, values):  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def free_per_sample(self) -> int:
        """Free parameters of one sample point (the most of any point)."""
        return int(self.free.reshape(self.sv.smoother.n_values, -1).sum(axis=1).max())

    def set_values(self, values) -> None:
        self.values = np.asarray(values, dtype=float).copy()
        self._store(self.values.reshape(self.sv.smoother.n_values, -1))
        self.sv.invalidate()
        self.sv.compose()  # a metric that is not positive definite raises LinAlgError here (invalid step)

    def _local(self):  # pragma: no cover - interface
        raise NotImplementedError

    def observation_gradients(self, pred, obs, experiment, gradients):
        """d(X, Y, phi)/d(values) (n_params x n x 3) of the observations ``obs``."""
        frames = experiment.scan.frame_from_angle(np.degrees(obs.obs[:, 2]))
        blocks = self.sv.block_of(frames)
        local = self._local()[:, blocks]  # k x n x 3 x 3
        G = gradients(pred, obs.hkl, "A", local, experiment)  # k x n x 3
        W = self.sv.block_weights[:, blocks]  # v x n
        out = W[:, None, :, None] * G[None]
        return out.reshape(-1, len(blocks), 3)


class ScanVaryingOrientation(_ScanVaryingPart):
    """Orientation angles Phi1..3 (mrad about lab x, y, z) at each sample point."""

    name = "scan_varying_crystal_orientation"

    def __init__(self, sv_model, experiment_ids, label="crystal orientation (scan-varying)"):
        v = sv_model.smoother.n_values
        names = [f"Phi{k + 1}_sample{i}" for i in range(v) for k in range(3)]
        super().__init__(sv_model, experiment_ids, names, sv_model.orientation.ravel(), label)

    def _store(self, values):
        self.sv.orientation = values.copy()

    def _local(self):
        return self.sv.compose()[1]


class ScanVaryingUnitCell(_ScanVaryingPart):
    """Free metric parameters of the symmetry-constrained cell (1e-5/A^2) at each sample point."""

    name = "scan_varying_crystal_unit_cell"

    def __init__(self, sv_model, experiment_ids, label="crystal unit cell (scan-varying)"):
        v, k = sv_model.cell.shape
        names = [f"g*_{j + 1}_sample{i}" for i in range(v) for j in range(k)]
        super().__init__(sv_model, experiment_ids, names, sv_model.cell.ravel(), label)

    def _store(self, values):
        self.sv.cell = values.copy()

    def _local(self):
        return self.sv.compose()[2]


__all__ = ["GaussianSmoother", "ScanVaryingCrystalModel", "ScanVaryingOrientation", "ScanVaryingUnitCell",
           "number_of_intervals", "METRIC_SCALE"]
