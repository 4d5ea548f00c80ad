"""What ``friedel scale`` prints and writes to ``friedel.scale.json``: the models, the
minimisation rounds, the error model, the merging-statistics table and a resolution suggestion."""

from __future__ import annotations

import json
import logging

import numpy as np

from friedel.io import atomic_write

log = logging.getLogger("friedel")


def scaled_observations(table, require_scaled: bool = True):
    """(hkl, I/g, V/g², d, dataset) of the rows flagged scaled (not outliers or excluded)."""
    from friedel.errors import FriedelError
    from friedel.flags import Flags

    for name in ("inverse_scale_factor", "intensity.scale.value", "intensity.scale.variance"):
        if name not in table:
            raise FriedelError(f"the reflections have no {name} column: give scaled reflections (friedel scale)")
    flags = np.asarray(table["flags"], dtype=np.int64)
    sel = (flags & int(Flags.bad_for_scaling)) == 0
    if require_scaled:
        sel &= (flags & int(Flags.scaled)) != 0
    sel &= np.asarray(table["id"]) >= 0
    g = np.asarray(table["inverse_scale_factor"], dtype=float)
    sel &= g > 0
    sel &= np.asarray(table["intensity.scale.variance"], dtype=float) > 0
    idx = np.flatnonzero(sel)
    if not len(idx):
        raise FriedelError("no scaled reflections (flag 'scaled' without outlier/excluded flags) in the input")
    g = g[idx]
    intensity = np.asarray(table["intensity.scale.value"], dtype=float)[idx] / g
    variance = np.asarray(table["intensity.scale.variance"], dtype=float)[idx] / g**2
    hkl = np.asarray(table["miller_index"], dtype=np.int32)[idx]
    d = np.asarray(table["d"], dtype=float)[idx] if "d" in table else None
    return hkl, intensity, variance, d, np.asarray(table["id"])[idx]


def statistics(experiments, hkl, intensity, variance, space_group, anomalous, n_bins, d_min=None, d_max=None):
    """The lead's merging statistics on scaled intensities (cell: the mean of the crystals')."""
    from friedel.merging_statistics import merging_statistics

    cells = np.array([e.crystal.unit_cell.parameters for e in experiments if e.crystal is not None])
    cell = tuple(np.mean(cells, axis=0)) if len(cells) else None
    return merging_statistics(hkl, intensity, variance, space_group, cell, anomalous=anomalous,
                              n_bins=n_bins, d_min=d_min, d_max=d_max)


def resolution_suggestion(stats_fine, d, intensity, variance, data_d_min, cc_half=0.3):
    from friedel.plugins.scaling.resolution import estimate, unmerged_isigma_per_shell

    isig = unmerged_isigma_per_shell(d, intensity, variance, stats_fine)
    return estimate(stats_fine.shells, isig, data_d_min, cc_half=cc_half)


def model_table(result) -> str:
    lines = []
    for i, m in enumerate(result.joint.models):
        g = result.g[result.data.dataset == i]
        if len(g):
            lines.append(f"data set {i}: {m.name}, {m.n_parameters} parameters, inverse scales "
                         f"{np.min(g):.3f} - {np.max(g):.3f} (mean {np.mean(g):.3f})")
    return "\n".join(lines[:20]) + ("\n..." if len(lines) > 20 else "")


def scale_json(result, stats, criteria, seconds) -> dict:
    data = result.data
    per_dataset = []
    for i, m in enumerate(result.joint.models):
        sel = data.dataset == i
        per_dataset.append({
            "model": m.name, "n_parameters": m.n_parameters, "n_observations": int(sel.sum()),
            "n_scaled": int((sel & result.scaled).sum()), "n_outliers": int((sel & result.outlier & data.scalable).sum()),
            "mean_inverse_scale": float(np.mean(result.g[sel])) if sel.any() else None,
        })
    return {
        "space_group": data.space_group,
        "n_datasets": data.n_datasets,
        "intensity_choice": {"Imid": result.imid,
                             "candidates": [{"label": c.label, "Imid": c.imid, "r_meas": c.r_meas,
                                             "cc_half": c.cc_half} for c in result.choices]},
        "rounds": [{"name": name, "iterations": res.n_iterations, "initial": res.initial, "final": res.final,
                    "converged": res.converged, "n_outliers": n_out} for name, res, n_out in result.rounds],
        "error_models": [em.as_dict() for em in result.error_models],
        "datasets": per_dataset,
        "merging_statistics": stats.as_dict(),
        "resolution": [c.as_dict() for c in criteria],
        "seconds": seconds,
    }


def write_json(payload: dict, path: str) -> None:
    def clean(obj):
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [clean(v) for v in obj]
        if isinstance(obj, (np.floating, float)):
            return float(obj) if np.isfinite(obj) else None
        if isinstance(obj, np.integer):
            return int(obj)
        if isinstance(obj, np.bool_):
            return bool(obj)
        return obj

    with atomic_write(path, "w") as handle:
        json.dump(clean(payload), handle, indent=1)
