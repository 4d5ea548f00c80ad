"""The closing summary of ``friedel process``: merging statistics, cell, space group, files, times.

The statistics are computed here from ``scaled.expt/.refl`` (DIALS's layout: the corrected,
unscaled ``intensity.scale.value`` divided by ``inverse_scale_factor``), so that the summary does
not depend on how the scaling step formats its own tables.
"""

from __future__ import annotations

import logging

import numpy as np

from friedel.flags import Flags

log = logging.getLogger("friedel")


def scaled_intensities(refl):
    """(hkl, I, variance) of the scaled observations that scaling kept (DIALS conventions)."""
    if "inverse_scale_factor" not in refl:
        raise ValueError("the reflections have no inverse_scale_factor column: they are not scaled")
    if "intensity.scale.value" in refl:
        value, variance = refl["intensity.scale.value"], refl["intensity.scale.variance"]
    else:
        value, variance = refl["intensity.prf.value"], refl["intensity.prf.variance"]
    g = refl["inverse_scale_factor"]
    keep = (g > 0) & np.isfinite(value) & (variance > 0)
    if "flags" in refl:
        flags = refl["flags"]
        keep &= (flags & Flags.bad_for_scaling) == 0
        if np.any(flags & Flags.scaled):
            keep &= (flags & Flags.scaled) != 0
    if "id" in refl:
        keep &= refl["id"] >= 0
    return refl["miller_index"][keep], (value / g)[keep], (variance / g**2)[keep]


def statistics_of_scaled(expt_path: str, refl_path: str, anomalous: bool, d_min: float | None = None):
    """Merging statistics of a scaled pair of files, or None (with a logged reason)."""
    from friedel.io import read_experiments, read_reflections
    from friedel.merging_statistics import merging_statistics

    try:
        experiments = read_experiments(expt_path)
        refl = read_reflections(refl_path)
        hkl, intensity, variance = scaled_intensities(refl)
        crystal = experiments.crystals[0]
        return merging_statistics(hkl, intensity, variance, crystal.space_group, crystal.unit_cell,
                                  anomalous=anomalous, n_bins=20, d_min=d_min)
    except (OSError, ValueError, KeyError, IndexError) as exc:
        log.info("(no merging statistics: %s)", exc)
        return None


def cell_and_space_group(expt_path: str) -> tuple[str, str]:
    from friedel.io import read_experiments

    crystal = read_experiments(expt_path).crystals[0]
    cell = " ".join(f"{v:.2f}" for v in crystal.unit_cell.parameters)
    return cell, crystal.space_group.xhm()


def timing_table(results) -> str:
    """Per-step wall time and memory high-water mark (of process and of its largest worker)."""
    lines = [f"  {'step':<28s}{'time (s)':>10s}{'peak MB':>9s}{'workers':>9s}  status"]
    for r in results:
        status = "skipped (up to date)" if r.skipped else ("ok" if r.ok else f"FAILED: {r.error}")
        memory = (f"{r.peak_rss_mb:9.0f}{r.peak_worker_rss_mb:9.0f}" if getattr(r, "peak_rss_mb", 0)
                  else f"{'':9s}{'':9s}")
        lines.append(f"  {r.folder:<28s}{r.seconds:10.1f}{memory}  {status}")
    lines.append(f"  {'total':<28s}{sum(r.seconds for r in results):10.1f}")
    return "\n".join(lines)
