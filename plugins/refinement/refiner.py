"""Static geometry refinement: the public entry point :func:`refine`.

>>> result = refine(experiments, reflections)                      # doctest: +SKIP
>>> result.experiments[0].crystal.unit_cell, result.rmsds[0]       # doctest: +SKIP

The input models are never changed: ``result.experiments`` is a deep copy (shared models
stay shared) holding the refined models, and ``result.reflections`` a copy of the input
table with ``xyzcal.mm``/``xyzcal.px`` of every indexed reflection and the flags
``used_in_refinement`` and ``centroid_outlier``.
"""

from __future__ import annotations

import copy
import logging

import attrs
import numpy as np
import scipy.sparse

from friedel.errors import FriedelError
from friedel.flags import Flags
from friedel.observations import centroids_px_to_mm
from friedel.plugin_manager import build_plugin
from friedel.plugins.refinement.engines import covariance
from friedel.plugins.refinement.params import RefinementParams
from friedel.plugins.refinement.prediction import ExperimentObservations, gradients, predict

log = logging.getLogger("friedel")


@attrs.define
class Evaluation:
    chi2: float
    rmsds: tuple
    nref: int
    N: object = None
    g: np.ndarray | None = None
    residuals: list | None = None  # per experiment (n, 3), calc - obs
    ok: list | None = None


@attrs.define
class ParameterValue:
    """One refined parameter: which model, its name, value and estimated standard deviation."""

    model: str
    name: str
    value: float
    esd: float
    free: bool


@attrs.define
class RefinementResult:
    """What :func:`refine` returns (see the module docstring)."""

    experiments: object
    reflections: object
    rmsds: dict  # experiment id -> (rmsd_x mm, rmsd_y mm, rmsd_phi rad)
    history: list  # per step: {"step", "nref", "rmsd": (x mm, y mm, phi rad), "chi2", "mu"}
    parameters: list = attrs.field(factory=list)  # ParameterValue
    cell_esds: dict = attrs.field(factory=dict)  # crystal index -> (6 esds: a, b, c, alpha, beta, gamma)
    covariance: np.ndarray | None = None
    n_outliers: dict = attrs.field(factory=dict)  # experiment id -> outliers rejected
    n_used: dict = attrs.field(factory=dict)  # experiment id -> reflections used
    reason: str = ""

    def summary(self) -> str:
        from friedel.plugins.refinement.report import summary

        return summary(self)


