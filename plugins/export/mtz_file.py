"""What every MTZ friedel writes shares: header, datasets, history, and an atomic write."""

from __future__ import annotations

import datetime
import os

import gemmi
import numpy as np

from friedel.io import atomic_write


def new_mtz(space_group: gemmi.SpaceGroup, unit_cell: gemmi.UnitCell, title: str) -> gemmi.Mtz:
    """An MTZ with the H K L base columns, the space group and the cell."""
    mtz = gemmi.Mtz(with_base=True)
    mtz.spacegroup = space_group
    mtz.set_cell_for_all(unit_cell)
    mtz.title = title
    try:
        from importlib.metadata import version

        v = version("friedel")
    except Exception:  # an uninstalled checkout has no metadata
        v = "dev"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d at %H:%M:%S UTC")
    mtz.history = [f"From friedel {v}, run on {now}"]
    return mtz


def add_dataset(mtz: gemmi.Mtz, project: str, crystal: str, dataset: str, wavelength: float,
                unit_cell: gemmi.UnitCell) -> gemmi.Mtz.Dataset:
    ds = mtz.add_dataset(dataset)
    ds.project_name = project
    ds.crystal_name = crystal
    ds.wavelength = float(wavelength)
    ds.cell = unit_cell
    return ds


def set_columns(mtz: gemmi.Mtz, columns: list[tuple[str, str, np.ndarray]], dataset_id: int | None = None) -> None:
    """Add the columns (label, MTZ type, values) after H K L and fill the data (float32).

    NaN is MTZ's missing-number flag and is kept as such.
    """
    did = -1 if dataset_id is None else int(dataset_id)
    for label, mtz_type, _ in columns:
        mtz.add_column(label, mtz_type, dataset_id=did)
    data = np.column_stack([np.asarray(v, dtype=np.float64) for _, _, v in columns]).astype(np.float32)
    mtz.set_data(data)


def write_mtz(mtz: gemmi.Mtz, path: str) -> None:
    """Write atomically: a failure leaves no half-written file."""
    mtz.update_reso()
    payload = mtz.write_to_bytes()
    with atomic_write(os.fspath(path), "wb") as handle:
        handle.write(payload)
