"""The one place where indexing calls geometry refinement.

Macro-cycles call :func:`refine_models`; it hands the indexed spots to the refinement engine
(:mod:`friedel.plugins.refinement`) and returns the refined experiments with RMSDs. Models
seen by too few spots for their parameters are fixed (auto-reduction), so the early cycles
with few spots refine what they can determine.

Cell ESDs from the reciprocal-space fit of the final indices (:func:`cell_esds`) are the
fallback when no refinement ran.
"""

from __future__ import annotations

import logging

import gemmi
import numpy as np

from friedel.errors import FriedelError
from friedel.models.crystal import B_matrix
from friedel.lattice import cell_of_A, constrain_cell
from friedel.plugins.refinement import RefinementParams, refine  # noqa: F401
from friedel.plugins.refinement.params import static_subset_params

log = logging.getLogger("friedel")


def refine_models(experiments, reflections, refinement_params=None, crystal_only: bool = False,
                  fix_detector: bool = False, fast_outliers: bool = False, fix_distance: bool = False):
    """Refine the models of ``experiments`` against the indexed ``reflections`` (id >= 0).

    Returns ``(experiments, reflections, rmsds, cell_esds)``; rmsds maps experiment id to
    (x mm, y mm, phi rad) and cell_esds crystal number to six ESDs. ``crystal_only`` fixes
    beam, detector and goniometer; ``fix_distance`` the detector distance (a macro-cycle guard:
    on a narrow wedge distance and cell scale are correlated). Raises :class:`FriedelError`
    (one line) when refinement is impossible or fails.
    """
    params = static_subset_params(refinement_params)  # static, 100 reflections per degree unless set
    params.parameterisation.auto_reduction.action = "fix"
    if fix_detector or crystal_only:
        params.parameterisation.detector.fix = "all"
    elif fix_distance:
        detector = params.parameterisation.detector
        detector.fix = {"none": "distance", "orientation": "all"}.get(detector.fix, detector.fix)
    if crystal_only:
        params.parameterisation.beam.fix = ["all"]
        params.parameterisation.goniometer.fix = "all"
    if fast_outliers and params.outlier.algorithm == "mcd":
        params.outlier.algorithm = "tukey"
    try:
        result = refine(experiments, reflections, params)
    except (ValueError, np.linalg.LinAlgError) as exc:
        raise FriedelError(f"geometry refinement failed during indexing ({type(exc).__name__}: {exc}); "
                           "try refine=False (crystal only) or refinement.parameterisation.detector.fix=all") from exc
    return result.experiments, result.reflections, dict(result.rmsds), dict(result.cell_esds)


def apply_cell_constraints(crystal) -> None:
    """Average the cell to obey the crystal's space group and keep the orientation."""
    sg = crystal.space_group
    if sg is None or sg.number == 1:
        return
    cell = constrain_cell(crystal.unit_cell.parameters, sg)
    B = B_matrix(gemmi.UnitCell(*cell))
    U_raw = crystal.A @ np.linalg.inv(B)
    Uu, _, Vt = np.linalg.svd(U_raw)  # nearest rotation
    crystal.A = (Uu @ Vt) @ B


def cell_esds(crystal, experiments, reflections) -> np.ndarray:
    """Standard uncertainties of (a, b, c, alpha, beta, gamma) from the reciprocal-space fit.

    The covariance of A's elements (from the residual variance of ``A h = rlp``) is propagated
    through the cell parameters by finite differences, with the symmetry constraints applied.
    """
    ids = [i for i, e in enumerate(experiments) if e.crystal is crystal]
    sel = np.isin(reflections["id"], ids)
    h = reflections["miller_index"][sel].astype(float)
    r = reflections["rlp"][sel]
    if len(h) <= 4:
        return np.full(6, np.nan)
    resid = r - h @ crystal.A.T
    sigma2 = float(np.sum(resid**2) / max(1, 3 * len(h) - 9))
    if np.linalg.matrix_rank(h) < 3:
        return np.full(6, np.nan)
    cov_row = sigma2 * np.linalg.inv(h.T @ h)  # same for each row of A
    sg = crystal.space_group

    def params(A):
        cell = np.array(cell_of_A(A))
        return np.array(constrain_cell(cell, sg)) if sg is not None else cell

    base = params(crystal.A)
    J = np.zeros((6, 9))
    eps = 1e-7 * np.abs(crystal.A).max()
    for k in range(9):  # nine finite differences, not a loop over reflections
        dA = np.zeros(9)
        dA[k] = eps
        J[:, k] = (params(crystal.A + dA.reshape(3, 3)) - base) / eps
    cov = np.kron(np.eye(3), cov_row)  # elements ordered row-major: A[i, j] -> 3 i + j
    return np.sqrt(np.maximum(np.diag(J @ cov @ J.T), 0.0))
