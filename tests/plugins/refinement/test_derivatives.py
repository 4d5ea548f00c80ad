"""Analytic derivatives of predicted X, Y, phi against central finite differences."""

import numpy as np
import pytest

from friedel.models import ExperimentList
from friedel.plugins.refinement.parameterisations import BUILT_IN
from friedel.plugins.refinement.params import RefinementParams
from friedel.plugins.refinement.prediction import gradients, predict
from refinement_simulation import make_experiment, observe


def _check(experiments, refl, still=False):
    params = RefinementParams()
    params.parameterisation.beam.fix = []
    params.parameterisation.goniometer.fix = "none"
    params.parameterisation.detector.panels = "multiple"
    e = experiments[0]
    hkl, panel = refl["miller_index"], refl["panel"]
    phi_obs = refl["xyzobs.mm.value"][:, 2]
    pred = predict(e, hkl, panel, phi_obs)
    if not still:  # leave out near-tangent crossings, where phi is ill-conditioned
        s0 = e.beam.s0
        zeta = np.cross(pred.s1, s0) @ e.goniometer.rotation_axis / (s0 @ s0)
        keep = np.abs(zeta) > 0.05
        hkl, panel, phi_obs = hkl[keep], panel[keep], phi_obs[keep]
    checked = set()
    for cls in BUILT_IN:
        for p in cls.build(experiments, params):
            pred = predict(e, hkl, panel, phi_obs)
            analytic = gradients(pred, hkl, p.kind, p.derivatives(e), e)
            v0 = p.values.copy()
            for k in range(len(v0)):
                h = 1e-6 * max(1.0, abs(v0[k]))
                up, down = v0.copy(), v0.copy()
                up[k] += h
                down[k] -= h
                p.set_values(up)
                a = predict(e, hkl, panel, phi_obs).xyz
                p.set_values(down)
                b = predict(e, hkl, panel, phi_obs).xyz
                p.set_values(v0)
                fd = (a - b) / (2 * h)
                # relative agreement, with an absolute floor for derivatives that vanish
                tol = 1e-4 * np.abs(fd).max(axis=0) + 1e-6  # floor: rounding of ~200 mm / 1e-6 steps
                err = np.abs(fd - analytic[k]).max(axis=0)
                assert np.all(err <= tol), (p.name, p.names[k], err, tol)  # phi, or DeltaPsi for stills
                checked.add(p.name)
    return checked


@pytest.mark.parametrize("space_group,cell", [("P 1", (50, 60, 70, 80, 95, 100)), ("P 41 21 2", (57.8, 57.8, 150, 90, 90, 90)),
                                              ("R 3 :H", (60, 60, 90, 90, 90, 120))])
def test_rotation_derivatives_match_finite_differences(space_group, cell):
    experiments = ExperimentList([make_experiment(cell=cell, space_group=space_group, n_images=20, panels=2)])
    refl = observe(experiments, d_min=3.0)
    checked = _check(experiments, refl)
    assert checked == {"beam", "crystal_orientation", "crystal_unit_cell", "detector", "goniometer"}


def test_still_derivatives_match_finite_differences():
    rotation = ExperimentList([make_experiment(n_images=4, width=0.5)])
    refl = observe(rotation, d_min=2.5)
    still = ExperimentList([make_experiment(n_images=1, still=True)])
    checked = _check(still, refl, still=True)
    assert {"beam", "crystal_orientation", "crystal_unit_cell", "detector"} <= checked
