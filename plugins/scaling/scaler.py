"""The scaling procedure: models for every data set refined jointly, with outliers, intensity
choice and error model in between.

1. prepare the rows (cuts, corrections, ASU groups) and build one model per data set;
2. minimise with the first intensities (profile where it exists), reject outliers;
3. choose the intensities (``combine``: the Imid of the lowest Rmeas), rescale, reject;
4. fit the error model, rescale with its weights, reject outliers;
5. full-matrix round for parameter ESDs and Var(g); refit the error model.
"""

from __future__ import annotations

import logging
import time

import attrs
import numpy as np

from friedel.contracts.scaling import ScalingModelData
from friedel.errors import FriedelError
from friedel.plugins.scaling.data import PreparedData, combined_intensities, common_space_group, prepare
from friedel.plugins.scaling.error_model import ErrorModel, fit_error_model
from friedel.plugins.scaling.intensity_choice import choice_table, choose_imid
from friedel.plugins.scaling.minimiser import covariance, inverse_scale_variances, minimise
from friedel.plugins.scaling.models import auto_model_name
from friedel.plugins.scaling.outliers import reject_outliers
from friedel.plugins.scaling.target import JointModels, ScalingTarget

log = logging.getLogger("friedel")


@attrs.define
class ScalingResult:
    """Everything the scaler determined (columns are per prepared row, see ``data.rows``)."""

    data: PreparedData
    joint: JointModels
    model_names: list
    intensity: np.ndarray  # corrected, unscaled
    variance: np.ndarray  # error-model corrected, unscaled
    g: np.ndarray
    g_variance: np.ndarray
    outlier: np.ndarray
    error_models: list  # one ErrorModel per error-model group
    error_model_of_dataset: list
    imid: float | None
    choices: list
    rounds: list = attrs.field(factory=list)  # (name, MinimisationResult, n_outliers)
    seconds: float = 0.0

    @property
    def scaled(self) -> np.ndarray:
        """Rows that were scaled and are not outliers (the data merging statistics use)."""
        return self.data.scalable & ~self.outlier


def _check_input(experiments, data: PreparedData) -> None:
    """One-line errors for input that cannot be scaled."""
    for i in range(data.n_datasets):
        sel = (data.dataset == i) & data.scalable
        if not np.any(sel) and not np.all(data.user_excluded[data.dataset == i]):
            raise FriedelError(f"data set {i} has no reflections that pass the cuts: leave it out with "
                               f"exclude_datasets={i} or relax the cuts (partiality_cutoff, d_min)")
    if not np.any(data.scalable):
        raise FriedelError("no reflections pass the cuts: nothing to scale")
    n_images = sum(e.scan.num_images if e.scan is not None else 1 for e in experiments)
    if n_images < 2:
        raise FriedelError("only one image: scaling needs several images (or several stills) whose "
                           "symmetry-equivalent reflections overlap")
    positive = data.scalable & ((data.prf_ok & (data.i_prf > 0)) | (data.sum_ok & (data.i_sum > 0)))
    if not np.any(positive):
        raise FriedelError("every intensity is zero or negative: the data hold no signal to scale "
                           "(check the integration)")
    # data sets that share no group with any other cannot be put on a common scale
    if data.n_datasets > 1:
        g = data.group[data.scalable]
        ds = data.dataset[data.scalable]
        pairs = np.unique(np.column_stack([g, ds]), axis=0)
        n_sets = np.bincount(pairs[:, 0], minlength=int(data.group.max()) + 1)
        shared = n_sets[pairs[:, 0]] > 1
        sets = np.bincount(pairs[shared, 1], minlength=data.n_datasets)
        active = [i for i in range(data.n_datasets) if np.any(ds == i)]
        alone = [i for i in active if sets[i] == 0]
        if alone and len(active) > 1:
            raise FriedelError(f"data set(s) {', '.join(map(str, alone))} share no reflections with the others: "
                               "they cannot be put on a common scale (check the space group and indexing, or "
                               "leave them out with exclude_datasets=)")


def build_models(experiments, data: PreparedData, scaling_params) -> tuple[JointModels, list[str]]:
    """One scaling model per data set (``model=auto``: physical for sweeps of >= 1 degree, else KB)."""
    from friedel.plugin_manager import build_plugin

    models, names = [], []
    for i, (e, rows) in enumerate(zip(experiments, data.dataset_slices())):
        name = scaling_params.model if scaling_params.model != "auto" else auto_model_name(e)
        model_data = ScalingModelData(d=data.d[rows], phi=data.phi[rows], s1=data.s1[rows], image=data.image[rows])
        try:
            model = build_plugin("scaling_models", name, scaling_params, experiment=e, data=model_data)
        except ValueError as exc:
            raise FriedelError(f"data set {i}: the {name} model cannot be used ({exc}); choose model=KB") from None
        models.append(model)
        names.append(name)
    if scaling_params.model == "auto":
        counts = {n: names.count(n) for n in sorted(set(names))}
        log.info("model=auto chose " + ", ".join(f"{n} for {c} data set(s)" for n, c in counts.items())
                 + " (physical for rotation sweeps of at least 1 degree, KB for stills and narrower wedges)")
    for i, m in enumerate(models[:5]):
        log.info(f"  data set {i}: {m.summary()}")
    if len(models) > 5:
        log.info(f"  ... and {len(models) - 5} more")
    return JointModels(models, data.dataset_slices()), names


def _error_model_groups(data: PreparedData, grouping: str) -> list[np.ndarray]:
    if grouping == "individual":
        return [data.dataset == i for i in range(data.n_datasets)]
    return [np.ones(len(data), dtype=bool)]


