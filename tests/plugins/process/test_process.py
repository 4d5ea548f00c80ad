"""friedel process: parameters reach the right steps; the pipeline runs, resumes and reports."""

import json
import os

import pytest

from friedel.errors import ParameterError
from friedel.plugins.process.parameters import ProcessParams, route_assignments, shared_assignments
from friedel.plugins.process.steps import STEP_NAMES

AVAILABLE = set(STEP_NAMES)


def test_step_prefixed_parameters_go_to_that_step_only():
    routed = route_assignments(["index.indexing.method=fft1d"], AVAILABLE)
    assert routed["index"] == ["indexing.method=fft1d"]
    assert all(not v for k, v in routed.items() if k != "index")


def test_a_name_only_one_step_has_goes_to_it():
    routed = route_assignments(["max_lattices=2"], AVAILABLE)
    assert routed["index"] == ["max_lattices=2"]


def test_unknown_names_are_refused_with_a_suggestion():
    with pytest.raises(ParameterError, match="no step of friedel process"):
        route_assignments(["no_such_parameter=3"], AVAILABLE)
    with pytest.raises(ParameterError, match="method"):
        route_assignments(["index.indexing.methd=fft1d"], AVAILABLE)


def test_process_choices_reach_the_steps_they_concern():
    params = ProcessParams(space_group="P 41 21 2", unit_cell=(57.8, 57.8, 150, 90, 90, 90))
    shared = shared_assignments(params, AVAILABLE)
    assert any(a.startswith("space_group=") for a in shared["index"])
    assert any(a.startswith("unit_cell=57.8,57.8,150") for a in shared["index"])
    assert not shared["find_spots"] and not shared["integrate"]


def test_process_refuses_missing_images(in_tmp_dir):
    from friedel.cli.main import main

    assert main(["process", "nothing_*.cbf"]) == 1
    assert main(["process", "no_such_image.cbf"]) == 1
    assert not [f for f in os.listdir(".") if f[:2].isdigit()]


def test_quiet_shows_errors_only_and_the_log_keeps_everything(in_tmp_dir, capsys):
    import friedel.progress
    from friedel.cli.main import main, quiet

    assert main(["simulate", "preset=tiny", "scan.n_images=1", "mp.method=none", "-q"]) == 0
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert "Simulating tiny" in open("friedel.simulate.log", encoding="utf-8").read()
    assert main(["process", "no_such_image.cbf", "--quiet"]) == 1
    out = capsys.readouterr()
    assert out.out == "" and "error: image file no_such_image.cbf does not exist" in out.err
    # the next command is not quiet
    assert not quiet() and friedel.progress.enabled
    # one image of 0.5 deg: however far process gets, friedel.process.json says how far, also
    # when a step failed (its write group is not the failed command's), and the error is shown
    code = main(["process", "sim_00001.cbf", "nproc=1", "-q"])
    out = capsys.readouterr()
    assert "== friedel" not in out.out
    summary = json.load(open("friedel.process.json", encoding="utf-8"))
    assert summary["ok"] == (code == 0) and os.path.exists("report.html")
    if code != 0:
        failed = [s for s in summary["steps"] if not s["ok"]]
        assert len(failed) == 1 and failed[0]["error"] in out.err
