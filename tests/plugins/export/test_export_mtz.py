"""friedel export: unmerged MTZ read back by gemmi, batches, intensity choices, other formats."""

import gemmi
import numpy as np
import pytest

from friedel.cli.main import main
from friedel.flags import Flags
from friedel.io import read_reflections, write_experiments, write_reflections
from friedel.plugins.export.batches import BatchRange, _next_epoch, assign_batch_ranges

from .conftest import read_mtz_table, scaled_like


def _batch_of(reflections, offsets):
    z = reflections["xyzobs.px.value"][:, 2]
    return np.floor(z).astype(int) + 1 + np.asarray(offsets)[reflections["id"]]


def test_scaled_export_reads_back(tiny_files):
    assert main(["export", "scaled.expt", "scaled.refl"]) == 0
    mtz, data, labels = read_mtz_table("scaled_unmerged.mtz")
    types = {c.label: c.type for c in mtz.columns}
    assert types == {"H": "H", "K": "H", "L": "H", "M/ISYM": "Y", "BATCH": "B", "I": "J", "SIGI": "Q",
                     "SCALEUSED": "R", "SIGSCALEUSED": "R", "FRACTIONCALC": "R", "XDET": "R", "YDET": "R",
                     "ROT": "R", "LP": "R", "QE": "R"}
    refl = read_reflections("scaled.refl")
    keep = refl["partiality"] >= 0.4
    assert mtz.nreflections == int(keep.sum())
    assert mtz.spacegroup.hm == "P 43 21 2"
    assert mtz.cell.parameters == pytest.approx((79.1, 79.1, 38.0, 90, 90, 90), abs=1e-3)
    assert len(mtz.batches) == 10 and [b.number for b in mtz.batches] == list(range(1, 11))
    assert mtz.datasets[0].wavelength == pytest.approx(1.0, rel=0.5)
    # M/ISYM decodes (gemmi) to the indices as observed, on their images
    assert mtz.switch_to_original_hkl()
    back = np.array(mtz, copy=False)
    got = sorted(zip(map(tuple, back[:, :3].astype(int).tolist()), back[:, 4].astype(int).tolist()))
    sel = refl.select(keep)
    want = sorted(zip(map(tuple, sel["miller_index"].tolist()), _batch_of(sel, [0]).tolist()))
    assert got == want
    # I = scaled intensity / inverse scale factor
    order = np.lexsort((back[:, 4], back[:, 2], back[:, 1], back[:, 0]))
    i_col = back[order, labels.index("I")]
    key = np.lexsort((_batch_of(sel, [0]), sel["miller_index"][:, 2], sel["miller_index"][:, 1],
                      sel["miller_index"][:, 0]))
    expected = (sel["intensity.scale.value"] / sel["inverse_scale_factor"])[key]
    assert np.allclose(i_col, expected, rtol=1e-5)


def test_batch_headers(tiny_files):
    assert main(["export", "scaled.expt", "scaled.refl", "mtz.hklout=out.mtz"]) == 0
    mtz = gemmi.read_mtz_file("out.mtz")
    b = mtz.batches[3]
    floats = list(b.floats)
    assert b.dataset_id == mtz.datasets[0].id == 1
    assert floats[36] == pytest.approx(1.5) and floats[37] == pytest.approx(2.0) and floats[47] == pytest.approx(0.5)
    assert b.cell.parameters == pytest.approx((79.1, 79.1, 38.0, 90, 90, 90), abs=1e-3)
    U = np.array(floats[6:15]).reshape(3, 3).T
    assert np.allclose(U @ U.T, np.eye(3), atol=1e-5)
    assert floats[43] == 1.0 and floats[86] == pytest.approx(mtz.datasets[0].wavelength)
    assert floats[114] == 487 and floats[116] == 619  # PILATUS 300K
    assert list(b.ints)[14] == 2


