"""Spot finding on the real Pilatus3 6M thaumatin grid-scan stills, and the command end to end."""

import json

import numpy as np
import pytest

from friedel.cli.main import main
from friedel.formats.base import open_file
from friedel.formats.images import open_images
from friedel.io import read_reflections, write_experiments
from friedel.models import Experiment, ExperimentList, ImageSetReference
from friedel.plugins.spotfinding.filters import spot_resolution
from friedel.plugins.spotfinding.finder import SpotfinderParams, find_spots

FRAMES = ("0003", "0013", "0019")


def still_experiments(real_data, frames=FRAMES) -> ExperimentList:
    """One experiment per still, built from the image headers (as an importer would)."""
    out = ExperimentList()
    detector = None
    for f in frames:
        path = str(real_data / "images" / "thaumatin_grid" / f"thau_3_2_{f}.cbf.bz2")
        fmt = open_file(path)
        detector = detector or fmt.detector
        out.append(Experiment(beam=fmt.beam, detector=detector, scan=fmt.scan, imageset=ImageSetReference(images=[path])))
    return out


@pytest.fixture(scope="module")
def thaumatin(real_data):
    experiments = still_experiments(real_data)
    params = SpotfinderParams()
    params.mp.method = "none"
    return experiments, find_spots(experiments, params)


def test_plausible_spot_counts_on_the_grid_scan(thaumatin):
    experiments, result = thaumatin
    counts = {row[1]: row[3] for row in result.per_image}
    assert 900 < counts[3] < 2500  # in the crystal: strong diffraction
    assert 300 < counts[13] < 1200  # near the crystal edge: fewer spots
    assert counts[19] < 20  # off the crystal: (almost) blank
    refl = result.reflections
    assert np.all(refl["xyzobs.px.value"][:, 2] == np.array([2.5, 12.5, 18.5])[refl["id"]])


def test_spots_are_on_diffraction_not_on_gaps_or_masked_pixels(thaumatin):
    experiments, result = thaumatin
    refl = result.reflections
    images = open_images(experiments[0])
    good = images.get_mask(0)[0]
    box = refl["shoebox"]
    # every strong pixel of every spot is a good pixel
    strong_xy = []
    for i in np.flatnonzero(refl["id"] == 0):
        z, y, x = np.nonzero(box.mask_of(i))
        strong_xy.append(np.c_[x + refl["bbox"][i, 0], y + refl["bbox"][i, 2]])
    strong_xy = np.concatenate(strong_xy)
    assert good[strong_xy[:, 1], strong_xy[:, 0]].all()
    # spots are Bragg peaks: at sensible resolution, and spread around the beam centre
    d = spot_resolution(refl, experiments)
    assert np.all(d > 1.0) and 2.0 < np.median(d) < 10.0
    beam = np.array(experiments[0].detector.beam_centre_px(experiments[0].beam.s0))
    offsets = refl["xyzobs.px.value"][:, :2] - beam
    angles = np.arctan2(offsets[:, 1], offsets[:, 0])
    assert np.histogram(angles, bins=8)[0].min() > 30  # all around the beam, not one streak
    assert np.all(refl["intensity.sum.value"] > 0) and np.all(refl["n_signal"] >= 3)


def test_command_writes_strong_refl_with_histogram(real_data, in_tmp_dir, capsys):
    write_experiments(still_experiments(real_data, ("0003", "0019")), "imported.expt")
    code = main(["find_spots", "imported.expt", "nproc=1", "per_image_statistics=True", "d_min=1.5"])
    assert code == 0
    refl = read_reflections("strong.refl")
    assert 900 < len(refl) < 2500
    assert set(np.unique(refl["id"])) <= {0, 1}
    for column in ("xyzobs.px.value", "xyzobs.px.variance", "xyzobs.mm.value", "bbox", "shoebox", "panel",
                   "intensity.sum.value", "intensity.sum.variance", "n_signal", "flags"):
        assert column in refl
    log = open("friedel.find_spots.log").read()
    assert "Histogram" in log and "spots d<4A" in log and "resolution" in log
    summary = json.load(open("friedel.find_spots.json"))  # the table's numbers, for friedel report
    assert summary["n_spots"] == len(refl) and len(summary["per_image"]) == 2
    assert sum(r["spots"] for r in summary["per_image"]) == len(refl)


def test_missing_image_is_a_clear_error_and_writes_nothing(real_data, in_tmp_dir, capsys):
    experiments = still_experiments(real_data, ("0003",))
    experiments[0].imageset = ImageSetReference(images=[str(in_tmp_dir / "moved_away_0003.cbf")])
    write_experiments(experiments, "imported.expt")
    assert main(["find_spots", "imported.expt"]) != 0
    err = capsys.readouterr().err
    assert "moved_away_0003.cbf" in err and "Traceback" not in err
    assert not (in_tmp_dir / "strong.refl").exists()


def test_unreadable_image_names_the_file(real_data, in_tmp_dir, capsys):
    bad = in_tmp_dir / "broken_0001.cbf"
    source = real_data / "images" / "thaumatin_grid" / "thau_3_2_0003.cbf.bz2"
    import bz2

    bad.write_bytes(bz2.decompress(source.read_bytes())[:200000])  # truncated CBF
    experiments = still_experiments(real_data, ("0003",))
    experiments[0].imageset = ImageSetReference(images=[str(bad)])
    write_experiments(experiments, "imported.expt")
    assert main(["find_spots", "imported.expt", "nproc=1"]) != 0
    err = capsys.readouterr().err
    assert "broken_0001.cbf" in err and "Traceback" not in err
    assert not (in_tmp_dir / "strong.refl").exists()


def test_interrupted_run_leaves_no_partial_output(real_data, in_tmp_dir, monkeypatch):
    import friedel.plugins.spotfinding.command as command

    write_experiments(still_experiments(real_data, ("0019",)), "imported.expt")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "write_reflections", lambda table, path: _write_then_interrupt(table, path))
    assert main(["find_spots", "imported.expt", "nproc=1"]) != 0
    assert not (in_tmp_dir / "strong.refl").exists()
    assert not list(in_tmp_dir.glob(".friedel-*"))


def _write_then_interrupt(table, path):
    """Start writing the output the way the real writer does, then get interrupted (Ctrl-C)."""
    from friedel.io.atomic import atomic_write

    with atomic_write(path) as handle:
        handle.write(b"partial")
        raise KeyboardInterrupt
