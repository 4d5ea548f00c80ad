"""From a reflection table to the unmerged observations every exporter and ``merge`` write.

Which intensity (``intensity=scale|profile|sum|profile+sum|auto``), which rows (flags,
positive variances, partiality, I/sigma floor, resolution) and which corrections (LP and QE
for integrated intensities, the inverse scale factor for scaled ones) are decided here, once.
"""

from __future__ import annotations

import logging

import gemmi
import numpy as np

from friedel.contracts.export import UnmergedData
from friedel.errors import FriedelError
from friedel.flags import Flags
from friedel.plugins.export.batches import assign_batch_ranges, batch_numbers
from friedel.plugins.export.partials import combine_partials as _combine_partials

log = logging.getLogger("friedel")

INTENSITY_CHOICES = ("auto", "scale", "profile", "sum", "profile+sum", "best")


def is_scaled(reflections) -> bool:
    return "intensity.scale.value" in reflections and "inverse_scale_factor" in reflections


def resolve_intensity_choice(choice: str, reflections) -> str:
    """The intensity ``auto`` means for this table: ``scale`` if scaled, else profile+sum, else sum."""
    if choice not in INTENSITY_CHOICES:
        raise FriedelError(f"intensity={choice} is not one of {', '.join(INTENSITY_CHOICES)}")
    if choice != "auto":
        return choice
    if is_scaled(reflections):
        return "scale"
    has_prf = "intensity.prf.value" in reflections and np.any(reflections.get_flags(Flags.integrated_prf))
    has_sum = "intensity.sum.value" in reflections and np.any(reflections.get_flags(Flags.integrated_sum))
    if has_prf and has_sum:
        return "profile+sum"
    if has_prf:
        return "profile"
    if has_sum:
        return "sum"
    raise FriedelError("the reflections hold no integrated intensities: run friedel integrate (and scale) first")


def wavelength_groups(experiments, tolerance: float = 1e-4) -> tuple[list[int], list[float]]:
    """Group experiments whose wavelengths agree within ``tolerance`` (Angstrom).

    Returns the group of each experiment and the mean wavelength of each group, in order of
    first appearance.
    """
    groups: list[int] = []
    sums: list[float] = []
    counts: list[int] = []
    for expt in experiments:
        wl = float(expt.beam.wavelength)
        for g in range(len(sums)):
            if abs(sums[g] / counts[g] - wl) <= tolerance:
                groups.append(g)
                sums[g] += wl
                counts[g] += 1
                break
        else:
            groups.append(len(sums))
            sums.append(wl)
            counts.append(1)
    return groups, [s / c for s, c in zip(sums, counts)]


def file_space_group(experiments) -> gemmi.SpaceGroup:
    """The one space group of all the crystals (an error if they disagree)."""
    groups = {tuple(sorted(op.triplet() for op in e.crystal.space_group_ops)) for e in experiments}
    if len(groups) > 1:
        names = sorted({e.crystal.space_group_symbol for e in experiments})
        raise FriedelError(f"the experiments are in different space groups ({', '.join(names)}): "
                           "run friedel symmetry or cosym on them together first")
    sg = experiments[0].crystal.space_group
    if sg is None:
        raise FriedelError(f"space group {experiments[0].crystal.space_group_symbol} is not a tabulated setting; "
                           "reindex to a standard setting before exporting")
    return sg


def median_cell(experiments) -> gemmi.UnitCell:
    """Median of the experiments' cells (each parameter separately), as the file cell."""
    cells = np.array([e.crystal.unit_cell.parameters for e in experiments])
    return gemmi.UnitCell(*np.median(cells, axis=0))


def _qe(reflections) -> np.ndarray:
    for name in ("qe", "dqe"):
        if name in reflections:
            return np.asarray(reflections[name], dtype=float)
    return np.ones(len(reflections))


def _experiments_with_crystals(experiments, reflections) -> None:
    ids = np.asarray(reflections["id"])
    used = [i for i in np.unique(ids) if 0 <= i < len(experiments)]
    missing = [i for i in used if experiments[i].crystal is None]
    if missing:
        raise FriedelError(f"experiment(s) {missing} have no crystal model: export needs indexed experiments")


