"""DIALS file compatibility, proved on the real files in shared/data/real."""

import json

import numpy as np
import pytest

from friedel.io import read_experiments, read_reflections, write_experiments, write_reflections
from friedel.io.expt import experiments_to_json
from friedel.io.refl import reflections_to_bytes
from friedel.errors import FileFormatError
from friedel.flags import Flags, MaskCode
from friedel.models import ExperimentList


SPOT_COUNTS = {  # from the data README: rows and rows per experiment id
    "spots/centroid/strong.refl": (654, {0: 654}),
    "spots/phi_scan/strong.refl": (2038, {0: 2038}),
    "spots/l_cysteine_4x10img/strong.refl": (108, {0: 35, 1: 23, 2: 26, 3: 24}),
    "spots/i24_lyso_still/strong.refl": (534, {0: 54, 1: 176, 2: 215, 3: 89}),
    "spots/ssx_CuNiR/strong_5.refl": (759, {0: 167, 1: 119, 2: 329, 3: 70, 4: 74}),
    "spots/quartz_ED/strong.refl": (505, {0: 505}),
    "spots/MyD88_ED/strong.refl": (646, {0: 646}),
}


@pytest.mark.parametrize("name", sorted(SPOT_COUNTS))
def test_read_real_strong_spots(real_data, name):
    table = read_reflections(str(real_data / name))
    total, per_id = SPOT_COUNTS[name]
    assert len(table) == total
    ids, counts = np.unique(table["id"], return_counts=True)
    assert dict(zip(ids.tolist(), counts.tolist())) == per_id
    assert table.get_flags(Flags.strong).all()
    # every spot's shoebox has pixels, the centroid lies inside its bbox
    boxes = table["shoebox"]
    assert boxes.has_data.all() and len(boxes.data) == boxes.box_sizes().sum()
    xyz, bbox = table["xyzobs.px.value"], table["bbox"]
    assert np.all((xyz[:, 0] >= bbox[:, 0]) & (xyz[:, 0] <= bbox[:, 1]))
    assert np.all((xyz[:, 1] >= bbox[:, 2]) & (xyz[:, 1] <= bbox[:, 3]))
    # the summed foreground of each shoebox is the spot intensity
    i = int(np.argmax(table["intensity.sum.value"]))
    fg = (boxes.mask_of(i) & MaskCode.foreground) != 0
    assert boxes.data_of(i)[fg].sum() == pytest.approx(table["intensity.sum.value"][i], rel=1e-5)


def test_read_real_integrated_and_scaled(real_data):
    t = read_reflections(str(real_data / "integrated/centroid/integrated.refl"))
    assert len(t) == 2269
    assert np.count_nonzero(np.any(t["miller_index"] != 0, axis=1)) == 2187
    assert np.count_nonzero(t.get_flags(Flags.integrated_sum)) == 1679
    assert np.count_nonzero(t.get_flags(Flags.integrated_prf)) == 1657
    l20 = read_reflections(str(real_data / "integrated/l_cysteine/20_integrated.refl"))
    assert len(l20) == 4417 and np.count_nonzero(l20["id"] == 0) == 3304
    scaled = read_reflections(str(real_data / "scaled/l_cysteine/scaled_20_25.refl"))
    assert len(scaled) == 9972 and scaled.experiment_identifiers == {0: "0", 1: "1"}
    assert "inverse_scale_factor" in scaled


