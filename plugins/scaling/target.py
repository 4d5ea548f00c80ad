"""The scaling target: weighted least-squares agreement of each observation with its group mean.

    R(p) = Σ_h Σ_l w_hl (I_hl − g_hl(p)·⟨I_h⟩)² + Σ restraints²,   ⟨I_h⟩ = Σ w g I / Σ w g²

with w = 1/σ² (error-model corrected, unscaled units) and the groups h the symmetry-equivalent
observations across every data set. ⟨I_h⟩ is the minimiser of R for fixed g, so the gradient
of R with ⟨I_h⟩ held fixed is the exact gradient; the Gauss–Newton Jacobian of the residuals
``sqrt(w)·(I − g⟨I⟩)`` is then ``−sqrt(w)·⟨I⟩·dg/dp``. Each row depends only on its own data
set's parameters, so under this approximation the normal matrix is block-diagonal over data
sets (the data sets stay coupled through ⟨I_h⟩, recomputed at every step).
"""

from __future__ import annotations

import attrs
import numpy as np
import scipy.sparse as sp

from friedel.contracts.scaling import JacobianRows


class JointModels:
    """The models of all data sets as one parameter vector.

    Parameters
    ----------
    models : list of ScalingModel, one per data set
    row_slices : list of slice — the rows of the prepared data each model covers (in order)
    """

    def __init__(self, models, row_slices):
        self.models = list(models)
        self.row_slices = list(row_slices)
        sizes = [m.n_parameters for m in self.models]
        edges = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.param_slices = [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
        self.n_parameters = int(edges[-1])
        self.n_rows = self.row_slices[-1].stop if self.row_slices else 0

    @property
    def parameters(self) -> np.ndarray:
        return np.concatenate([m.parameters for m in self.models]) if self.models else np.zeros(0)

    @parameters.setter
    def parameters(self, p) -> None:
        for m, s in zip(self.models, self.param_slices):
            m.parameters = np.asarray(p[s], dtype=float).copy()

    def inverse_scales(self, p=None, jacobian: bool = True):
        """g for every row, and (optionally) each model's own :class:`JacobianRows`."""
        p = self.parameters if p is None else p
        gs, jacobians = [], []
        for m, s in zip(self.models, self.param_slices):
            g, J = m.inverse_scales(p[s])
            gs.append(g)
            jacobians.append(J)
        g = np.concatenate(gs) if gs else np.zeros(0)
        return g, (jacobians if jacobian else None)

    def normalise(self, rows=None) -> float:
        """Divide every model's scale component by the mean g over ``rows`` (fixes the gauge:
        scales and merged intensities are only determined up to one common factor)."""
        g, _ = self.inverse_scales(jacobian=False)
        sel = g if rows is None else g[rows]
        k = float(np.mean(sel)) if len(sel) else 1.0
        if not np.isfinite(k) or k <= 0:
            return 1.0
        for m in self.models:
            s = m.components.get("scale")
            if s is not None:
                m.parameters[s] = m.parameters[s] / k
        return k


def group_means(intensity, weight, g, group, use, n_groups=None):
    """⟨I_h⟩ = Σ w g I / Σ w g² over the ``use`` rows of each group, and the denominators.

    Returns per-group arrays ``(mean, sum_wg2)``; groups without used rows have mean 0.
    """
    n_groups = int(group.max()) + 1 if n_groups is None else n_groups
    wu = np.where(use, weight, 0.0)
    num = np.bincount(group, weights=wu * g * intensity, minlength=n_groups)
    den = np.bincount(group, weights=wu * g * g, minlength=n_groups)
    mean = np.divide(num, den, out=np.zeros(n_groups), where=den > 0)
    return mean, den


def usable_in_groups(group, use, minimum: int = 2) -> np.ndarray:
    """``use`` restricted to groups with at least ``minimum`` used rows (singletons carry no
    information about the scales)."""
    counts = np.bincount(group, weights=use.astype(float), minlength=int(group.max()) + 1 if len(group) else 0)
    return use & (counts[group] >= minimum)


@attrs.define
class BlockJacobian:
    """Jacobian of the target's residuals, one block per data set.

    ``observations[d]`` is the :class:`JacobianRows` (local parameter numbers) of data set d's
    intensity residuals, which are ``residual_slices[d]`` of the residual vector;
    ``restraints[d]`` the sparse restraint Jacobian of its restraint residuals
    ``restraint_slices[d]``.
    """

    observations: list
    residual_slices: list
    restraints: list
    restraint_slices: list


class ScalingTarget:
    """Residuals and Jacobian of the weighted least-squares target for the ``use`` rows."""

    def __init__(self, joint: JointModels, intensity, variance, group, use):
        self.joint = joint
        self.intensity = np.asarray(intensity, dtype=float)
        self.weight = np.where(variance > 0, 1.0 / np.where(variance > 0, variance, 1.0), 0.0)
        self.group = np.asarray(group, dtype=np.int64)
        self.use = usable_in_groups(self.group, np.asarray(use, dtype=bool))
        self.rows = np.flatnonzero(self.use)
        self.n_groups = int(self.group.max()) + 1 if len(self.group) else 0
        self.sqrt_w = np.sqrt(self.weight[self.rows])
        # used rows of each data set: local row numbers and their slice of the residuals
        edges = np.searchsorted(self.rows, [s.start for s in joint.row_slices] + [joint.n_rows])
        self.residual_slices = [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
        self.local_rows = [self.rows[rs] - s.start for rs, s in zip(self.residual_slices, joint.row_slices)]

    @property
    def n_observations(self) -> int:
        return len(self.rows)

    def residuals(self, p, jacobian: bool = True):
        """``(residuals, jacobian)``: the intensity residuals of the used rows followed by the
        restraint residuals of every data set; the Jacobian is a :class:`BlockJacobian`."""
        g, jacobians = self.joint.inverse_scales(p, jacobian=jacobian)
        mean, _ = group_means(self.intensity, self.weight, g, self.group, self.use, self.n_groups)
        rows = self.rows
        ih = mean[self.group[rows]]
        r = self.sqrt_w * (self.intensity[rows] - g[rows] * ih)
        res_parts, res_jac = [], []
        for m, s in zip(self.joint.models, self.joint.param_slices):
            rr, jr = m.restraints(p[s])
            res_parts.append(rr)
            res_jac.append(sp.csr_matrix(jr, shape=(len(rr), m.n_parameters)))
        res = np.concatenate([r] + res_parts)
        if not jacobian:
            return res, None
        factor = -self.sqrt_w * ih
        obs = []
        for J, local, rs in zip(jacobians, self.local_rows, self.residual_slices):
            obs.append(JacobianRows(J.cols[local], J.values[local] * factor[rs, None]))
        edges = np.cumsum([len(r)] + [len(x) for x in res_parts])
        restraint_slices = [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
        return res, BlockJacobian(obs, list(self.residual_slices), res_jac, restraint_slices)

    def value(self, p) -> float:
        r, _ = self.residuals(p, jacobian=False)
        return float(r @ r)
