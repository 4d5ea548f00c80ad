"""Smoothers, spherical harmonics and the models' Jacobians."""

from __future__ import annotations

import numpy as np
import pytest

from friedel.contracts.scaling import ScalingModelData
from friedel.plugins.scaling import components
from friedel.plugins.scaling.models import KBModel, PhysicalModel, PhysicalParams, auto_model_name


def test_auto_intervals_and_parameter_counts_follow_the_mature_tool():
    assert components.auto_intervals(360.0) == (15.0, 20.0)
    assert components.auto_intervals(70.0) == (8.0, 10.0)
    assert components.auto_intervals(3.0) == (1.0, 1.5)
    # 360 degrees: 26 scale and 20 decay parameters
    assert len(components.smoother_knots((0.0, 360.0), 15.0)) == 26
    assert len(components.smoother_knots((0.0, 360.0), 20.0)) == 20
    assert len(components.smoother_knots((0.0, 10.0), 15.0)) == 2
    assert len(components.smoother_knots((0.0, 20.0), 15.0)) == 3


def test_smoother_weights_are_local_and_normalised():
    knots = components.smoother_knots((0.0, 90.0), 10.0)
    phi = np.linspace(0, 90, 1000)
    cols, w = components.gaussian_smoother_weights(phi, knots)
    assert np.allclose(w.sum(axis=1), 1.0)
    assert cols.shape[1] == 6
    # constant knot values give a constant; a linear ramp is reproduced in the interior
    assert np.allclose(components.smoother_values(cols, w, np.ones(len(knots))), 1.0)
    ramp = components.smoother_values(cols, w, knots.copy())
    interior = (phi > 20) & (phi < 70)
    assert np.max(np.abs(ramp[interior] - phi[interior])) < 0.05 * np.diff(knots)[0]


def test_real_spherical_harmonics_are_orthonormal():
    rng = np.random.default_rng(1)
    v = rng.normal(size=(200_000, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    Y = components.real_spherical_harmonics(4, v)
    assert Y.shape[1] == 4 * 4 + 2 * 4  # 24 terms for lmax 4
    gram = Y.T @ Y * (4 * np.pi / len(v))
    assert np.allclose(gram, np.eye(24), atol=0.03)


@pytest.fixture(scope="module")
def model_inputs(tiny_sweep):
    experiments, refl = tiny_sweep
    e = experiments[0]
    n = 3000
    z = refl["xyzcal.px"][:n, 2]
    data = ScalingModelData(d=refl["d"][:n], phi=e.scan.angle_from_frame(z), s1=refl["s1"][:n],
                            image=np.floor(z).astype(int) + 1)
    return e, data


@pytest.mark.parametrize("cls", [PhysicalModel, KBModel])
def test_model_jacobian_matches_finite_differences(cls, model_inputs):
    e, data = model_inputs
    params = PhysicalParams(absorption_correction="True") if cls is PhysicalModel else None
    model = cls(params, experiment=e, data=data)
    rng = np.random.default_rng(0)
    p = model.null_parameters + rng.normal(scale=0.05, size=model.n_parameters)
    g, J = model.inverse_scales(p)
    dense = J.to_sparse(model.n_parameters).toarray()
    for j in rng.choice(model.n_parameters, size=min(8, model.n_parameters), replace=False):
        step = np.zeros_like(p)
        step[j] = 1e-6
        numeric = (model.inverse_scales(p + step)[0] - model.inverse_scales(p - step)[0]) / 2e-6
        assert np.allclose(dense[:, j], numeric, rtol=1e-5, atol=1e-8)
    # null parameters give g = 1
    assert np.allclose(model.inverse_scales(model.null_parameters)[0], 1.0)


def test_physical_model_sizes_and_dict(model_inputs):
    e, data = model_inputs
    model = PhysicalModel(PhysicalParams(absorption_level="medium", absorption_correction="True"),
                          experiment=e, data=data)
    assert model.n_abs == 48  # lmax 6
    d = model.to_dict()
    assert d["__id__"] == "physical"
    assert d["configuration_parameters"]["corrections"] == ["scale", "decay", "absorption"]
    assert d["scale"]["n_parameters"] == model.n_scale
    assert auto_model_name(e) == "physical"
