"""friedel merge: merged MTZ columns and types, merging against the truth, rs agreement, bad input."""

import json

import gemmi
import numpy as np
import pytest

from friedel.cli.main import main
from friedel.io import read_reflections, write_experiments, write_reflections
from friedel.miller import asu_mapping, hkl_key

from .conftest import read_mtz_table, scaled_like

MERGED_TYPES = {"H": "H", "K": "H", "L": "H", "IMEAN": "J", "SIGIMEAN": "Q", "I(+)": "K", "SIGI(+)": "M",
                "I(-)": "K", "SIGI(-)": "M", "N(+)": "I", "N(-)": "I", "F": "F", "SIGF": "Q", "F(+)": "G",
                "SIGF(+)": "L", "F(-)": "G", "SIGF(-)": "L", "DANO": "D", "SIGDANO": "Q"}


def _column(data, labels, name):
    return data[:, labels.index(name)]


def test_merge_against_truth(tiny_files):
    assert main(["merge", "scaled.expt", "scaled.refl"]) == 0
    mtz, data, labels = read_mtz_table("merged.mtz")
    assert {c.label: c.type for c in mtz.columns} == MERGED_TYPES
    assert mtz.spacegroup.hm == "P 43 21 2" and len(mtz.batches) == 0
    refl = read_reflections("scaled.refl")
    refl = refl.select(refl["partiality"] >= 0.4)
    m = asu_mapping(refl["miller_index"], "P 43 21 2")
    assert mtz.nreflections == m.n_groups
    # N(+) + N(-) counts every observation once
    n_obs = np.nansum(_column(data, labels, "N(+)")) + np.nansum(_column(data, labels, "N(-)"))
    assert n_obs == len(refl)
    # IMEAN follows the true intensities; its errors are as large as its sigmas say
    true = np.zeros(m.n_groups)
    true[m.group] = refl["intensity.true.value"]
    order = np.argsort(hkl_key(m.unique_hkl))
    key_file = hkl_key(data[:, :3].astype(int))
    assert np.array_equal(key_file, hkl_key(m.unique_hkl)[order])
    imean, sig = _column(data, labels, "IMEAN"), _column(data, labels, "SIGIMEAN")
    true = true[order]
    scale = np.sum(imean * true) / np.sum(true * true)
    assert np.corrcoef(imean, true)[0, 1] > 0.99
    z = (imean - scale * true) / sig
    assert 0.7 < np.std(z) < 1.5
    # IMEAN is the inverse-variance mean of I(+) and I(-)
    ip, sp = _column(data, labels, "I(+)"), _column(data, labels, "SIGI(+)")
    im, sm = _column(data, labels, "I(-)"), _column(data, labels, "SIGI(-)")
    both = np.isfinite(ip) & np.isfinite(im)
    w = 1 / sp[both] ** 2, 1 / sm[both] ** 2
    assert np.allclose((ip[both] * w[0] + im[both] * w[1]) / (w[0] + w[1]), imean[both], rtol=1e-4, atol=1e-3)
    # amplitudes: F = sqrt(IMEAN) for strong reflections, positive for all, DANO = F(+) - F(-)
    f = _column(data, labels, "F")
    strong = imean / sig > 20
    assert np.allclose(f[strong], np.sqrt(imean[strong]), rtol=0.01)
    assert np.all(f[np.isfinite(f)] > 0) and np.isfinite(f).mean() > 0.98
    fp, fm, dano = (_column(data, labels, x) for x in ("F(+)", "F(-)", "DANO"))
    ok = np.isfinite(dano)
    assert ok.sum() > 0 and np.allclose(dano[ok], fp[ok] - fm[ok], atol=1e-3)
    stats = json.load(open("friedel.merge.json"))["datasets"][0]["merging_statistics"]
    assert stats["overall"]["n_obs"] == len(refl) and stats["overall"]["n_unique"] == m.n_groups
    assert len(stats["shells"]) == 20


def test_merge_without_anomalous_and_truncate(tiny_files):
    assert main(["merge", "scaled.expt", "scaled.refl", "anomalous=False", "truncate=False", "d_min=2.5",
                 "output.mtz=plain.mtz"]) == 0
    mtz = gemmi.read_mtz_file("plain.mtz")
    assert mtz.column_labels() == ["H", "K", "L", "IMEAN", "SIGIMEAN", "N"]
    assert mtz.resolution_high() >= 2.5 - 1e-6


