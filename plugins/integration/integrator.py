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
from friedel.parallel import resolve_nproc
from friedel.plugin_manager import build_plugin
from friedel.reflection_table import ReflectionTable

from . import blocks
from .jobs import excluded_frames, imageset_groups, merge_results, run_pass, without_crystal
from .kabsch import local_frames
from .output_columns import assemble
from .prediction import match_reference, predict_experiment, reference_spots
from .processor import BYTES_PER_VOXEL
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




def integrate(experiments, reflections: ReflectionTable, params, opener=None) -> IntegrationResult:
    """Integrate every predicted reflection of ``experiments`` (see the module docstring).

    ``reflections`` (the strong indexed spots) is emptied of its columns once the profile
    model is estimated, to keep memory for the passes.
    """
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
    # DIALS numbers image sets, not lattices: two lattices of one sweep share imageset_id
    group_of = np.zeros(len(experiments), np.int32)
    for g, members in enumerate(imageset_groups(experiments)):
        group_of[members] = g
    table["imageset_id"] = group_of[table["id"]]
    ids = table["id"]
    frames_all, jacobian, zeta = _frames_per_experiment(experiments, table)
    table["zeta"] = zeta
    timing["prediction"] = time.perf_counter() - t_start
    blocks.release_freed_memory()
    rss = {"after_prediction": _rss_mb()}

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
    # the strong spots have served the matching and the estimate; the passes do not need them
    ref = fr = None
    if reflections is not None:
        for name in reflections.keys():
            del reflections[name]
        blocks.release_freed_memory()
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
    del s1u

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
    box_vox = _box_voxels(bbox)
    log.info(f"Memory: {blocks.available_memory() / 1e9:.1f} GB available; windows of up to "
             f"{voxels * BYTES_PER_VOXEL / 1e6:.0f} MB of shoeboxes per process ({n_parallel} at once); "
             f"all shoeboxes together would need {box_vox.sum() * BYTES_PER_VOXEL / 1e6:.0f} MB")
    backgrounds = {}
    for i, e in enumerate(experiments):
        backgrounds[i] = build_plugin("background_algorithms", ip.background.algorithm, ip.background,
                                      experiment=without_crystal(e), background_scope=ip.background)
    chosen = getattr(backgrounds[0], "chosen", ip.background.algorithm)
    log.info(f"Background: {chosen}" + (" (auto)" if ip.background.algorithm == "auto" else ""))
    inputs = dict(table=table, bbox=bbox, radius=radius, sigma_z=sigma_z, position=position, learn=learn,
                  skip=skip, experiments=experiments, backgrounds=backgrounds, voxels=voxels, params=params,
                  block_frames=block_frames, nproc=nproc, opener=opener, jacobian=jacobian,
                  profile_template=profiles)
    if fitting:
        t0 = time.perf_counter()
        ref_owned = learn.copy()
        acc = profiles.empty_like()
        results = run_pass("model", ref_owned, profile_index, None, inputs, "Modelling profiles")
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
        del inputs["position"], inputs["learn"], acc.rocking[:]  # only the modelling pass needs them
        blocks.release_freed_memory()
        rss["after_modelling"] = _rss_mb()
    table.set_flags(skip, Flags.dont_integrate)
    log.info(f"{n} reflections predicted; not integrated: {counts['near_rotation_axis']} near the rotation axis "
             f"(|zeta| < {params.integration.min_zeta}), {counts['outside_scan']} outside the scan, "
             f"{counts['excluded_images']} on excluded images")
    box_vox = _box_voxels(bbox)
    fit_index = profile_index.copy()
    if fitting:
        fit_index = profiles.substitute[profile_index]
    t0 = time.perf_counter()
    results = run_pass("integrate", ~skip, fit_index, profiles if fitting else None, inputs,
                        "Integrating")
    timing["integration"] = time.perf_counter() - t0
    rss["after_integration"] = _rss_mb()
    # free the per-reflection geometry before the output columns are built (peak memory)
    shoebox_mb = float(box_vox.sum() * BYTES_PER_VOXEL / 1e6)
    inputs.clear()
    del bbox, radius, sigma_z, position, jacobian, frames_all, box_vox, learn, profile_index
    merged = merge_results(results, n)
    out, extra = assemble(table, merged, experiments, params, fitting, fit_index, skip)
    del merged
    blocks.release_freed_memory()
    counts.update(extra)
    timing["total"] = time.perf_counter() - t_start
    rss["after_output"] = _rss_mb()
    log.info("Memory of this process: " + ", ".join(f"{k.replace('_', ' ')} {v:.0f} MB" for k, v in rss.items()))
    return IntegrationResult(experiments, out, n, counts, estimates, profiles if fitting else None, timing,
                             {"window_voxels": voxels, "all_shoeboxes_mb": shoebox_mb,
                              "rss_mb": rss})


