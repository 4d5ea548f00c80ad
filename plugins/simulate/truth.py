"""The truth written beside simulated images, so that every later step can be scored.

Files (all in the output directory, each written atomically):

``truth.expt``
    The true models: one experiment per lattice (beam, detector, goniometer, scan, crystal
    with the true orientation, cell and space group), image set pointing at the images.
    With ``physics.crystal_drift`` or ``cell_drift`` the crystal also holds the true A at
    every image boundary (``A_at_scan_points``, n_images + 1, DIALS's layout) and its
    static A is the model at mid-sweep.
``header.expt``
    The models as an importer reading the image headers should find them (no crystal);
    they differ from the truth by ``header_error`` (distance, beam centre).
``truth_reflections.refl``
    One row per predicted reflection (all lattices): ``miller_index, id, panel, s1,
    xyzcal.mm, xyzcal.px`` (true centroid; z = frame of the diffraction angle), ``d,
    entering, flags``, ``intensity.true.value`` (true I of that hkl, Bijvoet mate
    aware), ``lp`` (L/P: multiply raw counts by it), ``lorentz, polarization, sigma_phi``
    (rocking width, radians), ``partiality`` (fraction of the rocking curve inside the
    scan), ``counts.full`` (expected photons of the full reflection at scale 1 without
    damage), ``counts.expected`` (expected photons actually recorded, summed over
    images, including scale drift and damage) and ``spot.covariance.px`` (xx, xy, yy).
``truth_partials.npz``
    The per-image split: arrays ``reflection`` (row in truth_reflections.refl),
    ``image`` (1-based image number), ``fraction`` (of the rocking curve on that image)
    and ``counts`` (expected photons on that image).
``truth_intensities.mtz``
    True intensities of every unique reflection to d_min (gemmi's reciprocal ASU):
    columns ``IMEAN, I(+), I(-)``, ``CENTRIC`` (1/0) and ``EPSILON``. Symmetry mates
    have exactly these values; systematic absences are absent (zero).
``truth.json``
    Parameters after the preset, the true cells and U matrices (and, for a drifting
    crystal, ``U_at_scan_points`` and ``unit_cell_at_scan_points``), per-image scale and
    radiation-damage B, per-image statistics, and the lp / counts conventions.
"""

from __future__ import annotations

import io
import json
import os

import attrs
import gemmi
import numpy as np

from friedel.io import atomic_write, write_experiments, write_reflections


def _params_dict(params) -> dict:
    def convert(obj):
        if attrs.has(type(obj)):
            return {f.name: convert(getattr(obj, f.name)) for f in attrs.fields(type(obj))}
        if isinstance(obj, tuple):
            return list(obj)
        return obj

    return convert(params)


def write_intensities_mtz(intensities, path: str) -> None:
    """True intensities of the unique reflections as a merged MTZ (gemmi)."""
    mtz = gemmi.Mtz(with_base=True)
    mtz.spacegroup = intensities.space_group
    mtz.set_cell_for_all(intensities.cell)
    mtz.add_dataset("truth")
    for label, kind in (("IMEAN", "J"), ("I(+)", "K"), ("I(-)", "K"), ("CENTRIC", "I"), ("EPSILON", "I")):
        mtz.add_column(label, kind)
    data = np.column_stack([
        intensities.hkl, intensities.i_mean, intensities.i_plus, intensities.i_minus,
        intensities.centric.astype(float), intensities.epsilon,
    ]).astype(np.float32)
    mtz.set_data(data)
    mtz.history = ["friedel simulate: true intensities (Wilson statistics)"]
    with atomic_write(path) as handle:
        handle.write(bytes(mtz.write_to_bytes()))


def read_intensities_mtz(path: str) -> dict:
    """``{"hkl", "IMEAN", "I(+)", "I(-)", "CENTRIC", "EPSILON"}`` arrays from a truth MTZ."""
    mtz = gemmi.read_mtz_file(path)
    arr = np.array(mtz, copy=False)
    labels = mtz.column_labels()
    out = {"hkl": arr[:, :3].astype(np.int32), "space_group": mtz.spacegroup.xhm(),
           "cell": mtz.cell.parameters}
    for name in ("IMEAN", "I(+)", "I(-)", "CENTRIC", "EPSILON"):
        out[name] = arr[:, labels.index(name)].astype(float)
    return out


def _scan_points(crystal) -> dict:
    """The drifting crystal's true U and cell at every image boundary (empty when static)."""
    if crystal.A_at_scan_points is None:
        return {}
    return {"U_at_scan_points": crystal.U_at_scan_points().tolist(),
            "unit_cell_at_scan_points": [list(crystal.unit_cell_at_scan_point(i).parameters)
                                         for i in range(crystal.num_scan_points)]}


def write_truth(sweep, directory: str, stats: list[dict]) -> list[str]:
    """Write every truth file for ``sweep``; returns the file names."""
    p = sweep.params
    write_experiments(sweep.truth, os.path.join(directory, "truth.expt"))
    write_experiments(sweep.header, os.path.join(directory, "header.expt"))
    write_reflections(sweep.reflections, os.path.join(directory, "truth_reflections.refl"))
    part = sweep.partials
    buffer = io.BytesIO()
    np.savez_compressed(buffer, reflection=part["row"].astype(np.int64), image=part["image"].astype(np.int32) + 1,
                        fraction=part["fraction"], counts=part["counts"])
    with atomic_write(os.path.join(directory, "truth_partials.npz")) as handle:
        handle.write(buffer.getvalue())
    write_intensities_mtz(sweep.intensities, os.path.join(directory, "truth_intensities.mtz"))
    summary = {
        "generator": "friedel simulate",
        "preset": p.preset,
        "parameters": _params_dict(p),
        "lattices": [
            {"id": i, "identifier": e.identifier, "unit_cell": list(e.crystal.unit_cell.parameters),
             "space_group": e.crystal.space_group_symbol, "U": e.crystal.U.tolist(), "A": e.crystal.A.tolist(),
             **_scan_points(e.crystal)}
            for i, e in enumerate(sweep.truth)
        ],
        "header_error": {"distance_mm": p.header_error.distance, "beam_centre_px": list(p.header_error.beam_centre)},
        "per_image": {
            "scale": sweep.scales.tolist(),
            "extra_b": sweep.b_factors.tolist(),
            "n_overloaded": [s["n_overloaded"] for s in stats],
            "mean_counts": [s["mean_counts"] for s in stats],
        },
        "count_cutoff": sweep.count_cutoff,
        "conventions": {
            "counts": "expected photons on image n = counts.full * fraction_n * scale_n * exp(-extra_b_n / (2 d^2))",
            "counts.full": "intensity_scale * lattice_scale * I_true * P / L",
            "lp": "L / P; raw counts * lp / (partiality * scale) estimates intensity_scale * I_true",
            "pixels": "first pixel spans [0, 1): its centre is (0.5, 0.5); z: image n spans [n-1, n)",
        },
    }
    with atomic_write(os.path.join(directory, "truth.json"), "w") as handle:
        json.dump(summary, handle, indent=1)
    return ["truth.expt", "header.expt", "truth_reflections.refl", "truth_partials.npz",
            "truth_intensities.mtz", "truth.json"]