def select_observations(experiments, reflections, intensity: str = "auto", partiality_threshold: float = 0.4,
                        min_isigi: float | None = -5.0, d_min: float | None = None, d_max: float | None = None,
                        unit_cell=None, wavelength_tolerance: float = 1e-4, project_name: str = "FRIEDEL",
                        crystal_name: str = "XTAL", dataset_name: str = "FROMFRIEDEL",
                        combine_partials: bool = True) -> UnmergedData:
    """Choose, correct and number the observations to write.

    Parameters
    ----------
    experiments, reflections
        Integrated or scaled experiments and reflections (DIALS columns).
    intensity
        ``auto`` (scaled if the table is scaled, else profile+sum, else what exists),
        ``scale``, ``profile``, ``sum`` or ``profile+sum``.
    partiality_threshold
        Observations whose (combined) partiality is below this are left out.
    min_isigi
        Rows with any written intensity below this I/sigma are left out (None: keep all).
    d_min, d_max
        Resolution limits (Angstrom).
    unit_cell
        The file cell (6 numbers); default the median of the experiments' cells.
    combine_partials
        Merge the parts of reflections split across integration blocks (same ``partial_id``)
        before anything else (integrated intensities only).
    """
    if len(reflections) == 0:
        raise FriedelError("the reflection table is empty: nothing to export")
    if "miller_index" not in reflections:
        raise FriedelError("the reflections have no miller_index column: index and integrate them first")
    kind = resolve_intensity_choice(intensity, reflections)
    _experiments_with_crystals(experiments, reflections)
    n_combined = 0
    if combine_partials and kind != "scale":  # scaling has already dealt with the parts
        needed = {"profile": Flags.integrated_prf, "sum": Flags.integrated_sum, "best": Flags.integrated,
                  "profile+sum": Flags.integrated_prf | Flags.integrated_sum}[kind]
        reflections, _, n_combined = _combine_partials(reflections,
                                                       reflections.get_flags(needed, all=kind != "best"))
    ids = np.asarray(reflections["id"])
    n = len(reflections)
    keep = (ids >= 0) & (ids < len(experiments))
    hkl = np.asarray(reflections["miller_index"], dtype=np.int32)
    reasons: dict[str, int] = {}
    if not np.all(keep):
        reasons["not assigned to an experiment"] = int(np.count_nonzero(~keep))
    unindexed = keep & ~np.any(hkl != 0, axis=1)
    if np.any(unindexed):
        reasons["not indexed"] = int(unindexed.sum())
    keep &= np.any(hkl != 0, axis=1)

    def drop(mask, why):
        lost = keep & ~mask
        if np.any(lost):
            reasons[why] = reasons.get(why, 0) + int(np.count_nonzero(lost))
        return keep & mask

    columns: dict[str, np.ndarray] = {}
    lp = np.asarray(reflections["lp"], dtype=float) if "lp" in reflections else np.ones(n)
    if "lp" not in reflections and kind != "scale":
        log.warning("Warning: the reflections have no lp column: integrated intensities are written "
                    "without the Lorentz-polarisation correction")
    qe = _qe(reflections)
    with np.errstate(divide="ignore", invalid="ignore"):
        correction = lp / qe
    partiality = np.asarray(reflections["partiality"], dtype=float) if "partiality" in reflections else np.ones(n)

    def profile_columns():
        for col in ("intensity.prf.value", "intensity.prf.variance"):
            if col not in reflections:
                raise FriedelError(f"intensity={kind} needs the column {col}; choose intensity=sum")
        value = np.asarray(reflections["intensity.prf.value"], dtype=float) * correction
        var = np.asarray(reflections["intensity.prf.variance"], dtype=float) * correction**2
        return value, var

    def sum_columns():
        for col in ("intensity.sum.value", "intensity.sum.variance"):
            if col not in reflections:
                raise FriedelError(f"intensity={kind} needs the column {col}")
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = correction / partiality
        value = np.asarray(reflections["intensity.sum.value"], dtype=float) * scale
        var = np.asarray(reflections["intensity.sum.variance"], dtype=float) * scale**2
        return value, var

    written = []  # (value, variance) pairs subject to the variance and I/sigma checks
    if kind == "scale":
        if not is_scaled(reflections):
            raise FriedelError("intensity=scale needs scaled reflections (intensity.scale.value and "
                               "inverse_scale_factor): run friedel scale first, or choose intensity=profile|sum")
        keep = drop(~reflections.get_flags(Flags.bad_for_scaling, all=False), "excluded or outliers in scaling")
        g = np.asarray(reflections["inverse_scale_factor"], dtype=float)
        keep = drop(g > 0, "non-positive inverse scale factor")
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.asarray(reflections["intensity.scale.value"], dtype=float) / g
            var = np.asarray(reflections["intensity.scale.variance"], dtype=float) / g**2
        columns["I"], columns["SIGI"] = value, np.sqrt(np.maximum(var, 0.0))
        written.append((value, var))
        columns["SCALEUSED"] = g
        if "inverse_scale_factor_variance" in reflections:
            columns["SIGSCALEUSED"] = np.sqrt(np.maximum(np.asarray(reflections["inverse_scale_factor_variance"],
                                                                    dtype=float), 0.0))
    else:
        if kind in ("profile", "profile+sum"):
            keep = drop(reflections.get_flags(Flags.integrated_prf), "profile fitting failed")
        if kind in ("sum", "profile+sum"):
            keep = drop(reflections.get_flags(Flags.integrated_sum), "summation failed")
        if kind == "best":
            keep = drop(reflections.get_flags(Flags.integrated, all=False), "not integrated")
        if kind == "best":  # one intensity: profile-fitted where fitting worked, else summation
            has_prf = reflections.get_flags(Flags.integrated_prf)
            if "intensity.prf.value" not in reflections:
                has_prf = np.zeros(n, dtype=bool)
            pv, pvar = profile_columns() if np.any(has_prf) else (np.zeros(n), np.zeros(n))
            sv, svar = sum_columns() if "intensity.sum.value" in reflections else (np.zeros(n), np.zeros(n))
            value, var = np.where(has_prf, pv, sv), np.where(has_prf, pvar, svar)
            columns["I"], columns["SIGI"] = value, np.sqrt(np.maximum(var, 0.0))
            written.append((value, var))
        elif kind == "profile":
            value, var = profile_columns()
            columns["I"], columns["SIGI"] = value, np.sqrt(np.maximum(var, 0.0))
            written.append((value, var))
        else:
            if kind == "profile+sum":  # CCP4 convention: IPR profile-fitted, I summation
                pv, pvar = profile_columns()
                columns["IPR"], columns["SIGIPR"] = pv, np.sqrt(np.maximum(pvar, 0.0))
                written.append((pv, pvar))
            sv, svar = sum_columns()
            columns["I"], columns["SIGI"] = sv, np.sqrt(np.maximum(svar, 0.0))
            written.append((sv, svar))
        keep = drop(np.isfinite(correction) & (correction > 0), "no LP/QE correction")
    for value, var in written:
        keep = drop(np.isfinite(value) & np.isfinite(var) & (var > 0), "non-positive variance")
        if min_isigi is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                keep = drop(~(value / np.sqrt(var) < min_isigi), f"I/sigma < {min_isigi:g}")
    keep = drop(partiality >= partiality_threshold, f"partiality < {partiality_threshold:g}")

    # the measurement's other columns, as CCP4 programs (and careless) read them
    if "background.sum.value" in reflections:
        columns["BG"] = np.asarray(reflections["background.sum.value"], dtype=float)
        if "background.sum.variance" in reflections:
            columns["SIGBG"] = np.sqrt(np.maximum(np.asarray(reflections["background.sum.variance"], dtype=float), 0))
    columns["FRACTIONCALC"] = partiality
    if "xyzobs.px.value" in reflections:
        xyz = np.asarray(reflections["xyzobs.px.value"], dtype=float)
        columns["XDET"], columns["YDET"] = xyz[:, 0], xyz[:, 1]
    if "xyzcal.px" in reflections:
        zcal = np.asarray(reflections["xyzcal.px"], dtype=float)[:, 2]
        # phi = start + (z - first frame) * width, from per-experiment tables indexed by id
        scans = [e.scan for e in experiments]
        start = np.array([s.oscillation[0] if s is not None else 0.0 for s in scans])
        width = np.array([s.oscillation[1] if s is not None else 0.0 for s in scans])
        frame0 = np.array([s.array_range[0] if s is not None else 0.0 for s in scans])
        i = np.clip(ids, 0, len(experiments) - 1)
        columns["ROT"] = np.where(ids >= 0, start[i] + (zcal - frame0[i]) * width[i], 0.0)
    columns["LP"] = lp
    columns["QE"] = qe

    space_group = file_space_group(experiments)
    cell = gemmi.UnitCell(*unit_cell) if unit_cell is not None else median_cell(experiments)
    if d_min is not None or d_max is not None:
        d = np.asarray(cell.calculate_d_array(np.ascontiguousarray(hkl)), dtype=float)
        if d_min is not None:
            keep = drop(d >= d_min, f"d < d_min={d_min:g}")
        if d_max is not None:
            keep = drop(d <= d_max, f"d > d_max={d_max:g}")
    if not np.any(keep):
        detail = "; ".join(f"{v} {k}" for k, v in reasons.items())
        raise FriedelError(f"no reflections left to export with intensity={kind} ({detail or 'none selected'})")

    ranges = assign_batch_ranges(experiments)
    batch = batch_numbers(reflections, experiments, ranges)
    groups, wavelengths = wavelength_groups(experiments, wavelength_tolerance)
    rows = np.flatnonzero(keep)
    if n_combined:
        log.info(f"Combined partials: {n_combined} parts added to the rows of their reflections")
    log.info(f"Selected {len(rows)} of {n} reflections ({kind} intensities)")
    for why, count in reasons.items():
        log.info(f"  {count} left out: {why}")
    return UnmergedData(
        experiments=experiments, space_group=space_group, unit_cell=cell, hkl=hkl[rows],
        experiment=ids[rows].astype(np.int64), batch=batch[rows], batch_ranges=ranges,
        dataset=np.asarray(groups, dtype=np.int64)[ids[rows]], wavelengths=wavelengths,
        dataset_of_experiment=groups, intensity_kind=kind,
        columns={k: np.asarray(v, dtype=float)[rows] for k, v in columns.items()},
        project_name=project_name, crystal_name=crystal_name, dataset_name=dataset_name,
    )