def test_several_wavelengths_become_datasets(in_tmp_dir, two_lattices):
    experiments, reflections = scaled_like(*two_lattices)
    import copy

    experiments[1].beam = copy.deepcopy(experiments[1].beam)
    experiments[1].beam.wavelength = experiments[0].beam.wavelength * 1.01
    write_experiments(experiments, "mad.expt")
    write_reflections(reflections, "mad.refl")
    assert main(["merge", "mad.expt", "mad.refl"]) == 0
    mtz = gemmi.read_mtz_file("merged.mtz")
    assert [d.dataset_name for d in mtz.datasets] == ["NATIVE_WAVE1", "NATIVE_WAVE2"]
    assert mtz.datasets[1].wavelength == pytest.approx(mtz.datasets[0].wavelength * 1.01, rel=1e-5)
    assert "IMEAN_WAVE1" in mtz.column_labels() and "DANO_WAVE2" in mtz.column_labels()
    assert mtz.column_with_label("IMEAN_WAVE2").dataset_id == mtz.datasets[1].id
    doc = json.load(open("friedel.merge.json"))
    assert len(doc["datasets"]) == 2
    # the unmerged file links each lattice's batches to its wavelength's dataset
    assert main(["export", "mad.expt", "mad.refl"]) == 0
    unmerged = gemmi.read_mtz_file("scaled_unmerged.mtz")
    assert [d.id for d in unmerged.datasets] == [1, 2]
    assert [d.wavelength for d in unmerged.datasets] == pytest.approx([mtz.datasets[0].wavelength,
                                                                        mtz.datasets[1].wavelength])
    links = {b.number: b.dataset_id for b in unmerged.batches}
    assert {links[n] for n in range(1, 7)} == {1} and {links[n] for n in range(101, 107)} == {2}
    # one wavelength when they agree within the tolerance
    assert main(["merge", "mad.expt", "mad.refl", "wavelength_tolerance=0.1", "output.mtz=one.mtz"]) == 0
    assert len(gemmi.read_mtz_file("one.mtz").datasets) == 1


def test_reciprocalspaceship_merges_the_unmerged_file_to_the_same_imean(tiny_files):
    rs = pytest.importorskip("reciprocalspaceship")
    assert main(["export", "scaled.expt", "scaled.refl"]) == 0
    assert main(["merge", "scaled.expt", "scaled.refl"]) == 0
    ds = rs.read_mtz("scaled_unmerged.mtz")
    assert not ds.merged
    # rs maps H K L back to the observed indices through M/ISYM (gemmi's operator order)
    refl = read_reflections("scaled.refl")
    observed = refl["miller_index"][refl["partiality"] >= 0.4]
    assert sorted(map(tuple, np.asarray(ds.get_hkls()).tolist())) == sorted(map(tuple, observed.tolist()))
    merged = rs.algorithms.merge(ds)
    mtz, data, labels = read_mtz_table("merged.mtz")
    ours = {tuple(r[:3].astype(int)): r for r in data}
    assert len(merged) == len(ours)
    for name in ("IMEAN", "SIGIMEAN"):
        x = np.array([ours[k][labels.index(name)] for k in merged.index])
        y = merged[name].to_numpy(dtype=float)
        assert np.allclose(x, y, rtol=1e-4, atol=1e-4 * np.abs(y).max() * 1e-3)


def test_unscaled_input(tiny_files, capsys):
    assert main(["merge", "integrated.expt", "integrated.refl"]) != 0
    assert "allow_unscaled=True" in capsys.readouterr().err
    assert main(["merge", "integrated.expt", "integrated.refl", "allow_unscaled=True"]) == 0
    assert "not scaled" in open("friedel.merge.log").read()
    assert main(["merge", "integrated.expt", "integrated.refl", "allow_unscaled=True"]) != 0  # exists
    assert main(["merge", "integrated.expt", "integrated.refl", "allow_unscaled=True", "overwrite=True"]) == 0
