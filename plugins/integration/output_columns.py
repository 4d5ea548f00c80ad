"""The columns and flags of integrated.refl (DIALS names and bits) from the pass results."""

from __future__ import annotations

import logging
import math

import numpy as np

from friedel.flags import Flags

from .corrections import lorentz_polarisation, quantum_efficiency

log = logging.getLogger("friedel")


def assemble(table, r, experiments, params, fitting, fit_index, skip):
    """Flags on the prediction table, then the output rows with their columns (DIALS names and bits).

    Only the rows written (integrated ones, unless ``output.include_unintegrated``) get the
    result columns, so the full-size table never carries them.
    """
    n = len(table)
    ip = params.integration
    done = r["done"] & ~skip
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
    table.set_flags(done & shared, Flags.overlapped_fg)
    table.set_flags(done & (r["num_pixels.overlapped_bg"] > 0), Flags.overlapped_bg)
    counts = {}
    prf_ok = None
    if fitting:
        prf_ok = measurable & r["prf.ok"]
        table.set_flags(prf_ok, Flags.integrated_prf)
        no_profile = measurable & (fit_index < 0)
        table.set_flags(measurable & ~prf_ok & ~no_profile, Flags.failed_during_profile_fitting)
        counts["no_reference_profile"] = int(no_profile.sum())
        counts["failed_profile_fitting"] = int((measurable & ~prf_ok & ~no_profile).sum())
    integrated = table.get_flags(Flags.integrated, all=False)
    counts.update({
        "integrated_sum": int(sum_ok.sum()),
        "integrated_prf": int(prf_ok.sum()) if prf_ok is not None else 0,
        "integrated": int(integrated.sum()),
        "too_few_valid_foreground": int(too_few_valid.sum()),
        "failed_background": int((done & ~bg_ok).sum()),
        "foreground_bad_pixels": int((measurable & ~complete).sum()),
        "overloaded": int((done & r["overloaded"]).sum()),
        "overlapped_fg": int((done & shared).sum()),
        "overlapped_bg": int((done & (r["num_pixels.overlapped_bg"] > 0)).sum()),
        "full": int((integrated & (table["partiality"] > 0.99)).sum()),
        "partial": int((integrated & (table["partiality"] <= 0.99)).sum()),
    })
    keep = np.arange(n) if params.output.include_unintegrated else np.flatnonzero(integrated)
    if len(keep) < n:
        log.info(f"Removing {n - len(keep)} unintegrated reflections of {n} total")
    out = table.select(keep)
    d = done[keep]
    for name in ("intensity.sum.value", "intensity.sum.variance", "background.mean", "background.sum.value",
                 "background.sum.variance"):
        out[name] = np.where(d, r.pop(name)[keep], 0.0)
    for name in ("num_pixels.valid", "num_pixels.background", "num_pixels.background_used", "num_pixels.foreground"):
        out[name] = np.where(d, r.pop(name)[keep], 0).astype(np.int32)
    if fitting:
        ok = prf_ok[keep]
        out["intensity.prf.value"] = np.where(ok, r.pop("intensity.prf.value")[keep], 0.0)
        out["intensity.prf.variance"] = np.where(ok, r.pop("intensity.prf.variance")[keep], -1.0)
        out["profile.correlation"] = np.where(ok, r.pop("profile.correlation")[keep], 0.0)
    # observed centroid (summation foreground); predicted where nothing positive was seen
    cen = r.pop("centroid")[keep]
    good_c = d & (cen[:, 0] >= 0)
    out["xyzobs.px.value"] = np.where(good_c[:, None], cen, out["xyzcal.px"])
    out["xyzobs.px.variance"] = np.where(good_c[:, None], r.pop("centroid.variance")[keep], 1.0 / 12.0)
    mm_columns(out, experiments)
    m = len(out)
    lp = np.zeros(m)
    qe = None
    for i, e in enumerate(experiments):
        sel = out["id"] == i
        lp[sel] = lorentz_polarisation(e, out["s1"][sel])
        q = quantum_efficiency(e, out["s1"][sel], out["panel"][sel])
        if q is not None:
            if qe is None:
                qe = np.ones(m)
            qe[sel] = q
    out["lp"] = lp
    if qe is not None:
        out["qe"] = qe
    out["partial_id"] = keep.astype(np.int64)
    return out, counts


def mm_columns(table, experiments):
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