def test_read_real_experiments(real_data):
    e = read_experiments(str(real_data / "spots/centroid/imported.expt"))
    panel = e[0].detector[0]
    assert panel.image_size == (2463, 2527) and panel.pixel_size == pytest.approx((0.172, 0.172))
    assert panel.distance == pytest.approx(190.18, abs=0.01)
    assert e[0].beam.wavelength == pytest.approx(0.9795)
    assert e[0].scan.image_range == (1, 9) and e[0].scan.oscillation == pytest.approx((0.0, 0.2))
    stills = read_experiments(str(real_data / "spots/i24_lyso_still/imported.expt"))
    assert len(stills) == 4 and len(stills.detectors) == 1  # one shared detector
    multi = read_experiments(str(real_data / "spots/phi_scan/imported.expt"))[0]
    assert np.allclose(multi.goniometer.rotation_axis, [0.7498, -0.5518, 0.3652], atol=1e-4)
    cell = read_experiments(str(real_data / "integrated/centroid/integrated.expt"))[0].crystal.unit_cell
    assert (cell.a, cell.c) == pytest.approx((42.272, 39.670), abs=1e-3)
    scaled = read_experiments(str(real_data / "scaled/l_cysteine/scaled_20_25.expt"))
    assert scaled[0].scaling_model["__id__"] == "physical"


def test_every_real_file_round_trips(real_data):
    for path in sorted(real_data.rglob("*.refl")):
        raw = path.read_bytes()
        # friedel writes DIALS's own bytes back, column for column
        assert reflections_to_bytes(read_reflections(str(path))) == raw, path
    for path in sorted(real_data.rglob("*.expt")):
        original = json.loads(path.read_text())
        assert json.loads(experiments_to_json(read_experiments(str(path), resolve_paths=False))) == original, path


def test_written_files_are_stable(real_data, tmp_path):
    t = read_reflections(str(real_data / "spots/centroid/strong.refl"))
    e = read_experiments(str(real_data / "integrated/centroid/integrated.expt"))
    sub = t.select(t["intensity.sum.value"] > 100)
    write_reflections(sub, tmp_path / "a.refl")
    write_reflections(read_reflections(str(tmp_path / "a.refl")), tmp_path / "b.refl")
    assert (tmp_path / "a.refl").read_bytes() == (tmp_path / "b.refl").read_bytes()
    back = read_reflections(str(tmp_path / "a.refl"))
    assert back["shoebox"] == sub["shoebox"] and np.array_equal(back["xyzobs.px.value"], sub["xyzobs.px.value"])
    write_experiments(e, tmp_path / "a.expt")
    write_experiments(read_experiments(str(tmp_path / "a.expt"), resolve_paths=False), tmp_path / "b.expt")
    assert (tmp_path / "a.expt").read_bytes() == (tmp_path / "b.expt").read_bytes()


def test_new_tables_and_experiments_get_dials_types(tmp_path):
    from friedel.models import Beam, Crystal, Detector, Experiment, Panel
    from friedel.reflection_table import ReflectionTable

    t = ReflectionTable({"miller_index": np.array([[1, 2, 3]]), "flags": [int(Flags.indexed)], "panel": [0],
                         "id": [0], "d": [2.5], "s1": np.ones((1, 3)), "bbox": np.zeros((1, 6))})
    write_reflections(t, tmp_path / "x.refl")
    back = read_reflections(str(tmp_path / "x.refl"))
    assert back.column_types == {"bbox": "int6", "d": "double", "flags": "std::size_t", "id": "int",
                                 "miller_index": "cctbx::miller::index<>", "panel": "std::size_t",
                                 "s1": "vec3<double>"}
    e = ExperimentList([Experiment(beam=Beam(), detector=Detector([Panel()]),
                                   crystal=Crystal.from_cell((10, 10, 10, 90, 90, 90), "P 2 3"))])
    write_experiments(e, tmp_path / "x.expt")
    assert read_experiments(str(tmp_path / "x.expt"))[0].crystal.space_group.number == 195


def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(FileFormatError, match="does not exist"):
        read_reflections(str(tmp_path / "missing.refl"))
    (tmp_path / "bad.refl").write_bytes(b"\x93\x01\x02")
    with pytest.raises(FileFormatError):
        read_reflections(str(tmp_path / "bad.refl"))
    (tmp_path / "bad.expt").write_text("{not json")
    with pytest.raises(FileFormatError, match="not a valid .expt"):
        read_experiments(str(tmp_path / "bad.expt"))


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    from friedel.io.atomic import atomic_write

    target = tmp_path / "out.refl"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as handle:
            handle.write(b"partial")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1
