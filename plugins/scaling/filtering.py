"""ΔCC½ filtering: remove data sets (or groups of images) whose removal raises CC½ by far
more than the others' (``filtering.method=deltacchalf``), then scale again.

ΔCC½ of a group is CC½(all) − CC½(all but the group), computed on the scaled intensities
with the same random half split; a group is removed when its ΔCC½ is below
mean − ``stdcutoff``·σ of all groups' ΔCC½. Cycles stop after ``max_cycles``, when nothing is
removed, or when ``max_percent_removed`` of the observations are gone.
"""

from __future__ import annotations

import logging

import numpy as np

from friedel.plugins.scaling.intensity_choice import rmeas_cchalf

log = logging.getLogger("friedel")


def image_groups(data, mode: str, group_size: int) -> np.ndarray:
    """Group number of every prepared row: its data set, or (data set, block of images)."""
    if mode == "dataset":
        return data.dataset.astype(np.int64)
    block = (data.image - 1) // group_size
    key = data.dataset.astype(np.int64) * 1_000_000 + block
    return np.unique(key, return_inverse=True)[1].ravel()


def delta_cc_half(result, groups: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(CC½ of all scaled rows, group numbers, ΔCC½ of each group)."""
    use = result.scaled
    I, V, g = result.intensity, result.variance, result.g
    _, cc_all = rmeas_cchalf(I, V, g, result.data.group, use)
    ids = np.unique(groups[use])
    deltas = np.zeros(len(ids))
    for k, gid in enumerate(ids):
        _, cc = rmeas_cchalf(I, V, g, result.data.group, use & (groups != gid))
        deltas[k] = cc_all - cc
    return cc_all, ids, deltas


def deltacchalf_filter(experiments, table, result, params):
    """Filter-and-rescale cycles; returns (experiments, table, result) after the last cycle.

    Removed rows are flagged user_excluded_in_scaling in the output (via ``exclude``)."""
    from friedel.flags import Flags
    from friedel.plugins.scaling.scaler import run_scaling

    f = params.filtering
    n_start = int(result.scaled.sum())
    removed_total = 0
    for cycle in range(1, f.max_cycles + 1):
        groups = image_groups(result.data, f.mode, f.group_size)
        cc_all, ids, deltas = delta_cc_half(result, groups)
        if len(ids) < 3:
            log.info("ΔCC½ filtering needs at least three groups; nothing removed")
            break
        cutoff = float(np.mean(deltas) - f.stdcutoff * np.std(deltas))
        bad = ids[deltas < cutoff]
        lines = [f"ΔCC½ filtering cycle {cycle}: CC½ = {cc_all:.5f}, cutoff {cutoff:.5f}",
                 f"{'group':>8} {'dCC1/2':>10}"]
        for gid, dcc in sorted(zip(ids, deltas), key=lambda x: x[1])[:10]:
            lines.append(f"{gid:>8d} {dcc:10.5f}" + ("  removed" if gid in bad else ""))
        log.info("\n".join(lines))
        if not len(bad):
            break
        rows = result.data.rows[np.isin(groups, bad)]
        n_removed = int(np.isin(groups, bad)[result.scaled].sum())
        if 100.0 * (removed_total + n_removed) / max(n_start, 1) > f.max_percent_removed:
            log.info(f"stopping: removing groups {bad.tolist()} would exceed max_percent_removed={f.max_percent_removed}")
            break
        removed_total += n_removed
        table.set_flags(rows, Flags.user_excluded_in_scaling)
        result = run_scaling(experiments, table, params)
    log.info(f"ΔCC½ filtering removed {removed_total} of {n_start} observations")
    return experiments, table, result
