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

CHUNK = 50_000  # observations per Jacobian block (bounds memory: parameters x 3 x CHUNK doubles)


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
    notes: list = attrs.field(factory=list)  # one-line messages (kept static because ..., distance moved ...)
    stages: dict = attrs.field(factory=dict)  # "static" / "scan-varying" -> {experiment id: rmsds}
    static_history: list = attrs.field(factory=list)
    scan_varying: dict = attrs.field(factory=dict)  # experiment id -> per scan point cells and orientations

    def summary(self) -> str:
        from friedel.plugins.refinement.report import summary

        return summary(self)


class RefinementProblem:
    """Free parameters of all parameterisations against all experiments' observations."""

    def __init__(self, experiments, observations, parameterisations, params, sv_models=None):
        self.experiments = experiments
        self.sv_models = dict(sv_models or {})  # experiment id -> ScanVaryingCrystalModel
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
        for i_expt, all_obs in self.observations.items():
            expt = self.experiments[i_expt]
            sv = self.sv_models.get(i_expt)
            res_parts, ok_parts = [], []
            # in chunks of observations: the Jacobian of one chunk is all that is held at once
            for start in range(0, max(len(all_obs), 1), CHUNK):
                obs = all_obs.select(slice(start, start + CHUNK))
                frames = None if sv is None else expt.scan.frame_from_angle(np.degrees(obs.obs[:, 2]))
                A = None if sv is None else sv.observation_A(frames)
                pred = predict(expt, obs.hkl, obs.panel, obs.obs[:, 2], A=A)
                res = pred.xyz - obs.obs  # for stills the third column is DeltaPsi, observed as zero
                w = 1.0 / obs.var
                ok = pred.ok & np.all(np.isfinite(res), axis=1)
                res[~ok] = 0.0
                w = w * ok[:, None]
                res_parts.append(res)
                ok_parts.append(ok)
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
                    if p.kind == "A_sv":
                        cols.append(p.observation_gradients(pred, obs, expt, gradients_of)[p.free])
                    else:
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
            residuals.append(np.concatenate(res_parts))
            oks.append(np.concatenate(ok_parts))
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
    """The reflections refined against: every indexed one (reflections_per_degree=Auto) unless a
    scan is wider than one turn, then (or with a number) a random subset per degree of rotation."""
    rp = params.reflections
    if rp.use_all_reflections:
        return sel
    keep = sel.copy()
    ids = reflections["id"]
    for i, e in enumerate(experiments):
        if e.is_still:
            continue
        rows = np.flatnonzero(sel & (ids == i))
        width = abs(e.scan.oscillation_range[1] - e.scan.oscillation_range[0])
        if rp.reflections_per_degree == "Auto":
            if width <= 360.0:
                continue
            per_degree = 100.0
        else:
            per_degree = float(rp.reflections_per_degree)
        n_max = max(int(np.ceil(per_degree * width)), rp.minimum_sample_size)
        if len(rows) > n_max:
            drop = rng.choice(rows, len(rows) - n_max, replace=False)
            keep[drop] = False
            log.info(f"Experiment {i}: a random subset of {n_max} of its {len(rows)} indexed reflections "
                     f"({per_degree:g} per degree of its {width:g} deg scan) is refined against")
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
        # as DIALS counts: each free parameter must be seen by min_nref_per_parameter reflections,
        # and every reflection of an experiment informs every parameter of its models (the
        # scan-varying smoother's own per-point check is made when that stage is planned)
        need = auto.min_nref_per_parameter
        if nref < need:
            if auto.action == "fix":
                log.warning(f"{p.label}: {nref} reflections for {p.n_free} parameters; its parameters are fixed")
                p.free[:] = False
            else:
                raise FriedelError(
                    f"too few reflections to refine the {p.label} ({nref} for its {p.n_free} free parameters, "
                    f"at least {need} needed); fix some parameters or set auto_reduction.action=fix"
                )
    n_obs = sum(3 * len(o) for o in observations.values())
    n_free = sum(p.n_free for p in parameterisations)
    if n_obs <= n_free:
        raise FriedelError(f"too few reflections ({n_obs} observations) for {n_free} free parameters")