class RefinementProblem:
    """Free parameters of all parameterisations against all experiments' observations."""

    def __init__(self, experiments, observations, parameterisations, params):
        self.experiments = experiments
        self.observations = observations  # experiment id -> ExperimentObservations
        self.all_parameterisations = list(parameterisations)
        self.params = params
        self.update_free_parameters()
        self.last_evaluation = None
        self._targets = self._rmsd_targets()

    def update_free_parameters(self) -> None:
        """Lay out the parameter vector again after parameters were fixed or freed (e.g. by
        auto-reduction when outlier rejection leaves a model with too few reflections)."""
        self.parameterisations = [p for p in self.all_parameterisations if p.n_free > 0]
        self.offsets = np.cumsum([0] + [p.n_free for p in self.parameterisations])
        self.n_params = int(self.offsets[-1])
        sparse = self.params.sparse
        self.sparse = (sparse == "True") or (sparse == "Auto" and self.n_params > 300)

    def values(self) -> np.ndarray:
        return np.concatenate([p.values[p.free] for p in self.parameterisations]) if self.n_params else np.zeros(0)

    def set_values(self, x) -> None:
        """Set the free parameters; values that make no valid model (e.g. a metric that is not
        positive definite) leave ``invalid`` set, and the next evaluation has an infinite target."""
        self.invalid = False
        for p, lo, hi in zip(self.parameterisations, self.offsets[:-1], self.offsets[1:]):
            v = p.values.copy()
            v[p.free] = x[lo:hi]
            try:
                p.set_values(v)
            except np.linalg.LinAlgError:
                self.invalid = True

    def _rmsd_targets(self):
        f = self.params.target.bin_size_fraction
        if f <= 0:
            return None
        px = min(min(p.pixel_size) for e in self.experiments for p in e.detector)
        widths = [np.radians(e.scan.oscillation[1]) for e in self.experiments if not e.is_still]
        return np.array([f * px, f * px, f * min(widths) if widths else np.inf])

    def evaluate(self, gradients: bool = True) -> Evaluation:
        P = self.n_params
        if getattr(self, "invalid", False):
            return Evaluation(chi2=np.inf, rmsds=(np.inf,) * 3, nref=0)
        N = np.zeros((P, P)) if not self.sparse else None
        blocks = []
        g = np.zeros(P)
        chi2 = 0.0
        sq = np.zeros(3)
        counts = np.zeros(3)
        nref = 0
        residuals, oks = [], []
        for i_expt, obs in self.observations.items():
            expt = self.experiments[i_expt]
            pred = predict(expt, obs.hkl, obs.panel, obs.obs[:, 2])
            res = pred.xyz - obs.obs  # for stills the third column is DeltaPsi, observed as zero
            w = 1.0 / obs.var
            ok = pred.ok & np.all(np.isfinite(res), axis=1)
            res[~ok] = 0.0
            w = w * ok[:, None]
            residuals.append(res)
            oks.append(ok)
            chi2 += float(np.sum(w * res**2))
            sq += np.sum(res**2 * (w > 0), axis=0)
            counts += np.sum(w > 0, axis=0)
            nref += int(ok.sum())
            if not gradients or P == 0:
                continue
            cols, idx = [], []
            for p, lo in zip(self.parameterisations, self.offsets[:-1]):
                if i_expt not in p.experiment_ids:
                    continue
                deriv = p.derivatives(expt)[p.free]
                cols.append(gradients_of(pred, obs.hkl, p.kind, deriv, expt))
                idx.append(np.arange(lo, lo + p.n_free))
            if not cols:
                continue
            J = np.concatenate(cols, axis=0).reshape(-1, len(obs) * 3)  # P_e x 3n
            idx = np.concatenate(idx)
            Jw = J * w.reshape(-1)
            Ne = Jw @ J.T
            g[idx] += Jw @ res.reshape(-1)
            if self.sparse:
                blocks.append((idx, Ne))
            else:
                N[np.ix_(idx, idx)] += Ne
        if self.sparse and gradients:
            rows = np.concatenate([np.repeat(i, len(i)) for i, _ in blocks]) if blocks else np.zeros(0, int)
            cols_ = np.concatenate([np.tile(i, len(i)) for i, _ in blocks]) if blocks else np.zeros(0, int)
            data = np.concatenate([b.ravel() for _, b in blocks]) if blocks else np.zeros(0)
            N = scipy.sparse.coo_matrix((data, (rows, cols_)), shape=(P, P)).tocsr()
        with np.errstate(invalid="ignore", divide="ignore"):
            rmsds = tuple(np.sqrt(sq / np.maximum(counts, 1)))
        return Evaluation(chi2=chi2 if nref else np.inf, rmsds=rmsds, nref=nref,
                          N=N if gradients else None, g=g if gradients else None,
                          residuals=residuals, ok=oks)

    def finished(self, history):
        if self._targets is not None and np.all(np.asarray(history[-1]["rmsd"]) <= self._targets):
            history[-1]["reason"] = "RMSD target achieved"
            return history[-1]["reason"]
        if len(history) >= 2:
            a, b = np.asarray(history[-2]["rmsd"]), np.asarray(history[-1]["rmsd"])
            with np.errstate(invalid="ignore", divide="ignore"):
                change = np.abs(a - b) / np.where(a > 0, a, 1.0)
            if np.all(change <= self.params.target.rmsd_tolerance):
                history[-1]["reason"] = "RMSD no longer decreasing"
                return history[-1]["reason"]
        return None


gradients_of = gradients


# -- input ------------------------------------------------------------------------------------
def _indexed_selection(experiments, reflections):
    if "miller_index" not in reflections or "id" not in reflections:
        raise FriedelError("the reflections are not indexed (no miller_index/id columns); run friedel index first")
    ids = reflections["id"]
    hkl = reflections["miller_index"]
    sel = (ids >= 0) & (ids < len(experiments)) & np.any(hkl != 0, axis=1)
    # tables from integration also hold predictions never observed: use the spots that were
    # indexed where the table says which, and never rows without an observed centroid
    flagged = reflections.get_flags(Flags.indexed)
    if (sel & flagged).any():
        sel &= flagged
    for column in ("xyzobs.px.value", "xyzobs.mm.value"):
        if column in reflections:
            sel &= np.any(reflections[column] != 0, axis=1)
            break
    if not sel.any():
        raise FriedelError("no indexed reflections (all have id -1 or Miller index 0,0,0); run friedel index first")
    return sel


