"""Command.load_experiments_and_reflections: any number of .expt/.refl in any order (issue 20, item 6)."""
import numpy as np
import pytest

from friedel.cli.command import load_experiments_and_reflections
from friedel.errors import FriedelError
from friedel.io import read_reflections, write_experiments, write_reflections
from friedel.models import Beam, Detector, Experiment, ExperimentList, Goniometer, Panel, Scan
from friedel.reflection_table import ReflectionTable


def _experiments(n, identifiers=True):
    out = ExperimentList()
    for i in range(n):
        panel = Panel(fast_axis=(1, 0, 0), slow_axis=(0, -1, 0), origin=(-10, 10, -100), pixel_size=(0.1, 0.1),
                      image_size=(200, 200), trusted_range=(-1, 1e6))
        e = Experiment(beam=Beam(direction=(0, 0, 1), wavelength=1.0), detector=Detector([panel]),
                       goniometer=Goniometer(), scan=Scan((1, 10), (10.0 * i, 0.1)))
        if identifiers:
            e.ensure_identifier()
        out.append(e)
    return out


def _table(ids, experiments=None, value=0.0, extra=None):
    ids = np.asarray(ids)
    t = ReflectionTable({"id": ids, "xyzobs.px.value": np.full((len(ids), 3), value)})
    for name, col in (extra or {}).items():
        t[name] = col
    if experiments is not None:
        t.assign_identifiers(experiments)
    return t


def _write(tmp_path, name, obj):
    path = str(tmp_path / name)
    (write_experiments if isinstance(obj, ExperimentList) else write_reflections)(obj, path)
    return path


def test_one_refl_per_expt_in_any_order_matched_by_identifier(tmp_path):
    a, b = _experiments(1), _experiments(2)
    ea, eb = _write(tmp_path, "a.expt", a), _write(tmp_path, "b.expt", b)
    ra = _write(tmp_path, "a.refl", _table([0, 0, -1], a, value=1.0))
    rb = _write(tmp_path, "b.refl", _table([1, 0, 1], b, value=2.0))
    experiments, refl = load_experiments_and_reflections([rb, eb, ra, ea], command="index")
    # experiments in .expt order (b first), reflections' ids follow their experiments
    assert experiments.identifiers() == b.identifiers() + a.identifiers()
    value = refl["xyzobs.px.value"][:, 0]
    assert list(refl["id"][value == 2.0]) == [1, 0, 1]
    assert list(refl["id"][value == 1.0]) == [2, 2, -1]
    assert refl.experiment_identifiers == {i: experiments[i].identifier for i in range(3)}


def test_files_without_identifiers_are_matched_by_position(tmp_path):
    a, b = _experiments(2, identifiers=False), _experiments(1, identifiers=False)
    ea, eb = _write(tmp_path, "a.expt", a), _write(tmp_path, "b.expt", b)
    ra = _write(tmp_path, "a.refl", _table([0, 1], value=1.0))
    rb = _write(tmp_path, "b.refl", _table([0, 0, -1], value=2.0))
    experiments, refl = load_experiments_and_reflections([ea, ra, eb, rb])
    assert len(experiments) == 3 and len(set(experiments.identifiers())) == 3 and all(experiments.identifiers())
    assert list(refl["id"]) == [0, 1, 2, 2, -1]
    assert refl.experiment_identifiers == {i: experiments[i].identifier for i in range(3)}
    # a single table without identifiers indexes the combined list
    rc = _write(tmp_path, "c.refl", _table([0, 2, 1]))
    _, refl = load_experiments_and_reflections([ea, eb, rc])
    assert list(refl["id"]) == [0, 2, 1]


def test_one_table_of_several_experiment_files_with_identifiers(tmp_path):
    a, b = _experiments(1), _experiments(1)
    strong = _write(tmp_path, "strong.refl", _table([1, 0, 1], a + b))  # found on a.expt b.expt
    experiments, refl = load_experiments_and_reflections(
        [_write(tmp_path, "b.expt", b), strong, _write(tmp_path, "a.expt", a)])
    assert list(refl["id"]) == [0, 1, 0]  # b is now experiment 0
    assert refl.experiment_identifiers[0] == b[0].identifier


def test_reflections_of_other_experiments_are_refused(tmp_path):
    # another data set, or the same images imported again (new identifiers): nothing tells the two
    # apart, and matching by position made refine wander off to a 3000 A cell (issue 19)
    old, new = _experiments(2), _experiments(2)
    with pytest.raises(FriedelError, match="does not belong to the given .expt"):
        load_experiments_and_reflections(
            [_write(tmp_path, "new.expt", new), _write(tmp_path, "old.refl", _table([1, 0], old))])


def test_columns_not_in_every_table_are_dropped(tmp_path):
    a, b = _experiments(1), _experiments(1)
    ra = _write(tmp_path, "a.refl", _table([0], a, extra={"n_signal": [4]}))
    rb = _write(tmp_path, "b.refl", _table([0, 0], b))
    _, refl = load_experiments_and_reflections([_write(tmp_path, "a.expt", a), _write(tmp_path, "b.expt", b), ra, rb])
    assert "n_signal" not in refl and len(refl) == 3


def test_reflections_alone(tmp_path):
    a, b = _experiments(1), _experiments(2)
    ra = _write(tmp_path, "a.refl", _table([0, 0], a))
    rb = _write(tmp_path, "b.refl", _table([1, 0], b))
    experiments, refl = load_experiments_and_reflections([ra, rb], need_experiments=False)
    assert experiments is None and list(refl["id"]) == [0, 0, 2, 1]
    assert [refl.experiment_identifiers[i] for i in (0, 1, 2)] == a.identifiers() + b.identifiers()
    assert len(read_reflections(ra)) == 2  # inputs untouched


@pytest.mark.parametrize("case, message", [
    ("no_expt", "needs at least one .expt"),
    ("no_refl", "needs at least one .refl"),
    ("twice", "given twice"),
    ("same_ids", "the same experiments were given twice"),
    ("ambiguous", "cannot tell which experiments"),
    ("unknown_identifier", "which none of the given .expt"),
    ("id_too_large", "holds 1 experiment"),
    ("refl_not_allowed", "reads experiments only"),
])
def test_clear_errors(tmp_path, case, message):
    a, b, c = _experiments(1), _experiments(1), _experiments(1, identifiers=False)
    ea, eb = _write(tmp_path, "a.expt", a), _write(tmp_path, "b.expt", b)
    ra = _write(tmp_path, "a.refl", _table([0], a))
    files, kwargs = {
        "no_expt": ([ra], {}),
        "no_refl": ([ea], {}),
        "twice": ([ea, ea, ra], {}),
        "same_ids": ([ea, _write(tmp_path, "copy.expt", a), ra], {}),
        "ambiguous": ([ea, eb, _write(tmp_path, "c.expt", c), _write(tmp_path, "x.refl", _table([0])),
                       _write(tmp_path, "y.refl", _table([0]))], {}),
        "unknown_identifier": ([ea, eb, _write(tmp_path, "ab.refl", _table([0, 1], ExperimentList(a + c)))], {}),
        "id_too_large": ([_write(tmp_path, "c.expt", c), _write(tmp_path, "x.refl", _table([0, 3]))], {}),
        "refl_not_allowed": ([ea, ra], {"allow_reflections": False}),
    }[case]
    with pytest.raises(FriedelError, match=message):
        load_experiments_and_reflections(files, command="index", **kwargs)