def _phi_blocks(obs, params) -> np.ndarray:
    """Block number of each observation of a sweep (blocks of ``outlier.block_width`` degrees, as
    many as the scan holds whole; the remainder joins the last block). Stills: one block."""
    if obs.is_still:
        return np.zeros(len(obs), int)
    scan = obs.experiment.scan
    lo, hi = np.radians(scan.oscillation_range)
    width = np.radians(params.outlier.block_width)
    n_blocks = max(int(abs(hi - lo) / width), 1)
    return np.clip(((obs.obs[:, 2] - lo) / width).astype(int), 0, n_blocks - 1)


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
        blocks = _phi_blocks(obs, params) if params.outlier.separate_blocks else np.zeros(len(obs), int)
        for pnl in np.unique(panels):
            for blk in np.unique(blocks):
                rows = np.flatnonzero(ok & (panels == pnl) & (blocks == blk))
                groups.append((key, rows, res))  # X, Y, phi or DeltaPsi
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


@attrs.define
class Stage:
    """One refinement run (static or scan-varying) and what it ended with."""

    name: str
    experiments: object
    problem: RefinementProblem
    parameterisations: list
    candidates: dict
    outliers: dict
    history: list
    final: Evaluation
    sv_models: dict = attrs.field(factory=dict)


def _prediction_candidates(experiments, reflections, use, var, params, sv_models):
    """Observations that can be predicted and do not cross the sphere almost tangentially."""
    candidates = _observations(experiments, reflections, use, var)
    for key, obs in list(candidates.items()):
        expt = experiments[key]
        sv = sv_models.get(key)
        A = None if sv is None else sv.observation_A(expt.scan.frame_from_angle(np.degrees(obs.obs[:, 2])))
        pred = predict(expt, obs.hkl, obs.panel, obs.obs[:, 2], A=A)
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
    return candidates


def _run_stage(name, experiments, reflections, use, var, parameterisations, params, sv_models=None) -> Stage:
    """Outlier rejection and least squares, repeated while the outliers change."""
    sv_models = sv_models or {}
    candidates = _prediction_candidates(experiments, reflections, use, var, params, sv_models)
    _check_determined(parameterisations, candidates, params)
    problem = RefinementProblem(experiments, dict(candidates), parameterisations, params, sv_models)
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
        for step in steps:
            step["step"] += offset
            step["cycle"] = cycle
            step["stage"] = name
            history.append(step)
        if params.outlier.algorithm == "null":
            break
    final = problem.evaluate(gradients=True)
    stage = Stage(name, experiments, problem, parameterisations, candidates, outliers, history, final, sv_models)
    _log_outliers(stage, params)
    return stage


def _log_outliers(stage, params) -> None:
    algorithm = params.outlier.algorithm
    n_candidates = sum(len(o) for o in stage.candidates.values())
    n_out = sum(int(o.sum()) for o in stage.outliers.values())
    if algorithm == "null":
        log.info(f"{stage.name.capitalize()} refinement: no outlier rejection ({n_candidates} reflections)")
        return
    rejector = build_plugin("outlier_rejectors", algorithm, params.outlier)
    why = getattr(rejector, "describe", lambda: algorithm)()
    blocks = (f", in blocks of {params.outlier.block_width:g} deg" if params.outlier.separate_blocks else "")
    log.info(f"{stage.name.capitalize()} refinement: {n_out} of {n_candidates} reflections "
             f"({100.0 * n_out / max(n_candidates, 1):.1f}%) rejected as outliers ({algorithm}: {why}{blocks})")


def _stage_rmsds(stage) -> dict:
    out = {}
    for key, res, ok in zip(stage.problem.observations, stage.final.residuals, stage.final.ok):
        r = res[ok]
        out[key] = tuple(float(x) for x in np.sqrt(np.mean(r**2, axis=0))) if len(r) else (np.nan,) * 3
    return out


def _detector_distances(experiments):
    return [(k, float(np.mean([p.distance for p in d]))) for k, d in enumerate(experiments.unique("detector"))]


def _warn_distance_change(before, after, limit=0.03) -> list:
    """A refined distance that moved by more than ``limit`` (a fraction) is reported."""
    notes = []
    for (k, d0), (_, d1) in zip(before, after):
        if d0 > 0 and abs(d1 - d0) / d0 > limit:
            text = (f"refinement moved the distance of detector {k} from {d0:.2f} to {d1:.2f} mm "
                    f"({100 * (d1 - d0) / d0:+.1f}%, more than {100 * limit:g}%): on a narrow wedge the distance "
                    "and the cell are strongly correlated; check the cell against a known one, or fix the "
                    "distance (detector.fix=distance)")
            log.warning(text)
            notes.append(text)
    return notes