def run_scaling(experiments, table, params) -> ScalingResult:
    """Scale every data set of ``experiments`` / ``table`` jointly (``params``: the scaling scope)."""
    start = time.perf_counter()
    space_group = common_space_group(experiments, params.space_group)
    log.info(f"Scaling {len(experiments)} data set(s) in {space_group}"
             + (" (anomalous pairs kept apart)" if params.anomalous else ""))
    data = prepare(experiments, table, params.cut, space_group, params.anomalous)
    _check_input(experiments, data)
    n_scalable = int(data.scalable.sum())
    log.info(f"{n_scalable} of {len(data)} observations pass the cuts (partiality >= "
             f"{params.cut.partiality_cutoff}, I/sigma >= {params.cut.min_isigi}"
             + (f", d >= {params.cut.d_min}" if params.cut.d_min else "") + ")")
    joint, names = build_models(experiments, data, params)
    refinery = params.refinery
    minimisation_rows = data.scalable & (data.partiality >= params.cut.min_partiality)
    if np.count_nonzero(minimisation_rows) < 0.5 * n_scalable:  # stills: few full reflections
        minimisation_rows = data.scalable.copy()

    choice = params.intensity_choice
    first_choice = "sum" if choice == "sum" else "profile"
    intensity, raw_variance = combined_intensities(data, first_choice, None)
    variance = raw_variance.copy()
    outlier = np.zeros(len(data), dtype=bool)
    rounds = []

    def scale_round(label):
        nonlocal outlier
        target = ScalingTarget(joint, intensity, variance, data.group, minimisation_rows & ~outlier)
        if target.n_observations == 0:
            raise FriedelError("no symmetry-equivalent observations to scale against (every reflection was "
                               "measured once): check the space group or add data")
        p, res = minimise(target, joint.parameters, refinery.max_iterations, refinery.tolerance)
        joint.parameters = p
        joint.normalise(np.flatnonzero(data.scalable))
        g, _ = joint.inverse_scales(jacobian=False)
        outlier = reject_outliers(intensity, variance, g, data.group, data.scalable,
                                  params.outlier.zmax, params.outlier.algorithm)
        rounds.append((label, res, int(outlier.sum())))
        log.info(f"{label}: {res.summary()}; {int(outlier.sum())} outliers (zmax {params.outlier.zmax:g})")
        return g

    g = scale_round("Scaling round 1")
    # once more without the first round's outliers, which dominate a target weighted by the
    # integration sigmas; the intensity choice below compares candidates with these scales
    g = scale_round("Scaling round 1 (outliers removed)")
    imid, choices = None, []
    if choice == "combine":
        if params.Imid is not None:
            imid = float(params.Imid)
        else:
            imid, choices = choose_imid(data, g, data.scalable & ~outlier)
            if choices:
                log.info("Intensity combination (lowest Rmeas wins):\n" + choice_table(choices))
        intensity, raw_variance = combined_intensities(data, "combine", imid)
        variance = raw_variance.copy()
        label = "profile" if imid == 0 else ("summation" if imid == 1 else f"combined, Imid = {imid:.2f}")
        log.info(f"Intensities used: {label}")
        g = scale_round("Scaling round 2")

    error_models, em_of_ds = [], [None] * data.n_datasets

    def refine_error_model():
        nonlocal variance, error_models
        error_models = []
        variance = raw_variance.copy()
        if params.error_model.model == "None":
            return
        for k, rows in enumerate(_error_model_groups(data, params.error_model.grouping)):
            use = rows & data.scalable & ~outlier
            em = fit_error_model(intensity, raw_variance, g, data.group_anom, use, data.partiality,
                                 params.error_model.min_Ih, params.error_model.a, params.error_model.b,
                                 method=params.error_model.method)
            error_models.append(em)
            variance[rows] = em.variance(intensity[rows], raw_variance[rows])
            for ds in np.unique(data.dataset[rows]):
                em_of_ds[int(ds)] = k

    refine_error_model()
    for em in error_models:
        log.info(em.summary())
    g = scale_round("Scaling round 3 (error-model weights)")

    g_variance = np.zeros(len(g))
    if refinery.full_matrix:
        target = ScalingTarget(joint, intensity, variance, data.group, minimisation_rows & ~outlier)
        fixed = np.concatenate([m.fixed_for_esds for m in joint.models])
        p, res = minimise(target, joint.parameters, max(2, refinery.max_iterations // 3), refinery.tolerance / 4)
        joint.parameters = p
        joint.normalise(np.flatnonzero(data.scalable))
        target = ScalingTarget(joint, intensity, variance, data.group, minimisation_rows & ~outlier)
        cov = covariance(target, joint.parameters, fixed)
        for m, block in zip(joint.models, cov):
            m.esds = np.sqrt(np.maximum(np.diag(block), 0.0))
        g, _ = joint.inverse_scales(jacobian=False)
        g_variance = inverse_scale_variances(joint, cov)
        outlier = reject_outliers(intensity, variance, g, data.group, data.scalable,
                                  params.outlier.zmax, params.outlier.algorithm)
        rounds.append(("Full-matrix round", res, int(outlier.sum())))
        log.info(f"Full-matrix round: {res.summary()}; {int(outlier.sum())} outliers")
        refine_error_model()
        for em in error_models:
            log.info("After the full-matrix round: " + em.summary().splitlines()[0])
    return ScalingResult(
        data=data, joint=joint, model_names=names, intensity=intensity, variance=variance, g=g,
        g_variance=g_variance, outlier=outlier, error_models=error_models, error_model_of_dataset=em_of_ds,
        imid=imid, choices=choices, rounds=rounds, seconds=time.perf_counter() - start,
    )


def default_error_model() -> ErrorModel:
    return ErrorModel(a=1.0, b=0.0, refined=False, message="error_model=None")