def test_integrated_export_profile_and_sum(tiny_files):
    assert main(["export", "integrated.expt", "integrated.refl"]) == 0
    mtz, data, labels = read_mtz_table("integrated.mtz")
    assert labels[:9] == ["H", "K", "L", "M/ISYM", "BATCH", "IPR", "SIGIPR", "I", "SIGI"]
    assert [c.type for c in mtz.columns][5:9] == ["J", "Q", "J", "Q"]
    refl = read_reflections("integrated.refl")
    keep = refl.get_flags(Flags.integrated_sum | Flags.integrated_prf) & (refl["partiality"] >= 0.4)
    assert mtz.nreflections == int(keep.sum())
    sel = refl.select(keep)
    corr = sel["lp"] / sel["qe"]
    # the totals of the corrected intensities survive (rows are sorted in the file)
    assert data[:, labels.index("IPR")].sum() == pytest.approx((sel["intensity.prf.value"] * corr).sum(), rel=1e-5)
    assert data[:, labels.index("I")].sum() == pytest.approx(
        (sel["intensity.sum.value"] * corr / sel["partiality"]).sum(), rel=1e-5)
    assert main(["export", "integrated.expt", "integrated.refl", "intensity=sum", "mtz.hklout=sum.mtz",
                 "partiality_threshold=0.99"]) == 0
    mtz = gemmi.read_mtz_file("sum.mtz")
    assert "IPR" not in mtz.column_labels()
    assert mtz.nreflections == int((refl.get_flags(Flags.integrated_sum) & (refl["partiality"] >= 0.99)).sum())


def test_two_lattices_get_separate_batches(in_tmp_dir, two_lattices):
    experiments, reflections = scaled_like(*two_lattices)
    write_experiments(experiments, "two.expt")
    write_reflections(reflections, "two.refl")
    assert main(["export", "two.expt", "two.refl"]) == 0
    mtz = gemmi.read_mtz_file("scaled_unmerged.mtz")
    numbers = [b.number for b in mtz.batches]
    assert numbers == list(range(1, 7)) + list(range(101, 107))  # 1-6 and the next epoch, 101-106
    batch = np.array(mtz, copy=False)[:, 4].astype(int)
    assert set(np.unique(batch)) <= set(numbers)
    # each lattice's reflections carry its own batches: decode and compare per lattice
    assert mtz.switch_to_original_hkl()
    back = np.array(mtz, copy=False)
    keep = reflections["partiality"] >= 0.4
    sel = reflections.select(keep)
    want = sorted(zip(map(tuple, sel["miller_index"].tolist()), _batch_of(sel, [0, 100]).tolist()))
    got = sorted(zip(map(tuple, back[:, :3].astype(int).tolist()), back[:, 4].astype(int).tolist()))
    assert got == want
    # one file per experiment: the offsets are the same, so the files can be combined as they are
    assert main(["export", "two.expt", "two.refl", "mtz.per_experiment=True", "mtz.hklout=lattice.mtz"]) == 0
    first, second = gemmi.read_mtz_file("lattice_0.mtz"), gemmi.read_mtz_file("lattice_1.mtz")
    assert [b.number for b in first.batches] == list(range(1, 7))
    assert [b.number for b in second.batches] == list(range(101, 107))
    assert first.nreflections + second.nreflections == int(keep.sum())


def test_batch_offset_rules():
    assert _next_epoch(900) == 1001 and _next_epoch(3600) == 3701 and _next_epoch(999) == 1001
    assert _next_epoch(950) == 1001

    class Scan:
        def __init__(self, first, last, offset=0):
            self.image_range, self.batch_offset = (first, last), offset

    class Expt:
        def __init__(self, *args):
            self.scan = Scan(*args)

    ranges = assign_batch_ranges([Expt(1, 900), Expt(1, 900), Expt(1901, 2000), Expt(0, 9)])
    assert [(r.first, r.last) for r in ranges] == [(1, 900), (1001, 1900), (2001, 2100), (2201, 2210)]
    assert ranges[0] == BatchRange(0, 1, 900, 0)
    # separate sweeps keep their own numbers
    ranges = assign_batch_ranges([Expt(1, 50), Expt(101, 150), Expt(1, 10, 500)])
    assert [(r.first, r.last) for r in ranges] == [(1, 50), (101, 150), (501, 510)]


def test_shelx_and_mmcif(tiny_files):
    assert main(["export", "scaled.expt", "scaled.refl", "format=shelx"]) == 0
    lines = open("friedel.hkl").read().splitlines()
    refl = read_reflections("scaled.refl")
    assert len(lines) == int((refl["partiality"] >= 0.4).sum()) + 1
    assert lines[-1].split() == ["0", "0", "0", "0.00", "0.00"]
    assert all(len(line) == 28 for line in lines)
    h, k, l = (int(lines[0][i:i + 4]) for i in (0, 4, 8))
    assert (h, k, l) in set(map(tuple, refl["miller_index"].tolist()))  # observed, not ASU, indices
    assert main(["export", "scaled.expt", "scaled.refl", "format=mmcif"]) == 0
    doc = gemmi.cif.read("scaled.cif")
    block = doc[0]
    assert len(block.find_loop("_diffrn_refln.index_h")) == len(lines) - 1


