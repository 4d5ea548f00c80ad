"""Built-in scaling models: ``physical`` (rotation sweeps) and ``KB`` (stills, narrow wedges).

Both follow :class:`friedel.contracts.scaling.ScalingModel`. The physical model is

    g = C(φ) · exp(B(φ) / 2d²) · S(ŝ0c, ŝ1c)

with C and B Gaussian smoothers over the rotation angle and S = 1 + Σ C_lm·Ỹ_lm a surface of
real spherical harmonics in the crystal frame. KB is g = K · exp(B / 2d²) per data set.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from friedel.contracts.scaling import JacobianRows, ScalingModel
from friedel.plugins.scaling import components
from friedel.plugins.scaling.params import ABSORPTION_LEVELS, KBParams, PhysicalParams

class PhysicalModel(ScalingModel):
    """Physical model: smooth scale and relative B in rotation angle, and a spherical-harmonic
    absorption surface in the crystal frame (for rotation sweeps)."""

    name = "physical"
    Params = PhysicalParams

    def __init__(self, params, *, experiment, data):
        p = params if params is not None else PhysicalParams()
        scan = experiment.scan
        if scan is None or scan.is_still:
            raise ValueError("the physical model needs a rotation scan")
        phi_range = scan.oscillation_range
        width = abs(phi_range[1] - phi_range[0])
        auto_scale, auto_decay = components.auto_intervals(width)
        self.scale_interval = p.scale_interval or auto_scale
        self.decay_interval = p.decay_interval or auto_decay
        self.scale_knots = components.smoother_knots(phi_range, self.scale_interval)
        self.decay_knots = components.smoother_knots(phi_range, self.decay_interval) if p.decay_correction else None
        self.scale_cols, self.scale_w = components.gaussian_smoother_weights(data.phi, self.scale_knots)
        if self.decay_knots is not None:
            self.decay_cols, self.decay_w = components.gaussian_smoother_weights(data.phi, self.decay_knots)
        else:
            self.decay_cols, self.decay_w = np.zeros((len(data), 0), np.int64), np.zeros((len(data), 0))
        absorption = p.absorption_correction
        use_absorption = width > 60.0 if str(absorption) == "auto" else str(absorption) == "True"
        level_lmax, level_weight = ABSORPTION_LEVELS[p.absorption_level]
        self.lmax = (p.lmax or level_lmax) if use_absorption else 0
        self.surface_weight = p.surface_weight if p.surface_weight is not None else level_weight
        self.Y = (components.absorption_design_matrix(self.lmax, experiment, data.phi, data.s1)
                  if self.lmax else np.zeros((len(data), 0)))
        self.decay_restraint = p.decay_restraint
        self.phi_range = phi_range
        self.half_inv_d2 = 0.5 / np.asarray(data.d, dtype=float) ** 2
        self.n_scale = len(self.scale_knots)
        self.n_decay = len(self.decay_knots) if self.decay_knots is not None else 0
        self.n_abs = self.Y.shape[1]
        abs_cols = np.broadcast_to(np.arange(self.n_abs, dtype=np.int64), self.Y.shape)
        self._jac_cols = np.ascontiguousarray(np.concatenate(
            [self.scale_cols, self.decay_cols + self.n_scale, abs_cols + self.n_scale + self.n_decay], axis=1))
        super().__init__(p, experiment=experiment, data=data)

    @property
    def null_parameters(self) -> np.ndarray:
        return np.concatenate([np.ones(self.n_scale), np.zeros(self.n_decay), np.zeros(self.n_abs)])

    @property
    def components(self) -> dict[str, slice]:
        out = {"scale": slice(0, self.n_scale)}
        if self.n_decay:
            out["decay"] = slice(self.n_scale, self.n_scale + self.n_decay)
        if self.n_abs:
            out["absorption"] = slice(self.n_scale + self.n_decay, self.n_parameters)
        return out

    @property
    def fixed_for_esds(self) -> np.ndarray:
        mask = np.zeros(self.n_parameters, dtype=bool)
        mask[0] = True  # the first scale value sets the gauge (DIALS: fix_initial)
        return mask

    def inverse_scales(self, parameters=None):
        p = self.parameters if parameters is None else parameters
        c = p[: self.n_scale]
        b = p[self.n_scale: self.n_scale + self.n_decay]
        a = p[self.n_scale + self.n_decay:]
        n = len(self.half_inv_d2)
        C = components.smoother_values(self.scale_cols, self.scale_w, c)
        B = components.smoother_values(self.decay_cols, self.decay_w, b) if self.n_decay else np.zeros(n)
        S = 1.0 + self.Y @ a if self.n_abs else np.ones(n)
        decay = np.exp(np.clip(B * self.half_inv_d2, -50.0, 50.0))
        g = C * decay * S
        # the column pattern never changes; only the values are recomputed
        values = np.empty(self._jac_cols.shape)
        ks, kd = self.scale_w.shape[1], self.decay_w.shape[1]
        np.multiply(self.scale_w, (decay * S)[:, None], out=values[:, :ks])
        if self.n_decay:
            np.multiply(self.decay_w, (g * self.half_inv_d2)[:, None], out=values[:, ks:ks + kd])
        if self.n_abs:
            np.multiply(self.Y, (C * decay)[:, None], out=values[:, ks + kd:])
        return g, JacobianRows(self._jac_cols, values)

    def restraints(self, parameters=None):
        p = self.parameters if parameters is None else parameters
        rows, res = [], []
        n = self.n_parameters
        if self.n_decay and self.decay_restraint > 0:
            s = self.components["decay"]
            res.append(np.sqrt(self.decay_restraint) * p[s])
            rows.append(sp.eye(n, format="csr")[s] * np.sqrt(self.decay_restraint))
        if self.n_abs and self.surface_weight > 0:
            s = self.components["absorption"]
            res.append(np.sqrt(self.surface_weight) * p[s])
            rows.append(sp.eye(n, format="csr")[s] * np.sqrt(self.surface_weight))
        if not res:
            return super().restraints(p)
        return np.concatenate(res), sp.vstack(rows, format="csr")

    def to_dict(self) -> dict:
        out = {"__id__": "physical", "is_scaled": True, "scale": self.component_dict("scale", 1.0)}
        corrections = ["scale"]
        if self.n_decay:
            out["decay"] = self.component_dict("decay", 0.0)
            corrections.append("decay")
        if self.n_abs:
            out["absorption"] = self.component_dict("absorption", 0.0)
            corrections.append("absorption")
        scan = self.experiment.scan
        out["configuration_parameters"] = {
            "corrections": corrections,
            "valid_osc_range": [float(self.phi_range[0]), float(self.phi_range[1])],
            "valid_image_range": [int(scan.image_range[0]), int(scan.image_range[1])],
            "scale_rot_interval": float(self.scale_interval),
            "scale_knots_deg": [float(k) for k in self.scale_knots],
        }
        if self.n_decay:
            out["configuration_parameters"]["decay_rot_interval"] = float(self.decay_interval)
            out["configuration_parameters"]["decay_restraint"] = float(self.decay_restraint)
        if self.n_abs:
            out["configuration_parameters"]["lmax"] = int(self.lmax)
            out["configuration_parameters"]["abs_surface_weight"] = float(self.surface_weight)
        return out

    def summary(self) -> str:
        parts = [f"scale {self.n_scale} (every {self.scale_interval:g} deg)"]
        if self.n_decay:
            parts.append(f"decay {self.n_decay} (every {self.decay_interval:g} deg)")
        parts.append(f"absorption {self.n_abs} (lmax {self.lmax}, weight {self.surface_weight:g})"
                     if self.n_abs else "no absorption")
        return "physical model: " + ", ".join(parts)


class KBModel(ScalingModel):
    """KB model: one scale K and one relative B per data set (for stills and narrow wedges)."""

    name = "KB"
    Params = KBParams

    def __init__(self, params, *, experiment, data):
        p = params if params is not None else KBParams()
        self.decay = bool(p.decay_correction)
        self.decay_restraint = float(p.decay_restraint)
        self.half_inv_d2 = 0.5 / np.asarray(data.d, dtype=float) ** 2
        super().__init__(p, experiment=experiment, data=data)

    @property
    def null_parameters(self) -> np.ndarray:
        return np.array([1.0, 0.0]) if self.decay else np.array([1.0])

    @property
    def components(self) -> dict[str, slice]:
        return {"scale": slice(0, 1), "decay": slice(1, 2)} if self.decay else {"scale": slice(0, 1)}

    def inverse_scales(self, parameters=None):
        p = self.parameters if parameters is None else parameters
        n = len(self.half_inv_d2)
        if self.decay:
            e = np.exp(np.clip(p[1] * self.half_inv_d2, -50.0, 50.0))
            g = p[0] * e
            J = np.column_stack([e, g * self.half_inv_d2])
        else:
            g = np.full(n, p[0])
            J = np.ones((n, 1))
        return g, JacobianRows(np.broadcast_to(np.arange(J.shape[1], dtype=np.int64), J.shape), J)

    def restraints(self, parameters=None):
        p = self.parameters if parameters is None else parameters
        if not self.decay or self.decay_restraint <= 0:
            return super().restraints(p)
        w = np.sqrt(self.decay_restraint)
        return np.array([w * p[1]]), sp.csr_matrix(([w], ([0], [1])), shape=(1, 2))

    def to_dict(self) -> dict:
        out = {"__id__": "KB", "is_scaled": True, "scale": self.component_dict("scale", 1.0)}
        corrections = ["scale"]
        if self.decay:
            out["decay"] = self.component_dict("decay", 0.0)
            corrections.append("decay")
        out["configuration_parameters"] = {"corrections": corrections}
        return out

    def summary(self) -> str:
        return "KB model: one scale" + (" and one relative B" if self.decay else "") + " per data set"


BUILT_IN = [PhysicalModel, KBModel]


def auto_model_name(experiment) -> str:
    """The model ``model=auto`` chooses: physical for scans of at least 1 degree, else KB."""
    scan = experiment.scan
    if experiment.is_still or scan is None:
        return "KB"
    start, end = scan.oscillation_range
    return "physical" if abs(end - start) >= 1.0 else "KB"
