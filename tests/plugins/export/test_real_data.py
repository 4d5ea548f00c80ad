"""Real files: DIALS-scaled l-cysteine (two sweeps) exported and merged; a xia2 merged MTZ re-derived."""

import gemmi
import numpy as np
import pytest

from friedel.cli.main import main
from friedel.flags import Flags
from friedel.io import read_experiments, read_reflections
from friedel.miller import asu_mapping
from friedel.plugins.export.batches import cambridge_frame, crystal_A_at
from friedel.models.crystal import cell_from_A
from friedel.plugins.export.french_wilson import french_wilson
from friedel.plugins.export.merge import merge_intensities

from .conftest import read_mtz_table


@pytest.fixture
def lcys(real_data, in_tmp_dir):
    folder = real_data / "scaled" / "l_cysteine"
    return str(folder / "scaled_20_25.expt"), str(folder / "scaled_20_25.refl")


def _kept(refl):
    return (~refl.get_flags(Flags.bad_for_scaling, all=False) & np.any(refl["miller_index"] != 0, axis=1)
            & (refl["partiality"] >= 0.4))


def test_lcysteine_unmerged_export(lcys):
    expt, refl_path = lcys
    assert main(["export", expt, refl_path]) == 0
    mtz, data, labels = read_mtz_table("scaled_unmerged.mtz")
    refl = read_reflections(refl_path)
    experiments = read_experiments(expt)
    sel = refl.select(_kept(refl))
    assert mtz.nreflections == len(sel)
    assert mtz.spacegroup.hm == "P 2 2 2"
    assert mtz.cell.parameters == pytest.approx((5.4815, 8.2158, 12.1457, 90, 90, 90), abs=2e-4)
    # two sweeps of 1800 and 1700 images: 1-1800 and the next epoch 1901-3600
    numbers = [b.number for b in mtz.batches]
    assert numbers == list(range(1, 1801)) + list(range(1901, 3601))
    b = mtz.batches[1800]
    floats = list(b.floats)
    assert floats[36] == pytest.approx(-145.0) and floats[37] == pytest.approx(-144.9)
    # per-image cell and orientation from the scan-varying model at the image centre
    A = crystal_A_at(experiments[1], 0.5)
    assert b.cell.parameters == pytest.approx(cell_from_A(A).parameters, abs=1e-3)
    U = np.array(floats[6:15]).reshape(3, 3).T
    assert np.allclose(U @ U.T, np.eye(3), atol=1e-5)
    # the Cambridge frame has the rotation axis along Z
    frame = cambridge_frame(experiments[0])
    assert np.allclose(frame @ experiments[0].goniometer.rotation_axis, [0, 0, 1])
    assert floats[38:41] == pytest.approx([0, 0, 1], abs=1e-6)
    # every observation decodes to its observed index and its image
    assert mtz.switch_to_original_hkl()
    back = np.array(mtz, copy=False)
    z = sel["xyzobs.px.value"][:, 2]
    batch = np.floor(z).astype(int) + 1 + np.where(sel["id"] == 1, 1900, 0)
    want = sorted(zip(map(tuple, sel["miller_index"].tolist()), batch.tolist()))
    got = sorted(zip(map(tuple, back[:, :3].astype(int).tolist()), back[:, 4].astype(int).tolist()))
    assert got == want


def test_lcysteine_merge(lcys):
    expt, refl_path = lcys
    assert main(["merge", expt, refl_path]) == 0
    mtz, data, labels = read_mtz_table("merged.mtz")
    refl = read_reflections(refl_path)
    sel = refl.select(_kept(refl))
    m = asu_mapping(sel["miller_index"], "P 2 2 2")
    assert mtz.nreflections == m.n_groups
    col = {name: data[:, labels.index(name)] for name in labels}
    assert np.nansum(col["N(+)"]) + np.nansum(col["N(-)"]) == len(sel)
    # IMEAN is the inverse-variance mean of the scaled observations of each reflection
    g = sel["inverse_scale_factor"]
    i = sel["intensity.scale.value"] / g
    w = g * g / sel["intensity.scale.variance"]
    mean = np.bincount(m.group, w * i) / np.bincount(m.group, w)
    order = np.lexsort(m.unique_hkl.T[::-1])
    assert np.allclose(col["IMEAN"], mean[order], rtol=1e-5)
    # F(+) = sqrt(I(+)) where strong (F is the mean of F(+) and F(-), not sqrt(IMEAN))
    strong = col["I(+)"] / col["SIGI(+)"] > 20
    assert np.allclose(col["F(+)"][strong], np.sqrt(col["I(+)"][strong]), rtol=0.02)
    centric = m.centric[np.unique(m.group, return_index=True)[1]][order]
    assert np.all(np.isnan(col["I(-)"][centric]))  # centric reflections are I(+) only


