"""The scan-varying stage of ``friedel refine``: which sweeps vary, with how many intervals, and
whether the result is kept.

:func:`plan` copies the static result, gives every sweep its own crystal (a crystal shared by
several sweeps is duplicated, as users expect: each sweep then turns on its own), trims each
scan to the frames that hold reflections (blank ends), and chooses the number of smoother
intervals: the scan width over ``interval_width_degrees``, reduced until every sample point is
seen by ``min_nref_per_sample`` reflections; a sweep that cannot reach that with one interval
stays static. Each decision is one line in the log.
"""

from __future__ import annotations

import copy
import logging

import attrs
import numpy as np

from friedel.plugins.refinement.scan_varying import (
    GaussianSmoother,
    ScanVaryingCrystalModel,
    ScanVaryingOrientation,
    ScanVaryingUnitCell,
    number_of_intervals,
)

log = logging.getLogger("friedel")


@attrs.define
class Plan:
    experiments: object  # a copy of the static result, crystals split per sweep
    sv_models: dict  # experiment id -> ScanVaryingCrystalModel
    notes: list


def any_sweeps(experiments) -> bool:
    return any(not e.is_still for e in experiments)


def _note(notes, text, warn=False):
    notes.append(text)
    (log.warning if warn else log.info)(text)


def plan(experiments, reflections, use, params) -> Plan:
    """Scan-varying models for the sweeps of ``experiments`` that can carry one."""
    experiments = copy.deepcopy(experiments)
    notes = []
    pp = params.parameterisation
    sp = pp.smoother
    if pp.crystal.fix == "all":
        _note(notes, "Scan-varying refinement skipped: crystal.fix=all leaves nothing to vary")
        return Plan(experiments, {}, notes)
    if all(e.is_still for e in experiments):
        return Plan(experiments, {}, notes)
    if any(e.is_still for e in experiments):
        _note(notes, "Stills are never refined scan-varying; their models stay static")
    forced = pp.scan_varying == "True"
    ids = reflections["id"]
    frames_all = reflections["xyzobs.px.value"][:, 2] if "xyzobs.px.value" in reflections else None
    users = {}
    for i, e in enumerate(experiments):
        users.setdefault(id(e.crystal), []).append(i)
    models = {}
    for i, e in enumerate(experiments):
        if e.is_still:
            continue
        rows = np.flatnonzero(use & (ids == i))
        if not len(rows):
            _note(notes, f"Experiment {i}: no reflections; its crystal stays static", warn=True)
            continue
        scan = e.scan
        if frames_all is not None:
            frames = frames_all[rows]
        else:
            frames = scan.frame_from_angle(np.degrees(reflections["xyzobs.mm.value"][rows, 2]))
        lo, hi = scan.array_range
        z_lo = max(float(np.floor(frames.min())), lo)
        z_hi = min(float(np.ceil(frames.max())), hi)
        if z_hi - z_lo < 1:
            _note(notes, f"Experiment {i}: its reflections lie on one image; its crystal stays static")
            continue
        if z_lo > lo or z_hi < hi:
            empty = [f"{a}-{b}" if b > a else f"{a}" for a, b in ((lo + 1, int(z_lo)), (int(z_hi) + 1, hi)) if b >= a]
            _note(notes, f"Experiment {i}: the scan-varying model spans images {int(z_lo) + 1}-{int(z_hi)} "
                         f"(no reflections on images {' and '.join(empty)}); beyond them the model is held at "
                         "its end value")
        width_deg = (z_hi - z_lo) * abs(scan.oscillation[1])
        wanted = sp.absolute_num_intervals or number_of_intervals(width_deg, sp.interval_width_degrees)
        n_int = wanted
        while not forced:
            per_sample = GaussianSmoother((z_lo, z_hi), n_int).weights(frames).sum(axis=1)
            if per_sample.min() >= sp.min_nref_per_sample or n_int == 1:
                break
            n_int = max(1, n_int // 2 if n_int > 3 else n_int - 1)
        if forced:  # the user asked for it: only the per-parameter rule (every reflection counts)
            per_sample = GaussianSmoother((z_lo, z_hi), n_int).weights(frames).sum(axis=1)
            if len(rows) < pp.auto_reduction.min_nref_per_parameter:
                _note(notes, f"Experiment {i}: stays static: {len(rows)} reflections are too few even for "
                             "scan_varying=True", warn=True)
                continue
            if per_sample.min() < sp.min_nref_per_sample:
                _note(notes, f"Experiment {i}: scan-varying as asked (scan_varying=True), but its sparsest "
                             f"smoother point has only {per_sample.min():.0f} reflections: the per-image model is "
                             "poorly determined", warn=True)
        elif per_sample.min() < sp.min_nref_per_sample:
            _note(notes, f"Experiment {i}: stays static: {len(rows)} reflections give its sparsest smoother "
                         f"point {per_sample.min():.0f}, fewer than smoother.min_nref_per_sample="
                         f"{sp.min_nref_per_sample}")
            continue
        if n_int < wanted:
            _note(notes, f"Experiment {i}: {n_int} smoother interval(s) instead of {wanted}: too few reflections "
                         f"for {wanted} ({per_sample.min():.0f} at the sparsest point with {n_int})")
        elif width_deg < sp.interval_width_degrees and not sp.absolute_num_intervals:
            _note(notes, f"Experiment {i}: its {width_deg:.1f} deg wedge is shorter than one "
                         f"{sp.interval_width_degrees:g} deg interval; one interval (2 sample points)")
        if len(users[id(e.crystal)]) > 1:
            log.info(f"Duplicating the crystal model for scan-varying refinement of experiment {i}")
            e.crystal = copy.deepcopy(e.crystal)
        models[i] = ScanVaryingCrystalModel(e.crystal, e, (z_lo, z_hi), n_int)
    return Plan(experiments, models, notes)


def parameterisations(plan_, built, crystal_fix: str = "none") -> list:
    """The static parameterisations of everything but the varying crystals, plus an orientation
    and a unit-cell parameterisation per varying crystal (``crystal.fix`` applies to both)."""
    varying = {id(m.crystal) for m in plan_.sv_models.values()}
    out = [p for p in built if not (p.kind == "A" and id(p.model) in varying)]
    many = len(plan_.sv_models) > 1
    for i, model in plan_.sv_models.items():
        tag = f"crystal {i} " if many else "crystal "
        o = ScanVaryingOrientation(model, [i], tag + "orientation (scan-varying)")
        c = ScanVaryingUnitCell(model, [i], tag + "unit cell (scan-varying)")
        if crystal_fix == "orientation":
            o.fix(o.names)
        if crystal_fix == "cell":
            c.fix(c.names)
        out += [o, c]
    return out


def better_than_static(sv, static, params):
    """(keep, why not): the scan-varying model is kept when its weighted mean squared residual
    on the static fit's own observations is lower than the static fit's."""
    if static is None:
        return True, ""
    from friedel.plugins.refinement.refiner import RefinementProblem

    probe = RefinementProblem(sv.experiments, static.problem.observations, [], params, sv.sv_models)
    ev = probe.evaluate(gradients=False)
    per_ref_sv = ev.chi2 / max(ev.nref, 1)
    per_ref_static = static.final.chi2 / max(static.final.nref, 1)
    if np.isfinite(per_ref_sv) and per_ref_sv < per_ref_static:
        return True, ""
    fmt = lambda r: f"{r[0]:.4f} mm, {r[1]:.4f} mm, {np.degrees(r[2]):.4f} deg"  # noqa: E731
    return False, (f"The scan-varying models did not lower the RMSDs ({fmt(ev.rmsds)} against static "
                   f"{fmt(static.final.rmsds)} on the same reflections); the static models are kept")


def store_scan_points(sv) -> None:
    """A at every image boundary into each varying crystal; its static A is the model at mid-scan."""
    for model in sv.sv_models.values():
        model.crystal.A_at_scan_points = model.A_at_scan_points()
        mid = 0.5 * (model.scan.array_range[0] + model.scan.array_range[1])
        model.crystal.A = model.compose(frames=[mid])[0][0]


def map_cell_esds(static, stage, esds) -> dict:
    """Cell ESDs of the static crystals, re-keyed to the crystals of ``stage`` (split per sweep)."""
    old = static.experiments.unique("crystal")
    new = stage.experiments.unique("crystal")
    out = {}
    for e_old, e_new in zip(static.experiments, stage.experiments):
        k_old, k_new = old.index(e_old.crystal), new.index(e_new.crystal)
        if k_old in esds:
            out[k_new] = esds[k_old]
    return out


def _misorientation_deg(U, V) -> float:
    R = U @ V.T
    return float(np.degrees(np.arccos(np.clip((np.trace(R) - 1) / 2, -1.0, 1.0))))


def variation(stage) -> dict:
    """Per varying experiment: frames and angles of the scan points, the cell at each, and the
    orientation's turn from the first scan point (degrees)."""
    out = {}
    for i, model in stage.sv_models.items():
        crystal, scan = model.crystal, model.scan
        frames = scan.array_range[0] + np.arange(scan.num_images + 1)
        U = crystal.U_at_scan_points()
        out[i] = {
            "n_intervals": model.smoother.n_intervals,
            "n_sample_points": model.smoother.n_values,
            "sample_frames": model.smoother.sample_frames().tolist(),
            "scan_point_frames": frames.tolist(),
            "scan_point_angles_deg": scan.angle_from_frame(frames).tolist(),
            "unit_cells": [list(crystal.unit_cell_at_scan_point(k).parameters) for k in range(len(frames))],
            "orientation_change_deg": [_misorientation_deg(u, U[0]) for u in U],
        }
    return out
