"""Unmerged MTZ in CCP4 conventions (what pointless, aimless, careless and rs read).

H K L are in the reciprocal ASU with M/ISYM (symmetry number, odd for hkl and even for its
Friedel mate; M = 0, partials being combined), BATCH unique across experiments, one batch
header per image. Intensities come first as DIALS writes them: ``IPR SIGIPR`` (profile) then
``I SIGI`` for integrated data (careless takes the first J column), ``I SIGI SCALEUSED
SIGSCALEUSED`` for scaled data, then the measurement columns.
"""

from __future__ import annotations

import gemmi
import numpy as np

from friedel.contracts.export import UnmergedData
from friedel.miller import asu_mapping
from friedel.plugins.export.batches import make_batch_headers
from friedel.plugins.export.mtz_file import add_dataset, new_mtz

#: (label, MTZ type) of the optional columns, in the order they are written
COLUMN_ORDER = (
    ("IPR", "J"), ("SIGIPR", "Q"), ("I", "J"), ("SIGI", "Q"), ("SCALEUSED", "R"), ("SIGSCALEUSED", "R"),
    ("BG", "R"), ("SIGBG", "R"), ("FRACTIONCALC", "R"), ("XDET", "R"), ("YDET", "R"), ("ROT", "R"),
    ("LP", "R"), ("QE", "R"),
)


def dataset_names(data: UnmergedData) -> list[str]:
    """One dataset per wavelength group; several get a suffix (``FROMFRIEDEL_WL2``)."""
    if len(data.wavelengths) == 1:
        return [data.dataset_name]
    return [f"{data.dataset_name}_WL{i + 1}" for i in range(len(data.wavelengths))]


def build_unmerged_mtz(data: UnmergedData, experiment_rows=None) -> gemmi.Mtz:
    """The gemmi.Mtz of ``data`` (all experiments, or only ``experiment_rows``)."""
    if experiment_rows is not None:
        data = data.select(np.isin(data.experiment, list(experiment_rows)))
        ranges = [r for r in data.batch_ranges if r.experiment in set(experiment_rows)]
    else:
        ranges = list(data.batch_ranges)
    mtz = new_mtz(data.space_group, data.unit_cell, "From friedel export")
    names = dataset_names(data)
    for name, wl in zip(names, data.wavelengths):
        add_dataset(mtz, data.project_name, data.crystal_name, name, wl, data.unit_cell)
    mapping = asu_mapping(data.hkl, data.space_group)
    columns = [("H", None, mapping.hkl[:, 0]), ("K", None, mapping.hkl[:, 1]), ("L", None, mapping.hkl[:, 2]),
               ("M/ISYM", "Y", mapping.isym), ("BATCH", "B", data.batch)]
    columns += [(label, t, data.columns[label]) for label, t in COLUMN_ORDER if label in data.columns]
    # H K L exist already; the rest belong to the first wavelength dataset too (batch headers
    # link each image to its own wavelength's dataset)
    first_id = mtz.datasets[0].id
    for label, mtz_type, _ in columns[3:]:
        mtz.add_column(label, mtz_type, dataset_id=first_id)
    values = np.column_stack([np.asarray(v, dtype=np.float64) for _, _, v in columns]).astype(np.float32)
    mtz.set_data(values)
    dataset_ids = [mtz.datasets[g].id for g in data.dataset_of_experiment]
    for b in make_batch_headers(data.experiments, ranges, [dataset_ids[r.experiment] for r in ranges]):
        mtz.batches.append(b)
    mtz.sort(5)  # by H K L, M/ISYM, BATCH, as CCP4 programs write unmerged files
    return mtz


__all__ = ["build_unmerged_mtz", "COLUMN_ORDER"]
