"""Text tables summarising a refinement run, and crystallographic ESD notation."""

from __future__ import annotations

import math

import numpy as np

from friedel.flags import Flags
from friedel.text_table import boxed_table as table


def format_esd(value: float, esd: float) -> str:
    """``57.8418(17)``: the value rounded where its ESD's one or two significant digits end
    (two when they would read 10-19, the 'rule of 19')."""
    if not (esd > 0) or not math.isfinite(esd):
        return f"{value:.4f}"
    places = -int(math.floor(math.log10(esd)))
    if esd * 10**places < 2.0:
        places += 1
    digits = int(round(esd * 10**places))
    if places <= 0:
        step = 10 ** (-places)
        return f"{int(round(value / step) * step)}({int(round(esd / step) * step)})"
    return f"{value:.{places}f}({digits})"


def observation_table(result) -> str:
    refl = result.reflections
    ids = refl["id"]
    indexed = (ids >= 0) & np.any(refl["miller_index"] != 0, axis=1)
    used = refl.get_flags(Flags.used_in_refinement)
    outlier = refl.get_flags(Flags.centroid_outlier)
    rows = []
    for i, _ in enumerate(result.experiments):
        e = ids == i
        rows.append([i, int((e & indexed).sum()), int((e & used).sum()), int((e & outlier).sum())])
    return table(["Exp", "Indexed", "Used", "Outliers"], rows)


def residual_statistics(result) -> str:
    refl = result.reflections
    used = refl.get_flags(Flags.used_in_refinement)
    res = refl["xyzcal.mm"][used] - refl["xyzobs.mm.value"][used]
    if not len(res):
        return ""
    q = np.percentile(res, [0, 25, 50, 75, 100], axis=0)
    rows = [["Xc - Xo (mm)"] + [f"{v:.4g}" for v in q[:, 0]],
            ["Yc - Yo (mm)"] + [f"{v:.4g}" for v in q[:, 1]],
            ["Phic - Phio (deg)"] + [f"{v:.4g}" for v in np.degrees(q[:, 2])]]
    return table(["", "Min", "Q1", "Med", "Q3", "Max"], rows)


def steps_table(result) -> str:
    rows = []
    for s in result.history:
        x, y, p = s["rmsd"]
        rows.append([s["step"], s["nref"], f"{x:.5g}", f"{y:.5g}", f"{np.degrees(p):.5g}"])
    angle = "DeltaPsi" if all(e.is_still for e in result.experiments) else "Phi"
    return table(["Step", "Nref", "RMSD_X (mm)", "RMSD_Y (mm)", f"RMSD_{angle} (deg)"], rows)


def rmsd_by_experiment(result) -> str:
    rows = []
    for i, (x, y, p) in result.rmsds.items():
        e = result.experiments[i]
        px = e.detector[0].pixel_size
        angle = f"{np.degrees(p):.5g} deg" if e.is_still else f"{np.degrees(p) / e.scan.oscillation[1]:.5g} images"
        rows.append([i, result.n_used.get(i, 0), f"{x / px[0]:.5g}", f"{y / px[1]:.5g}", angle])
    return table(["Exp", "Nref", "RMSD_X (px)", "RMSD_Y (px)", "RMSD_Z (images) or DeltaPsi"], rows)


def parameter_table(result) -> str:
    rows = [[p.model, p.name, format_esd(p.value, p.esd) if p.free else f"{p.value:.6g} (fixed)"]
            for p in result.parameters if "_sample" not in p.name]
    n_sv = sum(1 for p in result.parameters if "_sample" in p.name)
    text = table(["Model", "Parameter", "Value"], rows)
    if n_sv:
        text += f"\n({n_sv} scan-varying sample-point values with ESDs in friedel.refine.json)"
    return text


def stage_rmsd_table(result) -> str:
    """RMSDs of each experiment after the static and the scan-varying fit (px, px, images)."""
    rows = []
    for i, e in enumerate(result.experiments):
        px = e.detector[0].pixel_size
        row = [i]
        for name in ("static", "scan-varying"):
            r = result.stages.get(name, {}).get(i)
            if r is None:
                row += ["-", "-", "-"]
                continue
            z = np.degrees(r[2]) / e.scan.oscillation[1] if not e.is_still else np.degrees(r[2])
            row += [f"{r[0] / px[0]:.4f}", f"{r[1] / px[1]:.4f}", f"{z:.4f}"]
        rows.append(row)
    return table(["Exp", "static X (px)", "Y (px)", "Z (images)", "scan-varying X (px)", "Y (px)", "Z (images)"],
                 rows)


