"""The one place where indexing calls geometry refinement.

Macro-cycles call :func:`refine_models`; it hands the indexed spots to the refinement engine
(:mod:`friedel.plugins.refinement`) and returns the refined experiments with RMSDs. Before the
engine is available (or when it cannot run, e.g. too few spots for its parameters) the
crystal alone is fitted in reciprocal space (``A h = rlp`` by linear least squares), which
is what the first cycles need.

Cell ESDs are estimated in either case from the reciprocal-space fit of the final indices.
"""

from __future__ import annotations

import copy
import logging

import gemmi
import numpy as np

from friedel.errors import FriedelError
from friedel.plugins.indexing.lattice import constrain_cell
from friedel.models.crystal import B_matrix

log = logging.getLogger("friedel")


def _engine():
    try:
        from friedel.plugins.refinement import RefinementParams, refine  # noqa: F401
    except ImportError:
        return None
    return refine, RefinementParams


def refine_models(experiments, reflections, refinement_params=None, use_engine: bool = True,
                  fix_detector: bool = False, fast_outliers: bool = False):
    """Refine the models of ``experiments`` against the indexed ``reflections`` (id >= 0).

    Returns ``(experiments, reflections, rmsds, cell_esds)``; rmsds maps experiment id to
    (x mm, y mm, phi rad) and cell_esds crystal number to six ESDs; both are empty when only
    the reciprocal-space fit ran. Models seen by too few spots for their parameters are fixed
    rather than failing (early macro-cycles have few spots).
    """
    engine = _engine() if use_engine else None
    if engine is not None:
        refine, RefinementParams = engine
        params = copy.deepcopy(refinement_params) if refinement_params is not None else RefinementParams()
        params.parameterisation.auto_reduction.action = "fix"
        if fix_detector:
            params.parameterisation.detector.fix = "all"
        if fast_outliers and params.outlier.algorithm == "mcd":
            params.outlier.algorithm = "tukey"
        try:
            result = refine(experiments, reflections, params)
            return result.experiments, result.reflections, dict(result.rmsds), dict(result.cell_esds)
        except FriedelError as exc:
            log.info("Geometry refinement not possible here (%s); fitting the crystal in reciprocal space", exc)
        except (ValueError, np.linalg.LinAlgError) as exc:  # an engine failure must not lose the lattice
            log.warning("Geometry refinement failed (%s: %s); fitting the crystal in reciprocal space",
                        type(exc).__name__, exc)
    for crystal in experiments.crystals:
        fit_crystal_reciprocal(crystal, experiments, reflections)
    return experiments, reflections, {}, {}


def fit_crystal_reciprocal(crystal, experiments, reflections) -> None:
    """Least-squares ``A`` from ``A h = rlp`` over all spots of ``crystal``, then symmetry constraints."""
    ids = [i for i, e in enumerate(experiments) if e.crystal is crystal]
    sel = np.isin(reflections["id"], ids)
    h = reflections["miller_index"][sel].astype(float)
    r = reflections["rlp"][sel]
    if len(h) < 4:
        return
    At, *_ = np.linalg.lstsq(h, r, rcond=None)
    A = At.T
    if np.linalg.matrix_rank(h) < 3 or abs(np.linalg.det(A)) < 1e-12:
        return
    crystal.A = A
    apply_cell_constraints(crystal)


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
        cell = np.array(_cell_from_A(A))
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


def _cell_from_A(A):
    from friedel.models.crystal import cell_from_A

    return cell_from_A(A).parameters