def _validate_experiments(experiments):
    if len(experiments) == 0:
        raise FriedelError("the experiment list is empty")
    for i, e in enumerate(experiments):
        if e.crystal is None:
            raise FriedelError(f"experiment {i} has no crystal model; refine needs indexed experiments (friedel index)")
        for what in ("beam", "detector"):
            if getattr(e, what) is None:
                raise FriedelError(f"experiment {i} has no {what} model")
        if not e.is_still and e.scan.oscillation[1] == 0:
            raise FriedelError(f"experiment {i}: a rotation scan with zero oscillation width")


def _variances(experiments, reflections, sel, delta_psi_sigma_deg):
    var = np.array(reflections["xyzobs.mm.variance"], dtype=float)
    ids = reflections["id"]
    for i, e in enumerate(experiments):
        rows = sel & (ids == i)
        if not rows.any():
            continue
        px = min(e.detector[0].pixel_size)
        width = np.radians(e.scan.oscillation[1]) if not e.is_still else 1.0
        # spots without a variance get that of a centroid known to within half a pixel/image
        floor = np.array([px**2 / 12, px**2 / 12, width**2 / 12])
        v = var[rows]
        bad = ~(v > 0)
        v[bad] = np.broadcast_to(floor, v.shape)[bad]
        if e.is_still:  # DeltaPsi: one constant uncertainty
            v[:, 2] = np.radians(delta_psi_sigma_deg) ** 2
        var[rows] = v
    return var


def _subset(experiments, reflections, sel, params, rng):
    if params.reflections.use_all_reflections:
        return sel
    keep = sel.copy()
    ids = reflections["id"]
    for i, e in enumerate(experiments):
        if e.is_still:
            continue
        rows = np.flatnonzero(sel & (ids == i))
        width = abs(e.scan.oscillation_range[1] - e.scan.oscillation_range[0])
        n_max = int(np.ceil(params.reflections.reflections_per_degree * width))
        if len(rows) > n_max:
            drop = rng.choice(rows, len(rows) - n_max, replace=False)
            keep[drop] = False
    return keep


def _observations(experiments, reflections, rows_mask, var):
    ids = reflections["id"]
    panel = reflections["panel"] if "panel" in reflections else np.zeros(len(reflections), np.int64)
    out = {}
    for i, e in enumerate(experiments):
        rows = np.flatnonzero(rows_mask & (ids == i))
        if len(rows):
            out[i] = ExperimentObservations(e, rows, reflections["miller_index"][rows], panel[rows],
                                            reflections["xyzobs.mm.value"][rows], var[rows])
    return out


def _build_parameterisations(experiments, params):
    out = []
    for name in params.parameterisation.models:  # contract: friedel.contracts.refinement.Parameterisation
        out.extend(build_plugin("refinement_parameterisations", name, params.parameterisation,
                                experiments=experiments, refinement_params=params))
    return out


def _check_determined(parameterisations, observations, params):
    auto = params.parameterisation.auto_reduction
    counts = {i: len(o) for i, o in observations.items()}
    for p in parameterisations:
        if p.n_free == 0:
            continue
        nref = sum(counts.get(i, 0) for i in p.experiment_ids)
        need = auto.min_nref_per_parameter * p.n_free
        if nref < need:
            if auto.action == "fix":
                log.warning(f"{p.label}: {nref} reflections for {p.n_free} parameters; its parameters are fixed")
                p.free[:] = False
            else:
                raise FriedelError(
                    f"too few reflections to refine the {p.label} ({nref} for {p.n_free} free parameters, "
                    f"{need} needed); fix some parameters or set auto_reduction.action=fix"
                )
    n_obs = sum(3 * len(o) for o in observations.values())
    n_free = sum(p.n_free for p in parameterisations)
    if n_obs <= n_free:
        raise FriedelError(f"too few reflections ({n_obs} observations) for {n_free} free parameters")


