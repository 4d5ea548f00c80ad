"""``friedel simulate`` and ``friedel demo`` through the command-line entry point."""

from __future__ import annotations

import os

import numpy as np

from friedel.cli.main import main
from friedel.io import read_experiments, read_reflections


def test_simulate_command_writes_images_and_truth(in_tmp_dir):
    code = main(["simulate", "preset=tiny", "n_images=3", "output.directory=sim", "output.format=both",
                 "mp.method=none", "seed=4"])
    assert code == 0
    files = set(os.listdir("sim"))
    assert {"sim_00001.cbf", "sim_00003.cbf", "sim_master.h5", "sim_data_000001.h5", "truth.expt", "header.expt",
            "truth_reflections.refl", "truth_partials.npz", "truth_intensities.mtz", "truth.json"} <= files
    truth = read_experiments("sim/truth.expt")
    cell = truth[0].crystal.unit_cell.parameters
    assert np.allclose(cell, (79.1, 79.1, 38.0, 90, 90, 90))
    assert truth[0].crystal.space_group_symbol == "P 43 21 2"
    assert truth[0].imageset.paths((1, 3))[0].endswith("sim/sim_00001.cbf")
    refl = read_reflections("sim/truth_reflections.refl")
    assert len(refl) > 500 and np.all(refl["d"] >= 2.0 - 1e-9)
    assert os.path.exists("friedel.simulate.log")


def test_import_reads_the_simulated_headers_as_the_header_geometry(in_tmp_dir):
    from friedel.plugin_manager import registry

    assert main(["simulate", "tiny", "n_images=2", "output.directory=sim", "mp.method=none",
                 "header_error.distance=2.0"]) == 0
    if "import" not in registry("commands"):
        return
    assert main(["import", "sim/sim_00001.cbf", "sim/sim_00002.cbf"]) == 0
    imported = read_experiments("imported.expt")[0]
    header = read_experiments("sim/header.expt")[0]
    assert abs(imported.detector[0].distance - header.detector[0].distance) < 1e-3
    assert np.allclose(imported.detector.beam_centre_px(imported.beam.s0),
                       header.detector.beam_centre_px(header.beam.s0), atol=0.01)
    assert imported.scan.image_range == (1, 2) and np.allclose(imported.scan.oscillation, (0.0, 0.5))


def test_bad_input_is_a_one_line_error_and_nothing_is_overwritten(in_tmp_dir, capsys):
    assert main(["simulate", "preset=nonsense"]) != 0
    assert "nonsense" in capsys.readouterr().err
    assert main(["simulate", "tiny", "n_images=1", "output.directory=sim", "mp.method=none"]) == 0
    before = os.path.getmtime("sim/sim_00001.cbf")
    assert main(["simulate", "tiny", "n_images=1", "output.directory=sim", "mp.method=none"]) != 0
    err = capsys.readouterr().err
    assert "overwrite" in err and "Traceback" not in err
    assert os.path.getmtime("sim/sim_00001.cbf") == before
    assert main(["simulate", "tiny", "crystal.d_min=-1", "output.directory=other", "mp.method=none"]) != 0
    assert "d_min" in capsys.readouterr().err


def test_demo_goes_from_images_to_a_merged_mtz_that_matches_the_truth(in_tmp_dir, capsys):
    import gemmi

    code = main(["demo", "demo_out", "n_images=30", "mp.method=none"])
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    assert os.path.exists("demo_out/images/truth.expt") and os.path.exists("demo_out/report.html")
    merged = [f for f in os.listdir("demo_out") if f.endswith("_merge")]
    mtz = gemmi.read_mtz_file(os.path.join("demo_out", merged[0], "merged.mtz"))
    assert "IMEAN" in mtz.column_labels()
    # the truth is P 43 21 2; intensities alone cannot tell the enantiomorph or the screw axes apart
    # from their absences on so short a sweep, but the point group must be right
    assert mtz.spacegroup.point_group_hm() == "422"
    line = next(line for line in out.splitlines() if "CC(merged IMEAN, true I)" in line)
    assert float(line.split("=")[1].split()[0]) > 0.99
    # process again: nothing changed, so every step is up to date and nothing runs
    os.chdir("demo_out")
    images = sorted(os.path.join("images", f) for f in os.listdir("images") if f.endswith(".cbf"))
    assert main(["process", *images]) == 0
    out = capsys.readouterr().out
    assert out.count("skipped") >= 10 and "== friedel index" not in out
