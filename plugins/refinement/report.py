"""Text tables summarising a refinement run, and crystallographic ESD notation."""

from __future__ import annotations

import math

import numpy as np

from friedel.flags import Flags


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


def table(header, rows) -> str:
    cells = [list(map(str, header))] + [list(map(str, r)) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line, "| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths)) + " |", line]
    out += ["| " + " | ".join(c.rjust(w) for c, w in zip(r, widths)) + " |" for r in cells[1:]]
    out.append(line)
    return "\n".join(out)


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
            for p in result.parameters]
    return table(["Model", "Parameter", "Value"], rows)


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
        "Refined parameters:\n" + parameter_table(result),
        "Refined unit cells:\n" + cell_table(result),
    ]
    return "\n\n".join(parts)
