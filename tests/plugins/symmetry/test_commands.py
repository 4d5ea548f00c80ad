"""The commands on real DIALS-integrated data (answers as published / as DIALS gives), outputs
and one-line errors."""

import json
from types import SimpleNamespace

import pytest

from friedel.cli.main import main
from friedel.io import read_experiments, read_reflections


@pytest.fixture
def friedel(capsys, monkeypatch):
    """Run ``friedel <args>`` in-process in folder ``cwd``; (returncode, stderr)."""

    def run(*args, cwd):
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return SimpleNamespace(returncode=code, stderr=captured.err, stdout=captured.out)

    return run


@pytest.fixture
def integrated(real_data):
    return real_data / "integrated"


def test_symmetry_centroid_tetragonal(integrated, tmp_path, friedel):
    d = integrated / "centroid"
    r = friedel("symmetry", d / "integrated.expt", d / "integrated.refl", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "friedel.symmetry.json").read_text())
    assert summary["best_solution"]["patterson_group"] == "P 4/m m m"
    # a 1.8 deg wedge: 00l is measured (41/43 seen), h00 is not, so 21 cannot be judged
    assert summary["space_group"] in ("P 41 2 2", "P 43 2 2", "P 41 21 2", "P 43 21 2")
    expts = read_experiments(str(tmp_path / "symmetrized.expt"))
    refl = read_reflections(str(tmp_path / "symmetrized.refl"))
    assert expts[0].crystal.space_group_symbol == summary["space_group"]
    assert len(refl) > 2000
    log = (tmp_path / "friedel.symmetry.log").read_text()
    assert "Scoring individual symmetry elements" in log and "Recommended space group" in log


def test_symmetry_l_cysteine_and_quartz(integrated, tmp_path, friedel):
    d = integrated / "l_cysteine"
    r = friedel("symmetry", d / "20_integrated.expt", d / "20_integrated.refl", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "friedel.symmetry.json").read_text())
    assert summary["space_group"] == "P 21 21 21"
    d = integrated / "quartz_ED"
    r = friedel("symmetry", d / "integrated.expt", d / "integrated.refl", "output.json=q.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "q.json").read_text())
    # trigonal Laue group as published; the 31 absences are violated by dynamical (electron)
    # scattering, so the screw axis is not claimed (DIALS 3.12 also says P 3 2 1)
    assert summary["best_solution"]["patterson_group"] == "P -3 m 1"
    assert summary["space_group"] in ("P 3 2 1", "P 31 2 1", "P 32 2 1")


def test_cosym_two_l_cysteine_sweeps(integrated, tmp_path, friedel):
    d = integrated / "l_cysteine"
    r = friedel("cosym", d / "20_integrated.expt", d / "20_integrated.refl", d / "25_integrated.expt",
                d / "25_integrated.refl", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "friedel.cosym.json").read_text())
    assert summary["best_solution"]["patterson_group"] == "P m m m"
    assert summary["space_group"] == "P 21 21 21"
    expts = read_experiments(str(tmp_path / "symmetrized.expt"))
    assert len(expts) == 2


def test_errors_are_one_line(integrated, tmp_path, friedel):
    d = integrated / "centroid"
    r = friedel("symmetry", d / "integrated.expt", cwd=tmp_path)
    assert r.returncode != 0 and ".refl" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = friedel("cosym", d / "integrated.expt", d / "integrated.refl", d / "integrated.expt", cwd=tmp_path)
    assert r.returncode != 0 and "twice" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    spots = integrated.parent / "spots"
    strong = next(spots.glob("*/strong.refl"))
    r = friedel("symmetry", d / "integrated.expt", strong, cwd=tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    # outputs are never written over the inputs
    r = friedel("symmetry", d / "integrated.expt", d / "integrated.refl", f"output.reflections={d / 'integrated.refl'}",
                cwd=tmp_path)
    assert r.returncode != 0 and "overwrite" in r.stderr
    assert not (tmp_path / "symmetrized.expt").exists()
