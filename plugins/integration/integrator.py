"""The integration driver: predict, model the profile, learn reference profiles, integrate.

Two passes over the images of each sweep (each image decoded once per pass): the first
integrates only the strong full reference reflections (summation) and learns the reference
profiles from them; the second integrates every predicted reflection by summation and profile
fitting. Both run as jobs of frames through the kernel executor (``integration.mp``).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np

from friedel.contracts.integration import ProfileEstimate
from friedel.errors import FriedelError
from friedel.flags import Flags
from friedel.parallel import resolve_nproc, run_blocks
from friedel.plugin_manager import build_plugin
from friedel.progress import Progress
from friedel.reflection_table import ReflectionTable

from . import blocks
from .corrections import lorentz_polarisation, quantum_efficiency
from .kabsch import local_frames
from .prediction import match_reference, predict_experiment, reference_spots
from .processor import BYTES_PER_VOXEL, Job, JobGeometry, run_job
from .profile_fitting import ProfileGrid, ReferenceProfiles
from .profile_model import TooFewSpots

log = logging.getLogger("friedel")

#: below this many pixels to read, mp.nproc=Auto runs in this process (about 30 Pilatus 6M frames)
SMALL_SWEEP_PIXELS = 2e8


@dataclass
class IntegrationResult:
    experiments: object
    reflections: ReflectionTable  # integrated rows (or all, with include_unintegrated)
    predicted_count: int
    counts: dict = field(default_factory=dict)
    profile_estimates: list = field(default_factory=list)
    profiles: ReferenceProfiles | None = None
    timing: dict = field(default_factory=dict)
    memory: dict = field(default_factory=dict)


def _excluded_frames(scan, exclude_images) -> np.ndarray:
    frames = []
    for first, last in exclude_images or []:
        frames.extend(range(int(first) - 1, int(last)))
    lo, hi = scan.array_range
    return np.array([f for f in frames if lo <= f < hi], np.int64)


def _imageset_groups(experiments) -> list[list[int]]:
    """Experiments that share images (several lattices in one sweep) are integrated together."""
    groups: dict = {}
    for i, e in enumerate(experiments):
        ref = e.imageset
        key = (ref.template if ref is not None and ref.template else id(ref), tuple(e.scan.image_range))
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def integrate(experiments, reflections: ReflectionTable, params, opener=None) -> IntegrationResult:
    """Integrate every predicted reflection of ``experiments`` (see the module docstring)."""
    t_start = time.perf_counter()
    timing = {}
    if not len(experiments):
        raise FriedelError("no experiments to integrate")
    for e in experiments:
        if e.imageset is None:
            raise FriedelError("an experiment has no image set: integrate needs the images (from friedel import)")
    # -- prediction ---------------------------------------------------------------------------
    tables = []
    for i, e in enumerate(experiments):
        t = predict_experiment(e, i, params.prediction)
        tables.append(t)
        log.info(f"Predicted {len(t)} reflections for experiment {i} "
                 f"({'scan-varying' if e.crystal.A_at_scan_points is not None else 'static'} crystal model)")
    table = ReflectionTable.concatenate(tables)
    if not len(table):
        raise FriedelError("no reflections are predicted on the detector inside the scan; check the models")
    table.assign_identifiers(experiments)
    n = len(table)
    table["imageset_id"] = table["id"].copy()
    ids = table["id"]
    frames_all = _frames_per_experiment(experiments, table)
    zeta = np.zeros(n)
    for i, fr in frames_all.items():
        zeta[ids == i] = fr.zeta
    table["zeta"] = zeta
    timing["prediction"] = time.perf_counter() - t_start

    # -- reference spots and the profile model ------------------------------------------------
    t0 = time.perf_counter()
    ref_rows = reference_spots(reflections)
    pred_rows, strong_rows = match_reference(table, reflections, ref_rows)
    table.set_flags(pred_rows, Flags.reference_spot)
    log.info(f"Reference spots: {len(ref_rows)} strong indexed spots, {len(pred_rows)} matched to predictions")
    if len(pred_rows) == 0 and any(_needs_estimate(params, e) for e in experiments):
        raise FriedelError("none of the strong spots matches a predicted reflection: the reflections do not belong "
                           "to these experiments (give the refined.expt and refined.refl of one run)")
    isolated = _isolated(table, pred_rows)
    log.info(f"{int(isolated.sum())} of them far enough from other predictions to model the profile")
    models, estimates, failed = [], [], []
    for i, e in enumerate(experiments):
        model = build_plugin("profile_models", params.profile.algorithm, params.profile, experiment=e)
        mine = (ids[pred_rows] == i) & isolated
        ref = None
        if reflections is not None and "shoebox" in reflections and mine.any():
            ref = reflections.select(strong_rows[mine])
            ref["xyzcal.px"] = table["xyzcal.px"][pred_rows[mine]]
            ref["s1"] = table["s1"][pred_rows[mine]]
            ref["panel"] = table["panel"][pred_rows[mine]]
        elif mine.any():
            ref = table.select(pred_rows[mine])
        fr = local_frames(e, ref) if ref is not None and len(ref) else None
        try:
            est = model.estimate(ref, fr)
        except TooFewSpots as exc:
            failed.append((i, exc))
            est = None
        if est is not None:
            _log_estimate(i, est)
            e.profile = model.to_dict()
        models.append(model)
        estimates.append(est)
    if failed:
        good = [k for k, est in enumerate(estimates) if est is not None and not est.given]
        if not good or not all(hasattr(models[i], "adopt") for i, _ in failed):
            raise failed[0][1]
        weights = np.array([estimates[k].n_spots_sigma_b for k in good], float)
        sigma_b = float(np.average([models[k].sigma_b for k in good], weights=weights))
        sigma_m = float(np.average([models[k].sigma_m for k in good], weights=weights))
        for i, exc in failed:
            models[i].adopt(sigma_b, sigma_m)
            experiments[i].profile = models[i].to_dict()
            estimates[i] = ProfileEstimate(math.degrees(sigma_b), math.degrees(sigma_m), 0, 0)
            log.warning(f"Experiment {i}: {exc}; using the widths of the other experiments "
                        f"(sigma_b {math.degrees(sigma_b):.4f}, sigma_m {math.degrees(sigma_m):.4f} degrees)")
    timing["profile_model"] = time.perf_counter() - t0

    # -- shoebox geometry ---------------------------------------------------------------------
    bbox, radius, sigma_z, partiality, skip, counts = _shoebox_geometry(experiments, models, frames_all, table,
                                                                         params)
    # -- reference profile grid -----------------------------------------------------------------
    fitting = bool(params.profile.fitting)
    refp = params.profile.reference
    learn_first = table.get_flags(Flags.reference_spot) & (partiality > 0.99) & ~skip
    grids, steps, centres, owners = [], [], [], []
    position = np.zeros((n, 3))
    profile_index = np.full(n, -1, np.int64)
    offset = 0
    s1u = table["s1"] / np.linalg.norm(table["s1"], axis=1)[:, None]
    for i, e in enumerate(experiments):
        sel = np.flatnonzero(ids == i)
        frames_per_block = refp.scan_step / abs(e.scan.oscillation[1])
        n_blocks = max(int(math.ceil(e.scan.num_images / frames_per_block - 1e-9)), 1)
        # fewer detector regions when there are too few strong full spots to fill them
        n_learn = int(np.count_nonzero(learn_first[sel]))
        regions = max(1, min(refp.detector_regions, int(math.sqrt(n_learn / (2.0 * refp.min_spots * n_blocks)))))
        grid = ProfileGrid.build(s1u[sel], e.scan.array_range, frames_per_block, regions, offset)
        position[sel] = grid.position(s1u[sel], table["xyzcal.px"][sel, 2])
        profile_index[sel] = grid.nearest(position[sel])
        fr = frames_all[i]
        pixel_c = float(np.median(np.linalg.norm(fr.jacobian, axis=1).max(axis=1))) if len(fr) else 0.0
        half = 1.5 * float(np.max(radius[sel])) + pixel_c if len(sel) else 1.0
        steps.append(np.full(grid.n_profiles, 2 * half / (refp.grid_points - 1)))
        centres.append(grid.centres())
        owners.append(np.full(grid.n_profiles, i))
        grids.append(grid)
        offset += grid.n_profiles
    profiles = ReferenceProfiles(refp.grid_points, np.concatenate(steps), np.concatenate(centres),
                                 np.concatenate(owners).astype(np.int64))
    learn = table.get_flags(Flags.reference_spot) & (partiality > 0.99) & ~skip

    # -- the passes over the images ---------------------------------------------------------------
    ip = params.integration
    nproc = resolve_nproc(ip.mp.nproc)
    pixels_to_read = sum(e.scan.num_images * sum(p.image_size[0] * p.image_size[1] for p in e.detector)
                         for e in experiments)
    if ip.mp.nproc in (None, "Auto") and pixels_to_read < SMALL_SWEEP_PIXELS:
        nproc = 1  # starting worker processes would cost more than the work
    block_frames = None if ip.block.size in (None, "Auto") else int(ip.block.size)
    n_parallel = 1 if ip.mp.method == "none" else nproc
    voxels = blocks.window_voxels(ip.block.max_memory_usage, n_parallel, ip.block.max_window_mb, BYTES_PER_VOXEL)
    box_vox = ((bbox[:, 1] - bbox[:, 0]) * (bbox[:, 3] - bbox[:, 2]) * np.maximum(bbox[:, 5] - bbox[:, 4], 0))
    log.info(f"Memory: {blocks.available_memory() / 1e9:.1f} GB available; windows of up to "
             f"{voxels * BYTES_PER_VOXEL / 1e6:.0f} MB of shoeboxes per process ({n_parallel} at once); "
             f"all shoeboxes together would need {box_vox.sum() * BYTES_PER_VOXEL / 1e6:.0f} MB")
    backgrounds = {}
    for i, e in enumerate(experiments):
        backgrounds[i] = build_plugin("background_algorithms", ip.background.algorithm, ip.background,
                                      experiment=_without_crystal(e), background_scope=ip.background)
    chosen = getattr(backgrounds[0], "chosen", ip.background.algorithm)
    log.info(f"Background: {chosen}" + (" (auto)" if ip.background.algorithm == "auto" else ""))
    jacobian = np.zeros((n, 2, 2))
    for i, fr in frames_all.items():
        jacobian[ids == i] = fr.jacobian
    inputs = dict(table=table, bbox=bbox, radius=radius, sigma_z=sigma_z, position=position, learn=learn,
                  skip=skip, experiments=experiments, backgrounds=backgrounds, voxels=voxels, params=params,
                  block_frames=block_frames, nproc=nproc, opener=opener, jacobian=jacobian,
                  profile_template=profiles)
    if fitting:
        t0 = time.perf_counter()
        ref_owned = learn.copy()
        acc = profiles.empty_like()
        results = _run_pass("model", ref_owned, profile_index, None, inputs, "Modelling profiles")
        for _, _, part in results:
            if part is not None:
                acc.add(part)
        acc.finalise(refp.min_spots)
        profiles = acc
        used = np.zeros(n, bool)
        for rows, res, _ in results:
            used[rows] = res["used_in_modelling"]
        table.set_flags(used, Flags.used_in_modelling)
        rows_r, frames_r, counts_r = acc.rocking_counts()
        refined = False
        for i, e in enumerate(experiments):
            sel = np.flatnonzero(ids == i)
            local = np.full(n, -1, np.int64)
            local[sel] = np.arange(len(sel))
            mine = local[rows_r] >= 0
            refine = getattr(models[i], "refine_sigma_m", None)
            if refine is None or not mine.any():
                continue
            used_n = refine(frames_all[i], local[rows_r[mine]], frames_r[mine], counts_r[mine])
            if used_n:
                refined = True
                e.profile = models[i].to_dict()
                estimates[i].sigma_m_deg = e.profile["sigma_m"]
                estimates[i].n_spots_sigma_m = used_n
                log.info(f"Experiment {i}: sigma_m {e.profile['sigma_m']:.4f} degrees from the background-"
                         f"subtracted counts of {used_n} reference reflections on their frames")
        if refined:
            bbox, radius, sigma_z, partiality, skip, counts = _shoebox_geometry(experiments, models, frames_all,
                                                                                 table, params)
            inputs.update(bbox=bbox, radius=radius, sigma_z=sigma_z, skip=skip)
        n_valid = int(profiles.valid.sum())
        log.info(f"Reference profiles: {n_valid} of {len(profiles.valid)} learned from {int(used.sum())} "
                 "strong full reflections")
        if n_valid == 0:
            log.warning("No reference profile could be learned (too few strong full reflections): "
                        "summation only")
            fitting = False
        timing["modelling"] = time.perf_counter() - t0
    table.set_flags(skip, Flags.dont_integrate)
    log.info(f"{n} reflections predicted; not integrated: {counts['near_rotation_axis']} near the rotation axis "
             f"(|zeta| < {params.integration.min_zeta}), {counts['outside_scan']} outside the scan, "
             f"{counts['excluded_images']} on excluded images")
    box_vox = ((bbox[:, 1] - bbox[:, 0]) * (bbox[:, 3] - bbox[:, 2]) * np.maximum(bbox[:, 5] - bbox[:, 4], 0))
    fit_index = profile_index.copy()
    if fitting:
        fit_index = profiles.substitute[profile_index]
    t0 = time.perf_counter()
    results = _run_pass("integrate", ~skip, fit_index, profiles if fitting else None, inputs,
                        "Integrating")
    timing["integration"] = time.perf_counter() - t0
    merged = _merge_results(results, n)
    out, extra = _assemble(table, merged, experiments, params, fitting, fit_index, skip)
    counts.update(extra)
    timing["total"] = time.perf_counter() - t_start
    return IntegrationResult(experiments, out, n, counts, estimates, profiles if fitting else None, timing,
                             {"window_voxels": voxels, "all_shoeboxes_mb": float(box_vox.sum() * BYTES_PER_VOXEL / 1e6)})


def _log_estimate(i, est):
    log.info(f"Experiment {i}: sigma_b {est.sigma_b_deg:.4f} degrees, sigma_m {est.sigma_m_deg:.4f} degrees "
             + ("(given)" if est.given else f"(from {est.n_spots_sigma_b} / {est.n_spots_sigma_m} spots)"))


def _shoebox_geometry(experiments, models, frames_all, table, params):
    """Boxes, foreground radii, rocking widths (frames), partialities and the rows left out."""
    n = len(table)
    ids = table["id"]
    bbox = np.zeros((n, 6), np.int64)
    radius = np.zeros(n)
    sigma_z = np.zeros(n)
    partiality = np.zeros(n)
    excluded = np.zeros(n, bool)
    for i, e in enumerate(experiments):
        sel = np.flatnonzero(ids == i)
        fr = frames_all[i]
        bbox[sel] = models[i].bounding_boxes(fr, e.scan.array_range)
        radius[sel] = models[i].foreground_radius(fr)
        sigma_z[sel] = models[i].rocking_sigma_frames(fr)
        partiality[sel] = models[i].partiality(fr, bbox[sel])
        ex = _excluded_frames(e.scan, params.integration.exclude_images)
        if len(ex):
            excluded[sel] = np.isin(np.floor(table["xyzcal.px"][sel, 2]).astype(np.int64), ex)
    table["bbox"] = bbox.astype(np.int32)
    table["partiality"] = partiality
    zeta = table["zeta"]
    near_axis = np.abs(zeta) < params.integration.min_zeta
    z = table["xyzcal.px"][:, 2]
    outside = (bbox[:, 5] <= bbox[:, 4]) | (z < _scan_lo(experiments, ids)) | (z >= _scan_hi(experiments, ids))
    # a reflection whose peak is outside the scan is kept only if a measurable part is inside
    outside &= ~((bbox[:, 5] > bbox[:, 4]) & (partiality > 0.05))
    skip = near_axis | outside | excluded
    counts = {"predicted": n, "near_rotation_axis": int(near_axis.sum()),
              "outside_scan": int((outside & ~near_axis).sum()),
              "excluded_images": int((excluded & ~near_axis & ~outside).sum())}
    return bbox, radius, sigma_z, partiality, skip, counts


def _isolated(table, rows, radius_px: float = 8.0, frames: float = 2.0) -> np.ndarray:
    """Reference spots with no other predicted reflection (any lattice) within ``radius_px``
    and ``frames`` on the same panel: their strong-spot pixels are their own."""
    from scipy.spatial import cKDTree

    xyz = table["xyzcal.px"].copy()
    xyz[:, 2] *= radius_px / frames
    xyz[:, 0] += table["panel"] * 1e5  # panels far apart
    tree = cKDTree(xyz)
    counts = np.array([len(c) for c in tree.query_ball_point(xyz[rows], radius_px)]) if len(rows) else np.zeros(0)
    return counts <= 1


def _without_crystal(e):
    """What a worker needs of an experiment (beam, detector, scan, images): small and picklable."""
    from friedel.models.experiment import Experiment

    return Experiment(beam=e.beam, detector=e.detector, goniometer=e.goniometer, scan=e.scan, imageset=e.imageset,
                      identifier=e.identifier)


def _needs_estimate(params, experiment) -> bool:
    scope_ = getattr(params.profile, params.profile.algorithm, None)
    return getattr(scope_, "sigma_b", None) is None


def _scan_lo(experiments, ids):
    return np.array([e.scan.array_range[0] for e in experiments], float)[ids]


def _scan_hi(experiments, ids):
    return np.array([e.scan.array_range[1] for e in experiments], float)[ids]


def _frames_per_experiment(experiments, table):
    ids = table["id"]
    return {i: local_frames(e, table.select(ids == i)) for i, e in enumerate(experiments)}


def _run_pass(mode, owned_all, profile_index, profiles, inp, label):
    table, bbox = inp["table"], inp["bbox"]
    experiments, params = inp["experiments"], inp["params"]
    ids = table["id"]
    valid_box = bbox[:, 5] > bbox[:, 4]
    jobs = []
    for group in _imageset_groups(experiments):
        lead = experiments[group[0]]
        in_group = np.isin(ids, group) & valid_box
        rows = np.flatnonzero(in_group)
        z0 = bbox[rows, 4]
        ranges = blocks.job_ranges(z0, lead.scan.array_range, inp["nproc"], inp["block_frames"])
        excluded = _excluded_frames(lead.scan, params.integration.exclude_images)
        for start, stop in ranges:
            own = owned_all[rows] & (z0 >= start) & (z0 < stop)
            if not own.any():
                continue
            read_end = int(bbox[rows[own], 5].max())
            touch = (bbox[rows, 4] < read_end) & (bbox[rows, 5] > start)
            sub = rows[touch]
            geom = _geometry(inp, sub, own[touch], profile_index)
            jobs.append(Job(mode=mode, experiment=_without_crystal(lead), frames=(start, read_end), excluded_frames=excluded,
                            geometry=geom, background=inp["backgrounds"][group[0]], window_voxels=inp["voxels"],
                            profiles=profiles if mode == "integrate" else inp["profile_template"],
                            min_i_over_sigma=params.profile.reference.min_i_over_sigma, opener=inp["opener"]))
    if not jobs:
        return []
    with Progress(len(jobs), label) as bar:
        return run_blocks(run_job, jobs, params.integration.mp, on_done=lambda i: bar.advance())


def _geometry(inp, rows, owned, profile_index) -> JobGeometry:
    table = inp["table"]
    fr_centre = table["xyzcal.px"][rows]
    jac = inp["jacobian"][rows]
    return JobGeometry(
        rows=rows, owned=owned, panel=np.ascontiguousarray(table["panel"][rows]),
        bbox=np.ascontiguousarray(inp["bbox"][rows]), centre=np.ascontiguousarray(fr_centre),
        jacobian=np.ascontiguousarray(jac), radius2=np.ascontiguousarray(inp["radius"][rows] ** 2),
        sigma_z=np.ascontiguousarray(inp["sigma_z"][rows]), experiment=np.ascontiguousarray(table["id"][rows].astype(np.int64)),
        profile=np.ascontiguousarray(profile_index[rows]), position=np.ascontiguousarray(inp["position"][rows]),
        learn=np.ascontiguousarray(inp["learn"][rows]))


def _merge_results(results, n):
    merged = {}
    for rows, res, _ in results:
        for k, v in res.items():
            if k not in merged:
                shape = (n,) + v.shape[1:]
                merged[k] = np.zeros(shape, v.dtype)
            merged[k][rows] = v
    merged["done"] = np.zeros(n, bool)
    for rows, _, _ in results:
        merged["done"][rows] = True
    return merged


def _assemble(table, r, experiments, params, fitting, fit_index, skip):
    """Columns and flags of integrated.refl (DIALS names and bits)."""
    n = len(table)
    ip = params.integration
    done = r["done"] & ~skip
    for name in ("intensity.sum.value", "intensity.sum.variance", "background.mean", "background.sum.value",
                 "background.sum.variance"):
        table[name] = np.where(done, r[name], 0.0)
    for name in ("num_pixels.valid", "num_pixels.background", "num_pixels.background_used", "num_pixels.foreground"):
        table[name] = np.where(done, r[name], 0).astype(np.int32)
    n_fg = r["num_pixels.foreground"]
    n_fg_valid = r["num_pixels.foreground_valid"]
    with np.errstate(invalid="ignore", divide="ignore"):
        valid_fraction = np.where(n_fg > 0, n_fg_valid / np.maximum(n_fg, 1), 0.0)
    bg_ok = r["background.ok"]
    too_few_valid = done & (valid_fraction < ip.valid_foreground_threshold)
    table.set_flags(too_few_valid, Flags.dont_integrate)
    table.set_flags(done & ~bg_ok, Flags.failed_during_background_modelling | Flags.dont_integrate)
    measurable = done & bg_ok & ~too_few_valid
    complete = measurable & (n_fg_valid == n_fg) & (n_fg > 0)
    # a foreground shared with another reflection holds its photons too: summation cannot
    # separate them (profile fitting leaves the shared pixels out)
    shared = r["num_pixels.overlapped_fg"] > 0
    sum_ok = complete & ~shared
    table.set_flags(sum_ok, Flags.integrated_sum)
    table.set_flags(measurable & ~complete, Flags.foreground_includes_bad_pixels | Flags.failed_during_summation)
    table.set_flags(complete & shared, Flags.failed_during_summation)
    table.set_flags(done & r["overloaded"], Flags.overloaded)
    table.set_flags(done & (r["num_pixels.overlapped_fg"] > 0), Flags.overlapped_fg)
    table.set_flags(done & (r["num_pixels.overlapped_bg"] > 0), Flags.overlapped_bg)
    counts = {}
    if fitting:
        prf_ok = measurable & r["prf.ok"]
        table["intensity.prf.value"] = np.where(prf_ok, r["intensity.prf.value"], 0.0)
        table["intensity.prf.variance"] = np.where(prf_ok, r["intensity.prf.variance"], -1.0)
        table["profile.correlation"] = np.where(prf_ok, r["profile.correlation"], 0.0)
        table.set_flags(prf_ok, Flags.integrated_prf)
        no_profile = measurable & (fit_index < 0)
        table.set_flags(measurable & ~prf_ok & ~no_profile, Flags.failed_during_profile_fitting)
        counts["no_reference_profile"] = int(no_profile.sum())
        counts["failed_profile_fitting"] = int((measurable & ~prf_ok & ~no_profile).sum())
    # observed centroid (summation foreground); predicted where nothing positive was seen
    cen = r["centroid"]
    good_c = done & (cen[:, 0] >= 0)
    obs = np.where(good_c[:, None], cen, table["xyzcal.px"])
    table["xyzobs.px.value"] = obs
    table["xyzobs.px.variance"] = np.where(good_c[:, None], r["centroid.variance"], 1.0 / 12.0)
    _mm_columns(table, experiments)
    lp = np.zeros(n)
    qe = None
    for i, e in enumerate(experiments):
        sel = table["id"] == i
        lp[sel] = lorentz_polarisation(e, table["s1"][sel])
        q = quantum_efficiency(e, table["s1"][sel], table["panel"][sel])
        if q is not None:
            if qe is None:
                qe = np.ones(n)
            qe[sel] = q
    table["lp"] = lp
    if qe is not None:
        table["qe"] = qe
    table["partial_id"] = np.arange(n, dtype=np.int64)
    integrated = table.get_flags(Flags.integrated, all=False)
    counts.update({
        "integrated_sum": int(table.get_flags(Flags.integrated_sum).sum()),
        "integrated_prf": int(table.get_flags(Flags.integrated_prf).sum()),
        "integrated": int(integrated.sum()),
        "too_few_valid_foreground": int(too_few_valid.sum()),
        "failed_background": int((done & ~bg_ok).sum()),
        "foreground_bad_pixels": int((measurable & ~complete).sum()),
        "overloaded": int((done & r["overloaded"]).sum()),
        "overlapped_fg": int((done & (r["num_pixels.overlapped_fg"] > 0)).sum()),
        "overlapped_bg": int((done & (r["num_pixels.overlapped_bg"] > 0)).sum()),
        "full": int((integrated & (table["partiality"] > 0.99)).sum()),
        "partial": int((integrated & (table["partiality"] <= 0.99)).sum()),
    })
    if params.output.include_unintegrated:
        return table, counts
    log.info(f"Removing {n - int(integrated.sum())} unintegrated reflections of {n} total")
    return table.select(integrated), counts


def _mm_columns(table, experiments):
    px = table["xyzobs.px.value"]
    var = table["xyzobs.px.variance"]
    mm = np.zeros_like(px)
    mm_var = np.zeros_like(var)
    for i, e in enumerate(experiments):
        sel_e = table["id"] == i
        for p_index, panel in enumerate(e.detector):
            sel = np.flatnonzero(sel_e & (table["panel"] == p_index))
            if not len(sel):
                continue
            mm[sel, :2] = panel.px_to_mm(px[sel, :2])
            size = np.asarray(panel.pixel_size)
            mm_var[sel, :2] = var[sel, :2] * size**2
        width = math.radians(e.scan.oscillation[1])
        sel = np.flatnonzero(sel_e)
        mm[sel, 2] = np.radians(e.scan.angle_from_frame(px[sel, 2]))
        mm_var[sel, 2] = var[sel, 2] * width**2
    table["xyzobs.mm.value"] = mm
    table["xyzobs.mm.variance"] = mm_var
