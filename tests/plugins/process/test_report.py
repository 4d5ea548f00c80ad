"""The HTML report: built from step folders, self-contained, and rendered by a real browser."""

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from friedel.flags import Flags


@pytest.fixture(scope="module")
def scale_folder(tmp_path_factory):
    """A step folder as ``scale`` leaves it: scaled.expt/.refl in DIALS's layout, from the
    simulator's integrated-like table scaled by the true scales."""
    from friedel.io import write_experiments, write_reflections
    from friedel.plugins.simulate.integrated import simulate_integrated
    from friedel.plugins.simulate.params import make_params

    experiments, refl = simulate_integrated(make_params("tiny", **{"scan.n_images": 60}))
    refl = refl.select(refl["partiality"] > 0.5)
    factor = refl["lp"] / refl["partiality"]
    refl["intensity.scale.value"] = refl["intensity.prf.value"] * factor
    refl["intensity.scale.variance"] = refl["intensity.prf.variance"] * factor**2
    refl["inverse_scale_factor"] = refl["truth.scale"]
    refl["inverse_scale_factor_variance"] = np.full(len(refl), 1e-6)
    refl["flags"] = refl["flags"] | Flags.scaled
    folder = tmp_path_factory.mktemp("07_scale")
    write_experiments(experiments, str(folder / "scaled.expt"))
    write_reflections(refl, str(folder / "scaled.refl"))
    (folder / "friedel.scale.log").write_text("scaled\n")
    (folder / "friedel.scale.json").write_text(
        '{"per_image": [{"image": 1, "scale": 1.0, "B": 0.1}, {"image": 2, "scale": 1.01, "B": 0.2},'
        ' {"image": 3, "scale": 1.02, "B": 0.3}]}')
    return folder


def test_report_has_the_plots_and_needs_no_network(scale_folder, tmp_path):
    from friedel.plugins.process.report import write_report

    path = write_report([str(scale_folder)], str(tmp_path / "report.html"))
    text = open(path, encoding="utf-8").read()
    # plotly.js is inside the page: no script is fetched from anywhere
    assert not re.search(r"<script[^>]+src=", text)
    for title in ("Mean inverse scale factor per image", "CC1/2 against resolution", "Wilson plot",
                  "Normal probability plot", "Completeness against resolution"):
        assert title in text
    assert text.count("class='plotly-graph-div'") >= 8
    assert "friedel.scale.json: per_image" in text  # the step's own JSON table


def _browser():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report_renders_in_a_headless_browser(scale_folder, tmp_path):
    from friedel.plugins.process.report import write_report

    browser = _browser()
    if browser is None:
        pytest.skip("no chromium on this machine (.ci/run installs Debian's chromium where it can)")
    path = write_report([str(scale_folder)], str(tmp_path / "report.html"))
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", "file://" + os.path.abspath(path)],
        capture_output=True, text=True, timeout=180)
    dom = result.stdout
    assert "plotly-graph-div" in dom, result.stderr[-2000:]
    # plotly draws each plot as an SVG ("main-svg"); every plot div must have rendered
    n_divs = dom.count('class="plotly-graph-div')
    n_svgs = len(re.findall(r'<svg class="main-svg"', dom))
    assert n_divs >= 8 and n_svgs >= n_divs


def test_report_command_refuses_missing_input(tmp_path):
    from friedel.cli.main import main

    assert main(["report", str(tmp_path / "nothing_here")]) == 1