def _reject_outliers(problem, params, candidates):
    """Outlier mask (per experiment, over the candidate observations) from current residuals."""
    name = params.outlier.algorithm
    rejector = build_plugin("outlier_rejectors", name, params.outlier)
    current = problem.observations
    problem.observations = candidates
    try:
        ev = problem.evaluate(gradients=False)
    finally:
        problem.observations = current
    out = {}
    keys = list(candidates)
    groups = []
    for key, res, ok in zip(keys, ev.residuals, ev.ok):
        obs = candidates[key]
        flags = ~ok.copy()
        out[key] = flags
        panels = obs.panel if params.outlier.separate_panels else np.zeros(len(obs), int)
        for pnl in np.unique(panels):
            groups.append((key, np.flatnonzero(ok & (panels == pnl)), res))  # X, Y, phi or DeltaPsi
    if not params.outlier.separate_experiments:
        merged = {}
        for key, rows, res in groups:
            merged.setdefault(candidates[key].is_still, []).append((key, rows, res))  # DeltaPsi is not phi
        groups = [("all", g) for g in merged.values()]
    else:
        groups = [("one", [g]) for g in groups]
    for _, members in groups:
        data = np.concatenate([res[rows] for _, rows, res in members]) if members else np.zeros((0, 3))
        if len(data) < params.outlier.minimum_number_of_reflections:
            continue
        flags = rejector(data)
        start = 0
        for key, rows, _ in members:
            out[key][rows] |= flags[start:start + len(rows)]
            start += len(rows)
    return out


def _run_engine(problem, params):
    engine = build_plugin("refinement_engines", params.engine, params, max_iterations=params.max_iterations)
    return engine.run(problem)


# -- the entry point --------------------------------------------------------------------------
def refine(experiments, reflections, params: RefinementParams | None = None) -> RefinementResult:
    """Refine the models of ``experiments`` against the indexed ``reflections``.

    Raises :class:`friedel.errors.FriedelError` for unusable input (nothing indexed, no
    crystal, too few reflections for the free parameters)."""
    params = params or RefinementParams()
    _validate_experiments(experiments)
    sel = _indexed_selection(experiments, reflections)
    experiments = copy.deepcopy(experiments)
    reflections = reflections.copy()
    if "xyzobs.mm.value" not in reflections:
        centroids_px_to_mm(experiments, reflections)
    var = _variances(experiments, reflections, sel, params.target.stills_delta_psi_sigma)
    rng = np.random.default_rng(params.reflections.random_seed)
    use = _subset(experiments, reflections, sel, params, rng)
    parameterisations = _build_parameterisations(experiments, params)

    # drop observations that cannot be predicted or cross the sphere almost tangentially
    candidates = _observations(experiments, reflections, use, var)
    for key, obs in list(candidates.items()):
        expt = experiments[key]
        pred = predict(expt, obs.hkl, obs.panel, obs.obs[:, 2])
        keep = pred.ok & np.all(np.isfinite(pred.xyz), axis=1)
        if not obs.is_still:
            s0 = expt.beam.s0
            zeta = np.cross(pred.s1, s0) @ expt.goniometer.rotation_axis / (s0 @ s0)
            keep &= np.abs(zeta) >= params.reflections.close_to_spindle_cutoff
        candidates[key] = obs.select(keep)
        if not len(candidates[key]):
            del candidates[key]
    if not candidates:
        raise FriedelError("none of the indexed reflections can be predicted with the current models")
    _check_determined(parameterisations, candidates, params)

    problem = RefinementProblem(experiments, dict(candidates), parameterisations, params)
    history = []
    outliers = {k: np.zeros(len(o), bool) for k, o in candidates.items()}
    cycles = 3 if params.outlier.repeat else 1
    for cycle in range(cycles):
        new = _reject_outliers(problem, params, candidates) if params.outlier.algorithm != "null" else outliers
        if cycle > 0 and all(np.array_equal(new[k], outliers[k]) for k in outliers):
            break
        outliers = new
        problem.observations = {k: candidates[k].select(~outliers[k]) for k in candidates
                                if (~outliers[k]).any()}
        _check_determined(parameterisations, problem.observations, params)
        problem.update_free_parameters()
        steps = _run_engine(problem, params)
        offset = history[-1]["step"] + 1 if history else 0
        for s in steps:
            s["step"] += offset
            s["cycle"] = cycle
            history.append(s)
        if params.outlier.algorithm == "null":
            break
    final = problem.evaluate(gradients=True)
    return _finish(experiments, reflections, sel, problem, parameterisations, candidates, outliers,
                   history, final, params)