def test_bad_input(tiny_files, capsys):
    assert main(["export", "scaled.expt", "scaled.refl", "mtz.hklout=a.mtz"]) == 0
    before = open("a.mtz", "rb").read()
    assert main(["export", "scaled.expt", "scaled.refl", "mtz.hklout=a.mtz"]) != 0
    assert "overwrite=True" in capsys.readouterr().err
    assert open("a.mtz", "rb").read() == before
    assert main(["export", "scaled.expt", "scaled.refl", "mtz.hklout=a.mtz", "overwrite=True"]) == 0
    assert main(["export", "scaled.expt", "scaled.refl", "format=mzt"]) != 0
    assert "mtz" in capsys.readouterr().err
    assert main(["export", "integrated.expt", "integrated.refl", "intensity=scale"]) != 0
    assert "friedel scale" in capsys.readouterr().err
    assert main(["export", "scaled.expt", "scaled.refl", "mtz.hklout=scaled.refl", "overwrite=True"]) != 0


def test_partials_are_combined(in_tmp_dir, tiny_integrated):
    experiments, reflections = tiny_integrated
    refl = reflections.copy()
    refl["partial_id"] = np.arange(len(refl))
    # split 200 reflections into two parts of 30% and 70%, as two integration blocks would
    split = np.arange(0, 400, 2)
    first, second = refl.select(split), refl.select(split)
    for part, frac in ((first, 0.3), (second, 0.7)):
        for name in ("intensity.sum.value", "intensity.sum.variance", "intensity.prf.value",
                     "intensity.prf.variance", "partiality"):
            part[name] = part[name] * frac
    rest = np.setdiff1d(np.arange(len(refl)), split)
    pieces = refl.select(rest)
    pieces.extend(first)
    pieces.extend(second)
    write_experiments(experiments, "a.expt")
    write_reflections(refl, "whole.refl")
    write_reflections(pieces, "pieces.refl")
    assert main(["export", "a.expt", "whole.refl", "mtz.hklout=whole.mtz"]) == 0
    assert main(["export", "a.expt", "pieces.refl", "mtz.hklout=pieces.mtz"]) == 0
    whole, w, labels = read_mtz_table("whole.mtz")
    pieces_mtz, p, _ = read_mtz_table("pieces.mtz")
    assert pieces_mtz.nreflections == whole.nreflections
    for name in ("I", "SIGI", "IPR", "SIGIPR", "FRACTIONCALC"):
        a, b = w[:, labels.index(name)], p[:, labels.index(name)]
        assert np.allclose(np.sort(a), np.sort(b), rtol=1e-5), name
    assert main(["export", "a.expt", "pieces.refl", "mtz.hklout=raw.mtz", "combine_partials=False",
                 "partiality_threshold=0"]) == 0
    assert gemmi.read_mtz_file("raw.mtz").nreflections == whole.nreflections + len(split)


def test_best_intensity(in_tmp_dir, tiny_integrated):
    experiments, reflections = tiny_integrated
    refl = reflections.copy()
    no_fit = np.arange(len(refl)) % 5 == 0
    refl.unset_flags(no_fit, Flags.integrated_prf)
    write_experiments(experiments, "a.expt")
    write_reflections(refl, "a.refl")
    assert main(["export", "a.expt", "a.refl", "intensity=best", "format=shelx"]) == 0
    keep = refl["partiality"] >= 0.4
    corr = refl["lp"] / refl["qe"]
    expected = np.where(no_fit, refl["intensity.sum.value"] * corr / refl["partiality"],
                        refl["intensity.prf.value"] * corr)[keep]
    lines = open("friedel.hkl").read().splitlines()[:-1]
    got = np.array([float(line[12:20]) for line in lines])
    assert len(got) == int(keep.sum())
    assert np.allclose(np.sort(got), np.sort(expected), atol=0.006)
    assert main(["export", "a.expt", "a.refl", "mtz.hklout=pair.mtz"]) == 0  # profile+sum needs both
    assert gemmi.read_mtz_file("pair.mtz").nreflections == int((keep & ~no_fit).sum())