def variation_table(result, max_rows: int = 11) -> str:
    """Cell and orientation of each scan-varying crystal at evenly spaced scan points."""
    parts = []
    for i, v in result.scan_varying.items():
        n = len(v["scan_point_frames"])
        picks = np.unique(np.linspace(0, n - 1, min(max_rows, n)).round().astype(int))
        rows = []
        for k in picks:
            c = v["unit_cells"][k]
            rows.append([int(v["scan_point_frames"][k]), f"{v['scan_point_angles_deg'][k]:.2f}"]
                        + [f"{x:.4f}" for x in c[:3]] + [f"{x:.3f}" for x in c[3:]]
                        + [f"{v['orientation_change_deg'][k]:.4f}"])
        cells = np.array(v["unit_cells"])
        spread = " ".join(f"{x:.4f}" for x in cells.max(axis=0) - cells.min(axis=0))
        parts.append(f"Experiment {i}: {v['n_intervals']} interval(s), {v['n_sample_points']} sample points; "
                     f"cell range over the scan {spread}; largest turn from the first image "
                     f"{max(v['orientation_change_deg']):.4f} deg\n"
                     + table(["Frame", "Phi (deg)", "a", "b", "c", "alpha", "beta", "gamma", "Turn (deg)"], rows))
    return "\n".join(parts)


def cell_table(result) -> str:
    rows = []
    for k, crystal in enumerate(result.experiments.unique("crystal")):
        c = crystal.unit_cell
        esds = result.cell_esds.get(k, (0.0,) * 6)
        values = [c.a, c.b, c.c, c.alpha, c.beta, c.gamma]
        rows.append([k, crystal.space_group_symbol] + [format_esd(v, e) for v, e in zip(values, esds)])
    return table(["Crystal", "Space group", "a", "b", "c", "alpha", "beta", "gamma"], rows)


def summary(result) -> str:
    parts = [
        "Observations used in refinement:\n" + observation_table(result),
        "Summary of residuals of the reflections used:\n" + residual_statistics(result),
        "Refinement steps:\n" + steps_table(result),
        f"Stopped: {result.reason}",
        "RMSDs by experiment:\n" + rmsd_by_experiment(result),
    ]
    if len(result.stages) > 1:
        parts.append("RMSDs of the static and the scan-varying fit:\n" + stage_rmsd_table(result))
    parts += ["Refined parameters:\n" + parameter_table(result),
              "Refined unit cells" + (" (at mid-scan; ESDs of the static fit)" if result.scan_varying else "")
              + ":\n" + cell_table(result)]
    if result.scan_varying:
        parts.append("Scan-varying crystals:\n" + variation_table(result))
    if result.notes:
        parts.append("Notes:\n" + "\n".join(f"- {n}" for n in result.notes))
    return "\n\n".join(parts)


def as_dict(result) -> dict:
    """The numbers of every table, for ``friedel.refine.json``."""
    def rm(r):
        return {"x_mm": r[0], "y_mm": r[1], "phi_rad": r[2]}

    crystals = result.experiments.unique("crystal")
    return {
        "rmsds": {str(i): rm(r) for i, r in result.rmsds.items()},
        "stages": {name: {str(i): rm(r) for i, r in d.items()} for name, d in result.stages.items()},
        "n_used": {str(i): n for i, n in result.n_used.items()},
        "n_outliers": {str(i): n for i, n in result.n_outliers.items()},
        "history": [{k: (list(v) if isinstance(v, tuple) else v) for k, v in h.items()} for h in result.history],
        "stopped": result.reason,
        "parameters": [{"model": p.model, "name": p.name, "value": p.value, "esd": p.esd, "free": p.free}
                       for p in result.parameters],
        "unit_cells": [{"crystal": k, "space_group": c.space_group_symbol, "cell": list(c.unit_cell.parameters),
                        "esds": list(result.cell_esds.get(k, (0.0,) * 6))} for k, c in enumerate(crystals)],
        "scan_varying": {str(i): v for i, v in result.scan_varying.items()},
        "notes": list(result.notes),
        # lists of records with an axis column, as friedel report tabulates and plots them
        "steps": [{"iteration": k, "stage": h.get("stage", "static"), "nref": h["nref"],
                   "rmsd_x_mm": h["rmsd"][0], "rmsd_y_mm": h["rmsd"][1], "rmsd_phi_deg": float(np.degrees(h["rmsd"][2]))}
                  for k, h in enumerate(result.history)],
        "scan_points": {str(i): [{"frame": f, "phi": ph, "a": c[0], "b": c[1], "c": c[2], "alpha": c[3],
                                  "beta": c[4], "gamma": c[5], "turn_deg": t}
                                 for f, ph, c, t in zip(v["scan_point_frames"], v["scan_point_angles_deg"],
                                                        v["unit_cells"], v["orientation_change_deg"])]
                        for i, v in result.scan_varying.items()},
    }
