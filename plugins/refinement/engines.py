"""Least-squares engines on the normal equations: Gauss-Newton and Levenberg-Marquardt.

An engine drives a *problem* that offers:

* ``values()`` / ``set_values(p)`` — the free parameters;
* ``evaluate(gradients: bool)`` -> ``Evaluation(chi2, rmsds, N, g)`` where ``chi2`` is the
  weighted sum of squared residuals, ``N = J^T W J`` (dense or scipy.sparse) and
  ``g = J^T W r`` (residuals r = calculated - observed);
* ``finished(history)`` -> a reason to stop (str) or None.

Both engines solve in Jacobi-scaled parameters (columns of J scaled to unit norm), so
mm, mrad and metric parameters are treated alike.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from friedel.contracts.refinement import Engine
from friedel.errors import FriedelError


def _solve(N, rhs, damping: float = 0.0):
    """Solve ``(N + damping diag(N)) x = rhs`` in Jacobi-scaled form; dense or sparse N."""
    if scipy.sparse.issparse(N):
        d = N.diagonal().copy()
        d[d <= 0] = 1.0
        s = 1.0 / np.sqrt(d)
        Sm = scipy.sparse.diags(s)
        Ns = (Sm @ N @ Sm).tocsc() + scipy.sparse.identity(len(d), format="csc") * (damping + 1e-12)
        y = scipy.sparse.linalg.spsolve(Ns, rhs * s)
        return y * s
    d = np.diag(N).copy()
    d[d <= 0] = 1.0
    s = 1.0 / np.sqrt(d)
    Ns = N * np.outer(s, s)
    Ns[np.diag_indices_from(Ns)] += damping + 1e-12
    try:
        c = scipy.linalg.cho_factor(Ns)
        y = scipy.linalg.cho_solve(c, rhs * s)
    except np.linalg.LinAlgError:
        y = np.linalg.lstsq(Ns, rhs * s, rcond=None)[0]
    return y * s


def covariance(N) -> np.ndarray:
    """Inverse of the normal matrix (pseudo-inverse where singular), in Jacobi-scaled form."""
    N = N.toarray() if scipy.sparse.issparse(N) else np.asarray(N)
    d = np.diag(N).copy()
    d[d <= 0] = 1.0
    s = 1.0 / np.sqrt(d)
    return np.linalg.pinv(N * np.outer(s, s), rcond=1e-12) * np.outer(s, s)


class GaussNewton(Engine):
    """Gauss-Newton: the full step ``N dp = -g`` each iteration."""

    name = "GaussNewton"

    def __init__(self, max_iterations: int = 30):
        self.max_iterations = max_iterations

    def run(self, problem):
        history = []
        ev = problem.evaluate(gradients=True)
        history.append(_record(0, ev, None))
        for step in range(1, self.max_iterations + 1):
            if problem.finished(history):
                break
            p = problem.values()
            problem.set_values(p + _solve(ev.N, -ev.g))
            trial = problem.evaluate(gradients=True)
            if not np.isfinite(trial.chi2):
                problem.set_values(p)
                history[-1]["reason"] = "step left the valid models; stopped"
                break
            ev = trial
            history.append(_record(step, ev, None))
        problem.last_evaluation = ev
        return history


class LevMar(Engine):
    """Levenberg-Marquardt with Nielsen's damping update: Gauss-Newton steps near the
    minimum, gradient-like steps far from it; a step that raises the target is rejected."""

    name = "LevMar"

    def __init__(self, max_iterations: int = 30, tau: float = 1e-3):
        self.max_iterations = max_iterations
        self.tau = tau

    def run(self, problem):
        history = []
        ev = problem.evaluate(gradients=True)
        history.append(_record(0, ev, None))
        mu, nu = self.tau, 2.0
        step = 0
        rejected_in_row = 0
        while step < self.max_iterations:
            if problem.finished(history):
                break
            p = problem.values()
            dp = _solve(ev.N, -ev.g, damping=mu)
            problem.set_values(p + dp)
            trial = problem.evaluate(gradients=False)
            # predicted reduction of chi2/2 by the linear model: dp.(mu D dp - g) / 2
            D = ev.N.diagonal() if scipy.sparse.issparse(ev.N) else np.diag(ev.N)
            predicted = 0.5 * float(dp @ (mu * np.maximum(D, 0) * dp - ev.g))
            actual = 0.5 * (ev.chi2 - trial.chi2)
            rho = actual / predicted if predicted > 0 else -1.0
            if rho > 0 and np.isfinite(trial.chi2):
                step += 1
                rejected_in_row = 0
                mu *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
                nu = 2.0
                ev = problem.evaluate(gradients=True)
                history.append(_record(step, ev, mu))
            else:
                problem.set_values(p)
                mu *= nu
                nu *= 2.0
                rejected_in_row += 1
                if rejected_in_row > 12 or mu > 1e12:
                    history[-1]["reason"] = "no further improvement"
                    break
        problem.last_evaluation = ev
        return history


def _record(step, ev, mu):
    if not np.isfinite(ev.chi2):
        raise FriedelError("refinement diverged (predictions left the detector); check the starting geometry")
    return {"step": step, "nref": ev.nref, "rmsd": tuple(ev.rmsds), "chi2": ev.chi2, "mu": mu}


BUILT_IN = [LevMar, GaussNewton]