def test_xia2_merged_mtz_reproduced(real_data):
    """The anomalous halves of a xia2/DIALS merged file merge back to its IMEAN/SIGIMEAN."""
    mtz = gemmi.read_mtz_file(str(real_data / "merged" / "x4wide" / "AUTOMATIC_DEFAULT_scaled.mtz"))
    assert mtz.spacegroup.hm == "P 41 21 2" and mtz.nreflections == 11804
    data = np.array(mtz, copy=False)
    labels = mtz.column_labels()
    col = {name: data[:, labels.index(name)] for name in labels}
    hkl = data[:, :3].astype(int)
    p, q = np.isfinite(col["I(+)"]), np.isfinite(col["I(-)"])
    merged = merge_intensities(np.concatenate([hkl[p], -hkl[q]]), np.concatenate([col["I(+)"][p], col["I(-)"][q]]),
                               np.concatenate([col["SIGI(+)"][p], col["SIGI(-)"][q]]) ** 2, mtz.spacegroup, mtz.cell,
                               anomalous=True)
    assert len(merged) == mtz.nreflections
    assert np.array_equal(merged.hkl, hkl)  # both sorted by H, K, L
    assert np.allclose(merged.imean, col["IMEAN"], rtol=1e-4, atol=1e-3)
    assert np.allclose(merged.sigimean, col["SIGIMEAN"], rtol=1e-4)
    assert np.allclose(merged.i_plus[p], col["I(+)"][p]) and np.allclose(merged.i_minus[q], col["I(-)"][q])
    # centric reflections only have I(+)
    assert not np.any(q & merged.centric)
    # amplitudes of its intensities: positive, sqrt(I) where strong
    fw = french_wilson(col["IMEAN"], col["SIGIMEAN"], merged.d, merged.centric, merged.epsilon)
    assert fw.accepted.mean() > 0.99 and np.all(fw.F[fw.accepted] > 0)
    strong = col["IMEAN"] / col["SIGIMEAN"] > 20
    # (the Wilson prior takes sigma^2/Sigma off I: up to 1-2% of F where a shell is weak on average)
    assert np.allclose(fw.F[strong], np.sqrt(col["IMEAN"][strong]), rtol=0.02)


def test_stills_get_one_batch_each(real_data, in_tmp_dir):
    """Serial crystallography (DIALS-integrated CuNiR stills): batch k for still k, in the
    reflections and in the headers alike."""
    folder = real_data / "integrated" / "ssx_CuNiR"
    assert main(["export", str(folder / "integrated.expt"), str(folder / "integrated.refl")]) == 0
    mtz = gemmi.read_mtz_file("integrated.mtz")
    experiments = read_experiments(str(folder / "integrated.expt"))
    numbers = [b.number for b in mtz.batches]
    assert numbers == list(range(1, len(experiments) + 1))
    batch = np.array(mtz, copy=False)[:, mtz.column_labels().index("BATCH")].astype(int)
    assert set(batch) == set(numbers)
    refl = read_reflections(str(folder / "integrated.refl"))
    mtz.switch_to_original_hkl()
    back = np.array(mtz, copy=False)
    # every row decodes to an observed index of the still its batch names
    observed = {(int(i), tuple(h)) for i, h in zip(refl["id"], refl["miller_index"].tolist())}
    assert all((b - 1, tuple(h)) in observed for b, h in zip(batch.tolist(), back[:, :3].astype(int).tolist()))


def test_split_partials_are_combined(real_data, in_tmp_dir):
    """DIALS-integrated quartz electron diffraction has reflections split across blocks."""
    folder = real_data / "integrated" / "quartz_ED"
    refl = read_reflections(str(folder / "integrated.refl"))
    assert main(["export", str(folder / "integrated.expt"), str(folder / "integrated.refl")]) == 0
    mtz, data, labels = read_mtz_table("integrated.mtz")
    both = refl.get_flags(Flags.integrated_sum | Flags.integrated_prf)
    pid = refl["partial_id"][both]
    assert len(pid) > len(np.unique(pid))  # the file does have split reflections
    assert mtz.nreflections <= len(np.unique(pid))
    frac = data[:, labels.index("FRACTIONCALC")]
    assert np.all(frac >= 0.4 - 1e-6) and np.all(frac <= 1 + 1e-6)
