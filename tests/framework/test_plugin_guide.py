"""Every example of docs/writing_a_plugin.md, installed as the guide says (a distribution with one
entry point), fits its contract and does what the guide claims."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from friedel import plugin_manager
from friedel.contracts import check_plugin
from friedel.plugin_manager import build_plugin, get_plugin

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "writing_a_plugin.md"
PLUGINS = {"formats": "my_raw", "spotfinder_thresholds": "above", "spotfinder_filters": "edge",
           "indexing_methods": "axis_scan", "background_algorithms": "flat_mean", "scaling_models": "scale_only"}


def guide_blocks() -> dict[str, str]:
    """Python blocks of the guide whose first line names their file (``# my_facility/x.py``)."""
    blocks = re.findall(r"```python\n# (\S+\.py)[^\n]*\n(.*?)```", GUIDE.read_text(), flags=re.S)
    return {name: code for name, code in blocks}


@pytest.fixture(scope="module")
def my_facility(tmp_path_factory):
    root = tmp_path_factory.mktemp("guide_site")
    package = root / "my_facility"
    package.mkdir()
    (package / "__init__.py").write_text("")
    blocks = guide_blocks()
    for name, code in blocks.items():
        if name.startswith("my_facility/"):
            (root / name).write_text(code)
    info = root / "my_facility-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-facility\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[friedel]\nmy_facility = my_facility.plugins\n")
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    plugin_manager.reset(entry_points=True)
    yield root, blocks
    sys.path.remove(str(root))
    for module in [m for m in sys.modules if m == "my_facility" or m.startswith("my_facility.")]:
        del sys.modules[module]
    plugin_manager.reset(entry_points=True)


def test_every_example_is_registered_and_fits_its_contract(my_facility):
    for point, name in PLUGINS.items():
        cls = get_plugin(point, name)
        assert cls.__module__.startswith("my_facility."), (point, name)
        assert check_plugin(point, cls) == [], (point, name)
    assert not [r for r in plugin_manager.refusals() if r.source.distribution == "my-facility"]


def test_the_guides_own_pytest_examples_pass(my_facility):
    _, blocks = my_facility
    namespace: dict = {}
    exec(compile(blocks["tests/test_my_plugins.py"], "test_my_plugins.py", "exec"), namespace)
    tests = [f for n, f in namespace.items() if n.startswith("test_")]
    assert len(tests) == 2
    for test in tests:
        test()


def test_the_format_reads_its_file(my_facility, tmp_path):
    from friedel.formats import open_file

    pixels = np.arange(12, dtype="<u2").reshape(3, 4)
    path = tmp_path / "image.raw"
    path.write_bytes(b"RAW1 4 3 120.5\n" + pixels.tobytes())
    reader = open_file(path)
    assert reader.name == "my_raw" and reader.scan.is_still and reader.goniometer is None
    assert np.array_equal(reader.get_raw_data(0)[0], pixels)
    assert reader.detector[0].distance == pytest.approx(120.5)


def test_the_spot_filter_uses_its_parameter(my_facility):
    from friedel.formats.base import simple_detector
    from friedel.models import Experiment, ExperimentList
    from friedel.phil.tree import ParameterTree
    from friedel.plugins.spotfinding.params import FilterParams
    from friedel.reflection_table import ReflectionTable

    tree = ParameterTree(FilterParams)
    params = tree.extract([tree.parse_assignment("edge.margin=10")])
    detector = simple_detector(distance_mm=100, beam_xy_px=(50, 50), pixel_size=(0.1, 0.1), image_size=(100, 80),
                               trusted_range=(-1, 1000))
    table = ReflectionTable()
    table["xyzobs.px.value"] = np.array([[5.0, 40, 0.5], [50, 40, 0.5], [95, 40, 0.5], [50, 75, 0.5]])
    table["id"] = np.zeros(4, np.int64)
    table["panel"] = np.zeros(4, np.int64)
    edge = build_plugin("spotfinder_filters", "edge", params)
    assert edge(table, ExperimentList([Experiment(detector=detector)]), params).tolist() == [False, True, False, False]


def test_the_indexing_method_finds_the_lattice_vectors(my_facility):
    rng = np.random.default_rng(5)
    D = np.diag([40.0, 50.0, 60.0])  # a lattice along the laboratory axes
    hkl = rng.integers(-12, 13, size=(500, 3))
    rlp = hkl @ np.linalg.inv(D).T
    method = build_plugin("indexing_methods", "axis_scan")
    vectors, scores = method.find_vectors(rlp, 70.0, 1.5)
    lengths = np.linalg.norm(vectors[:3], axis=1)
    assert np.allclose(lengths, [40, 50, 60], rtol=0.01) and np.all(scores[:3] > 0.95)


def test_the_background_model_fits_a_flat_background(my_facility):
    from friedel.flags import MaskCode

    rng = np.random.default_rng(2)
    shapes = np.array([[3, 7, 7], [2, 5, 9]])
    offsets = np.concatenate([[0], np.cumsum(np.prod(shapes, axis=1))])
    data = rng.poisson(5.0, offsets[-1]).astype(np.float32)
    mask = np.full(offsets[-1], int(MaskCode.valid | MaskCode.background), np.uint8)
    mask[offsets[1]:offsets[1] + 10] |= int(MaskCode.overlapped)  # not to be used
    background = np.zeros_like(data)
    model = build_plugin("background_algorithms", "flat_mean", None, experiment=None, background_scope=None)
    ok, mean, variance = model(data, mask, offsets, shapes, background)
    assert ok.all() and np.allclose(mean, 5.0, atol=0.6) and np.all(variance > 0)
    assert np.allclose(background[: offsets[1]], mean[0])
    used = (mask & int(MaskCode.background_used)) > 0
    assert used.sum() == offsets[-1] - 10


def test_the_scaling_model_gives_inverse_scales_and_their_derivatives(my_facility):
    from friedel.contracts.scaling import ScalingModelData

    n = 6
    data = ScalingModelData(d=np.linspace(2, 5, n), phi=np.zeros(n), s1=np.ones((n, 3)), image=np.ones(n, int))
    model = build_plugin("scaling_models", "scale_only", None, experiment=None, data=data)
    g, jacobian = model.inverse_scales(np.array([2.0]))
    assert np.allclose(g, 2.0) and jacobian.to_sparse(model.n_parameters).toarray().tolist() == [[1.0]] * n
    assert model.to_dict()["scale"]["parameters"] == [1.0]
