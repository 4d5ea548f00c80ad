"""Merged MTZ (``merged.mtz``): one dataset per wavelength group, CCP4 column types.

=====================================  =====  ======================================
columns                                type   when
=====================================  =====  ======================================
H K L                                  H      always
IMEAN SIGIMEAN                         J Q    always
I(+) SIGI(+) I(-) SIGI(-)              K M    anomalous
N(+) N(-)  (N without anomalous)       I      always
F SIGF                                 F Q    truncate
F(+) SIGF(+) F(-) SIGF(-)              G L    anomalous and truncate
DANO SIGDANO                           D Q    anomalous and truncate
=====================================  =====  ======================================

With several wavelength groups every column but H K L gets the suffix ``_WAVE<n>``.
"""

from __future__ import annotations

import gemmi
import numpy as np

from friedel.miller import hkl_key
from friedel.plugins.export.merge import MergedArrays
from friedel.plugins.export.mtz_file import add_dataset, new_mtz


def merged_columns(m: MergedArrays) -> list[tuple[str, str, np.ndarray]]:
    """(label, MTZ type, values) of one merged dataset, in the order they are written."""
    cols = [("IMEAN", "J", m.imean), ("SIGIMEAN", "Q", m.sigimean)]
    if m.anomalous:
        cols += [("I(+)", "K", m.i_plus), ("SIGI(+)", "M", m.sigi_plus),
                 ("I(-)", "K", m.i_minus), ("SIGI(-)", "M", m.sigi_minus),
                 ("N(+)", "I", m.n_plus), ("N(-)", "I", m.n_minus)]
    else:
        cols += [("N", "I", m.n)]
    if m.f is not None:
        cols += [("F", "F", m.f), ("SIGF", "Q", m.sigf)]
        if m.anomalous:
            cols += [("F(+)", "G", m.f_plus), ("SIGF(+)", "L", m.sigf_plus),
                     ("F(-)", "G", m.f_minus), ("SIGF(-)", "L", m.sigf_minus),
                     ("DANO", "D", m.dano), ("SIGDANO", "Q", m.sigdano)]
    return cols


def build_merged_mtz(groups: list[MergedArrays], wavelengths: list[float], space_group, unit_cell,
                     project: str = "FRIEDEL", crystal: str = "XTAL", dataset: str = "NATIVE") -> gemmi.Mtz:
    """One MTZ holding every wavelength group's merged data (rows: the union of their indices)."""
    mtz = new_mtz(space_group, unit_cell, "From friedel merge")
    all_hkl = np.unique(np.concatenate([g.hkl for g in groups]), axis=0)
    key = hkl_key(all_hkl)
    blocks = [all_hkl.astype(np.float64)]
    for n, (g, wl) in enumerate(zip(groups, wavelengths)):
        suffix = f"_WAVE{n + 1}" if len(groups) > 1 else ""
        ds = add_dataset(mtz, project, crystal, f"{dataset}{suffix}", wl,
                         unit_cell)
        rows = np.searchsorted(key, hkl_key(g.hkl))
        for label, mtz_type, values in merged_columns(g):
            mtz.add_column(label + suffix, mtz_type, dataset_id=ds.id)
            col = np.full(len(all_hkl), np.nan)
            col[rows] = values
            blocks.append(col)
    mtz.set_data(np.column_stack(blocks).astype(np.float32))
    mtz.sort(3)
    return mtz
