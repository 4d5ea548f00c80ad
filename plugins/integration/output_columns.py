"""The columns and flags of integrated.refl (DIALS names and bits) from the pass results."""

from __future__ import annotations

import logging
import math

import numpy as np

from friedel.flags import Flags

from .corrections import lorentz_polarisation, quantum_efficiency

log = logging.getLogger("friedel")


def assemble(table, r, experiments, params, fitting, fit_index, skip):
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
    mm_columns(table, experiments)
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