# -- the entry point --------------------------------------------------------------------------
def refine(experiments, reflections, params: RefinementParams | None = None) -> RefinementResult:
    """Refine the models of ``experiments`` against the indexed ``reflections``.

    With ``parameterisation.scan_varying=Auto`` (the default) a static fit is followed by a
    scan-varying fit of every sweep's crystal orientation and cell (crystals shared by several
    sweeps are split, one per sweep); the scan-varying model is kept only where it lowers the
    RMSDs. ``True`` starts scan-varying; ``False`` stays static.

    Raises :class:`friedel.errors.FriedelError` for unusable input (nothing indexed, no
    crystal, too few reflections for the free parameters)."""
    from friedel.plugins.refinement import scan_varying_stage as sv_stage

    params = params or RefinementParams()
    _validate_experiments(experiments)
    sel = _indexed_selection(experiments, reflections)
    experiments = copy.deepcopy(experiments)
    reflections = reflections.copy()
    if "xyzobs.mm.value" not in reflections:
        centroids_px_to_mm(experiments, reflections)
    for k, crystal in enumerate(experiments.unique("crystal")):
        if crystal.A_at_scan_points is not None:  # refined again from its static A
            crystal.A_at_scan_points = None
            log.info(f"Crystal {k} had a scan-varying model; refinement starts again from its static A")
    distances = _detector_distances(experiments)
    var = _variances(experiments, reflections, sel, params.target.stills_delta_psi_sigma)
    rng = np.random.default_rng(params.reflections.random_seed)
    use = _subset(experiments, reflections, sel, params, rng)
    mode = params.parameterisation.scan_varying
    notes = []

    static = None
    if mode != "True" or not sv_stage.any_sweeps(experiments):
        static = _run_stage("static", experiments, reflections, use, var,
                            _build_parameterisations(experiments, params), params)
    stage = static
    if mode in ("Auto", "True"):
        plan = sv_stage.plan(static.experiments if static else experiments, reflections, use, params)
        notes.extend(plan.notes)
        if plan.sv_models:
            parameterisations = sv_stage.parameterisations(plan, _build_parameterisations(plan.experiments, params),
                                                            params.parameterisation.crystal.fix)
            try:
                sv = _run_stage("scan-varying", plan.experiments, reflections, use, var, parameterisations, params,
                                plan.sv_models)
            except FriedelError as exc:
                if static is None:
                    raise
                sv = None
                notes.append(f"the scan-varying fit failed ({exc}); the static models are kept")
                log.warning(notes[-1])
            if sv is not None:
                keep, why = sv_stage.better_than_static(sv, static, params)
                if keep:
                    sv_stage.store_scan_points(sv)
                    stage = sv
                else:
                    notes.append(why)
                    log.warning(why)
    notes.extend(_warn_distance_change(distances, _detector_distances(stage.experiments)))
    result = _finish(stage.experiments, reflections, sel, stage, params)
    result.notes = notes
    result.stages = {s.name: _stage_rmsds(s) for s in (static, stage) if s is not None}
    if static is not None and stage is not static:
        result.history = static.history + stage.history
    if static is not None:
        result.static_history = static.history
        if stage is not static:  # cell ESDs of the static fit (no per-point ESDs are kept)
            result.cell_esds = sv_stage.map_cell_esds(static, stage, _cell_esds(static))
    result.scan_varying = sv_stage.variation(stage) if stage.sv_models else {}
    # B_covariance of the static fit (an input's own would be stale); none without a static fit
    b_cov = _B_covariances(static) if static is not None else {}
    if static is not None and stage is not static:
        b_cov = sv_stage.map_cell_esds(static, stage, b_cov)
    for k, crystal in enumerate(result.experiments.unique("crystal")):
        if k in b_cov:
            crystal.extra["B_covariance"] = b_cov[k]
        else:
            crystal.extra.pop("B_covariance", None)
    return result


def _covariance(stage):
    problem, final = stage.problem, stage.final
    if not problem.n_params:
        return None
    n_obs = sum(3 * len(o) for o in problem.observations.values())
    dof = max(n_obs - problem.n_params, 1)
    return covariance(final.N) * (final.chi2 / dof)


