"""What every MTZ friedel writes shares: header, datasets, history, and an atomic write."""

from __future__ import annotations

import datetime
import os

import gemmi

from friedel.io import atomic_write


def new_mtz(space_group: gemmi.SpaceGroup, unit_cell: gemmi.UnitCell, title: str) -> gemmi.Mtz:
    """An MTZ with the space group and the cell, without datasets yet.

    No ``HKL_base`` dataset is made (as DIALS and CCP4 programs write them): readers such as
    reciprocalspaceship would otherwise take its wavelength, 0, for the file's. The first
    :func:`add_dataset` adds H K L to the first dataset.
    """
    mtz = gemmi.Mtz(with_base=False)
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
    first = len(mtz.datasets) == 0
    ds = mtz.add_dataset(dataset)
    if first:
        ds.id = 1  # CCP4 numbers datasets from 1 (0 is the base dataset); batches link to it
        for label in ("H", "K", "L"):
            mtz.add_column(label, "H", dataset_id=ds.id)
    ds.project_name = project
    ds.crystal_name = crystal
    ds.wavelength = float(wavelength)
    ds.cell = unit_cell
    return ds


def write_mtz(mtz: gemmi.Mtz, path: str) -> None:
    """Write atomically: a failure leaves no half-written file."""
    mtz.update_reso()
    payload = mtz.write_to_bytes()
    with atomic_write(os.fspath(path), "wb") as handle:
        handle.write(payload)