def _box_voxels(bbox) -> np.ndarray:
    b = bbox.astype(np.int64)
    return (b[:, 1] - b[:, 0]) * (b[:, 3] - b[:, 2]) * np.maximum(b[:, 5] - b[:, 4], 0)


def _rss_mb() -> float:
    """Resident memory of this process now (MB), for the phase log."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 1e6
    except Exception:  # pragma: no cover
        return float("nan")


def _log_estimate(i, est):
    log.info(f"Experiment {i}: sigma_b {est.sigma_b_deg:.4f} degrees, sigma_m {est.sigma_m_deg:.4f} degrees "
             + ("(given)" if est.given else f"(from {est.n_spots_sigma_b} / {est.n_spots_sigma_m} spots)"))


def _shoebox_geometry(experiments, models, frames_all, table, params):
    """Boxes, foreground radii, rocking widths (frames), partialities and the rows left out."""
    n = len(table)
    ids = table["id"]
    bbox = np.zeros((n, 6), np.int32)  # int64 copies are made per job
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
        ex = excluded_frames(e.scan, params.integration.exclude_images)
        if len(ex):
            excluded[sel] = np.isin(np.floor(table["xyzcal.px"][sel, 2]).astype(np.int64), ex)
    table["bbox"] = bbox
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



def _needs_estimate(params, experiment) -> bool:
    scope_ = getattr(params.profile, params.profile.algorithm, None)
    return getattr(scope_, "sigma_b", None) is None


def _scan_lo(experiments, ids):
    return np.array([e.scan.array_range[0] for e in experiments], float)[ids]


def _scan_hi(experiments, ids):
    return np.array([e.scan.array_range[1] for e in experiments], float)[ids]


def _frames_per_experiment(experiments, table):
    """Kabsch frames of each experiment's rows, as views of one (n, 2, 2) Jacobian array.

    The prediction table holds each experiment's rows contiguously (tables concatenated in
    experiment order), so the per-experiment frames share the table's memory.
    """
    from friedel.contracts.integration import LocalFrames

    ids = table["id"]
    n = len(table)
    jacobian = np.zeros((n, 2, 2))
    zeta = np.zeros(n)
    frames = {}
    for i, e in enumerate(experiments):
        sel = np.flatnonzero(ids == i)
        if not len(sel):
            frames[i] = local_frames(e, table.select(sel))
            continue
        lo, hi = int(sel[0]), int(sel[-1]) + 1
        assert hi - lo == len(sel), "prediction rows of one experiment must be contiguous"
        sub = {"s1": table["s1"][lo:hi], "panel": table["panel"][lo:hi], "xyzcal.px": table["xyzcal.px"][lo:hi]}
        fr = local_frames(e, sub)
        jacobian[lo:hi] = fr.jacobian
        zeta[lo:hi] = fr.zeta
        frames[i] = LocalFrames(centre=table["xyzcal.px"][lo:hi], jacobian=jacobian[lo:hi], zeta=zeta[lo:hi],
                                dphi=fr.dphi, s1=table["s1"][lo:hi])
    return frames, jacobian, zeta