def _finish(experiments, reflections, sel, problem, parameterisations, candidates, outliers, history, final,
            params):
    # parameter table with ESDs from the inverse normal matrix scaled by the reduced chi^2
    n_obs = sum(3 * len(o) for o in problem.observations.values())
    cov = None
    params_out = []
    if problem.n_params:
        dof = max(n_obs - problem.n_params, 1)
        cov = covariance(final.N) * (final.chi2 / dof)
    esd_all = np.sqrt(np.maximum(np.diag(cov), 0)) if cov is not None else np.zeros(0)
    cell_esds = {}
    crystals = experiments.unique("crystal")
    for p in parameterisations:
        lo = None
        if p in problem.parameterisations:
            lo = problem.offsets[problem.parameterisations.index(p)]
        j = 0
        for name, value, free in zip(p.names, p.values, p.free):
            esd = float(esd_all[lo + j]) if (free and lo is not None) else 0.0
            j += int(free)
            params_out.append(ParameterValue(p.label, name, float(value), esd, bool(free)))
        if hasattr(p, "cell_jacobian"):
            k = crystals.index(p.model)
            if lo is not None:
                block = cov[lo:lo + p.n_free, lo:lo + p.n_free]
                Jc = p.cell_jacobian()[:, p.free]
                cell_esds[k] = tuple(np.sqrt(np.maximum(np.diag(Jc @ block @ Jc.T), 0)))
            else:
                cell_esds[k] = (0.0,) * 6

    # predictions for every indexed reflection with the refined models
    ids = reflections["id"]
    panel = reflections["panel"] if "panel" in reflections else np.zeros(len(reflections), np.int64)
    xyzcal_mm = np.array(reflections["xyzcal.mm"], dtype=float) if "xyzcal.mm" in reflections \
        else np.zeros((len(reflections), 3))
    xyzcal_px = np.array(reflections["xyzcal.px"], dtype=float) if "xyzcal.px" in reflections \
        else np.zeros((len(reflections), 3))
    for i, e in enumerate(experiments):
        rows = np.flatnonzero(sel & (ids == i))
        if not len(rows):
            continue
        pred = predict(e, reflections["miller_index"][rows], panel[rows], reflections["xyzobs.mm.value"][rows, 2])
        good = pred.ok
        rows, xyz = rows[good], pred.xyz[good]
        xyzcal_mm[rows] = xyz
        px = np.zeros_like(xyz)
        for ip, p in enumerate(e.detector):
            on = panel[rows] == ip
            if on.any():
                px[on, :2] = p.mm_to_px(xyz[on, :2])
        if not e.is_still:
            px[:, 2] = e.scan.frame_from_angle(np.degrees(xyz[:, 2]))
        else:
            px[:, 2] = reflections["xyzobs.px.value"][rows, 2] if "xyzobs.px.value" in reflections else 0.0
        xyzcal_px[rows] = px
    reflections["xyzcal.mm"] = xyzcal_mm
    reflections["xyzcal.px"] = xyzcal_px
    everything = np.ones(len(reflections), bool)
    reflections.unset_flags(everything, Flags.used_in_refinement | Flags.centroid_outlier)
    used = np.zeros(len(reflections), bool)
    for obs in problem.observations.values():
        used[obs.rows] = True
    reflections.set_flags(used, Flags.used_in_refinement)
    out_mask = np.zeros(len(reflections), bool)
    n_outliers = {}
    for k, o in candidates.items():
        out_mask[o.rows[outliers[k]]] = True
        n_outliers[k] = int(outliers[k].sum())
    reflections.set_flags(out_mask, Flags.centroid_outlier)

    rmsds, n_used = {}, {}
    for key, res, ok in zip(problem.observations, final.residuals, final.ok):
        r = res[ok]
        rmsds[key] = tuple(float(x) for x in np.sqrt(np.mean(r**2, axis=0))) if len(r) else (np.nan,) * 3
        n_used[key] = int(ok.sum())
    reason = history[-1].get("reason", "maximum number of iterations") if history else ""
    return RefinementResult(experiments=experiments, reflections=reflections, rmsds=rmsds, history=history,
                            parameters=params_out, cell_esds=cell_esds, covariance=cov,
                            n_outliers=n_outliers, n_used=n_used, reason=reason)
