"""Jobs of frames for one pass over the images, and their results merged back."""

from __future__ import annotations

import numpy as np

from friedel.parallel import run_blocks
from friedel.progress import Progress

from . import blocks
from .processor import Job, JobGeometry, run_job

#: with block.size=Auto, a job handles at most about this many reflections
MAX_JOB_REFLECTIONS = 50_000


def excluded_frames(scan, exclude_images) -> np.ndarray:
    frames = []
    for first, last in exclude_images or []:
        frames.extend(range(int(first) - 1, int(last)))
    lo, hi = scan.array_range
    return np.array([f for f in frames if lo <= f < hi], np.int64)


def imageset_groups(experiments) -> list[list[int]]:
    """Experiments that share images (several lattices in one sweep) are integrated together."""
    groups: dict = {}
    for i, e in enumerate(experiments):
        ref = e.imageset
        key = (ref.template if ref is not None and ref.template else id(ref), tuple(e.scan.image_range))
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def without_crystal(e):
    """What a worker needs of an experiment (beam, detector, scan, images): small and picklable."""
    from friedel.models.experiment import Experiment

    return Experiment(beam=e.beam, detector=e.detector, goniometer=e.goniometer, scan=e.scan, imageset=e.imageset,
                      identifier=e.identifier)


def run_pass(mode, owned_all, profile_index, profiles, inp, label):
    table, bbox = inp["table"], inp["bbox"]
    experiments, params = inp["experiments"], inp["params"]
    ids = table["id"]
    valid_box = bbox[:, 5] > bbox[:, 4]
    jobs = []
    for group in imageset_groups(experiments):
        lead = experiments[group[0]]
        in_group = np.isin(ids, group) & valid_box
        rows = np.flatnonzero(in_group)
        z0 = bbox[rows, 4]
        # more jobs than processes on long sweeps: a worker's arrays are bounded by its block
        n_jobs = max(inp["nproc"], int(np.ceil(len(rows) / MAX_JOB_REFLECTIONS)))
        ranges = blocks.job_ranges(z0, lead.scan.array_range, n_jobs, inp["block_frames"])
        excluded = excluded_frames(lead.scan, params.integration.exclude_images)
        for start, stop in ranges:
            own = owned_all[rows] & (z0 >= start) & (z0 < stop)
            if not own.any():
                continue
            read_end = int(bbox[rows[own], 5].max())
            touch = (bbox[rows, 4] < read_end) & (bbox[rows, 5] > start)
            sub = rows[touch]
            geom = _geometry(inp, sub, own[touch], profile_index, mode)
            jobs.append(Job(mode=mode, experiment=without_crystal(lead), frames=(start, read_end), excluded_frames=excluded,
                            geometry=geom, background=inp["backgrounds"][group[0]], window_voxels=inp["voxels"],
                            profiles=profiles if mode == "integrate" else inp["profile_template"],
                            min_i_over_sigma=params.profile.reference.min_i_over_sigma, opener=inp["opener"]))
    if not jobs:
        return []
    with Progress(len(jobs), label) as bar:
        return run_blocks(run_job, jobs, params.integration.mp, on_done=lambda i: bar.advance())


def _geometry(inp, rows, owned, profile_index, mode) -> JobGeometry:
    """The job's slice of the geometry (the learning columns only for the modelling pass)."""
    table = inp["table"]
    fr_centre = table["xyzcal.px"][rows]
    jac = inp["jacobian"][rows]
    return JobGeometry(
        rows=rows, owned=owned, panel=np.ascontiguousarray(table["panel"][rows]),
        bbox=inp["bbox"][rows], centre=np.ascontiguousarray(fr_centre),
        jacobian=np.ascontiguousarray(jac), radius2=np.ascontiguousarray(inp["radius"][rows] ** 2),
        sigma_z=np.ascontiguousarray(inp["sigma_z"][rows]), experiment=np.ascontiguousarray(table["id"][rows].astype(np.int64)),
        profile=np.ascontiguousarray(profile_index[rows]),
        position=np.ascontiguousarray(inp["position"][rows]) if mode == "model" else None,
        learn=np.ascontiguousarray(inp["learn"][rows]) if mode == "model" else None)


def merge_results(results: list, n: int) -> dict:
    """One array per result field over all ``n`` rows; ``results`` is emptied as it goes, so
    that the per-job copies are freed while the merged arrays fill."""
    merged = {"done": np.zeros(n, bool)}
    while results:
        rows, res, _ = results.pop()
        for k in list(res):
            v = res.pop(k)
            if k not in merged:
                dtype = np.float64 if v.dtype == np.float32 else v.dtype
                merged[k] = np.zeros((n,) + v.shape[1:], dtype)
            merged[k][rows] = v
        merged["done"][rows] = True
    return merged