def _B_covariances(stage) -> dict:
    """Crystal index -> covariance (9 x 9, flattened row-major, as dxtbx's ``B_covariance``) of
    the elements of B, propagated from the static cell parameters."""
    problem = stage.problem
    cov = _covariance(stage)
    crystals = stage.experiments.unique("crystal")
    out = {}
    for p in stage.parameterisations:
        if not hasattr(p, "cell_jacobian") or p not in problem.parameterisations or cov is None:
            continue
        lo = problem.offsets[problem.parameterisations.index(p)]
        block = cov[lo:lo + p.n_free, lo:lo + p.n_free]
        J = p.metric_model.dB(p.values)[p.free].reshape(p.n_free, 9).T
        out[crystals.index(p.model)] = (J @ block @ J.T).ravel().tolist()
    return out


def _cell_esds(stage, cov=None) -> dict:
    """Crystal index -> ESDs of (a, b, c, alpha, beta, gamma) from the static cell parameters."""
    problem = stage.problem
    cov = _covariance(stage) if cov is None else cov
    crystals = stage.experiments.unique("crystal")
    out = {}
    for p in stage.parameterisations:
        if not hasattr(p, "cell_jacobian"):
            continue
        k = crystals.index(p.model)
        if p in problem.parameterisations and cov is not None:
            lo = problem.offsets[problem.parameterisations.index(p)]
            block = cov[lo:lo + p.n_free, lo:lo + p.n_free]
            Jc = p.cell_jacobian()[:, p.free]
            out[k] = tuple(np.sqrt(np.maximum(np.diag(Jc @ block @ Jc.T), 0)))
        else:
            out[k] = (0.0,) * 6
    return out


def _finish(experiments, reflections, sel, stage, params) -> RefinementResult:
    problem, parameterisations, final = stage.problem, stage.parameterisations, stage.final
    candidates, outliers, history = stage.candidates, stage.outliers, stage.history
    # parameter table with ESDs from the inverse normal matrix scaled by the reduced chi^2
    cov = _covariance(stage)
    esd_all = np.sqrt(np.maximum(np.diag(cov), 0)) if cov is not None else np.zeros(0)
    params_out = []
    for p in parameterisations:
        lo = None
        if p in problem.parameterisations:
            lo = problem.offsets[problem.parameterisations.index(p)]
        j = 0
        for name, value, free in zip(p.names, p.values, p.free):
            esd = float(esd_all[lo + j]) if (free and lo is not None) else 0.0
            j += int(free)
            params_out.append(ParameterValue(p.label, name, float(value), esd, bool(free)))
    cell_esds = _cell_esds(stage, cov)

    # predictions for every indexed reflection with the refined (scan-varying) models
    ids = reflections["id"]
    panel = reflections["panel"] if "panel" in reflections else np.zeros(len(reflections), np.int64)
    n = len(reflections)
    xyzcal_mm = np.array(reflections["xyzcal.mm"], dtype=float) if "xyzcal.mm" in reflections else np.zeros((n, 3))
    xyzcal_px = np.array(reflections["xyzcal.px"], dtype=float) if "xyzcal.px" in reflections else np.zeros((n, 3))
    s1 = np.array(reflections["s1"], dtype=float) if "s1" in reflections else np.zeros((n, 3))
    for i, e in enumerate(experiments):
        rows = np.flatnonzero(sel & (ids == i))
        if not len(rows):
            continue
        pred = predict(e, reflections["miller_index"][rows], panel[rows], reflections["xyzobs.mm.value"][rows, 2])
        good = pred.ok
        rows, xyz = rows[good], pred.xyz[good]
        xyzcal_mm[rows] = xyz
        s1[rows] = pred.s1[good]
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
    reflections["s1"] = s1
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

    rmsds = _stage_rmsds(stage)
    n_used = {key: int(ok.sum()) for key, ok in zip(problem.observations, final.ok)}
    reason = history[-1].get("reason", "maximum number of iterations") if history else ""
    return RefinementResult(experiments=experiments, reflections=reflections, rmsds=rmsds, history=history,
                            parameters=params_out, cell_esds=cell_esds, covariance=cov,
                            n_outliers=n_outliers, n_used=n_used, reason=reason)
