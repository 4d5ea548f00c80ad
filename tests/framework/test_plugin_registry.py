"""The registry against badly behaved third-party packages: each problem is refused with a clear
message naming the plugin, and friedel keeps working with its built-ins.

A fake distribution (``*.dist-info`` with ``entry_points.txt``) is put on ``sys.path``, exactly
how an installed package is found, so discovery runs through the real entry-point machinery.
"""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from friedel import plugin_manager
from friedel.errors import ParameterError
from friedel.plugin_manager import PluginError, PluginWarning, build_plugin, get_plugin, refusals

REPO = Path(__file__).resolve().parents[2]

ACME = '''
from friedel.hookspecs import LazyPlugin, hookimpl
from friedel.phil import param, scope


@scope
class RefineParams:
    """A method whose name is a parameter of indexing."""
    depth: int = param(2)


class Shadow:
    """Pretends to be the built-in fft3d."""
    name = "fft3d"

    def find_vectors(self, rlp, max_cell, d_min, unit_cell=None):
        return rlp[:0], rlp[:0, 0]


class Refine:
    """Collides with indexing.refine."""
    name = "refine"
    Params = RefineParams

    def __init__(self, params):
        self.params = params

    def find_vectors(self, rlp, max_cell, d_min, unit_cell=None):
        return rlp[:0], rlp[:0, 0]


class TwoArgumentThreshold:
    """Written to an old signature."""
    name = "two_args"

    def __call__(self, image, mask):
        return mask


class Nameless:
    """No name at all."""

    def __call__(self, image, mask, trusted_range):
        return mask


@scope
class BrightParams:
    """Remove spots brighter than a limit."""
    max_counts: float = param(1e9, help="Largest summed intensity kept")


class BrightSpots:
    """Removes saturated-looking spots."""
    name = "bright_spots"
    Params = BrightParams

    def __init__(self, params):
        self.params = params

    def __call__(self, reflections, experiments, filter_params):
        return reflections["intensity.sum.value"] <= self.params.max_counts


@hookimpl
def friedel_indexing_methods():
    return [Shadow, Refine, LazyPlugin("missing_module", "acme_nowhere.search:Search", help="cannot import"),
            LazyPlugin("misnamed", "acme_plugins:Refine", params="acme_plugins:RefineParams")]


@hookimpl
def friedel_spotfinder_thresholds():
    return [TwoArgumentThreshold, Nameless]


@hookimpl
def friedel_spotfinder_filters():
    return [BrightSpots]
'''


def make_distribution(root: Path, dist: str, modules: dict[str, str], entry_points: dict[str, str]) -> None:
    """Write an importable module set and a ``.dist-info`` that registers its entry points."""
    for name, text in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(text))
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[friedel]\n{lines}")


@pytest.fixture(scope="module")
def acme_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("acme_site")
    make_distribution(root, "acme-friedel", {"acme_plugins": ACME, "acme_broken": "import acme_does_not_exist\n"},
                      {"acme": "acme_plugins", "acme_broken": "acme_broken"})
    return root


@pytest.fixture
def acme(acme_site):
    sys.path.insert(0, str(acme_site))
    importlib.invalidate_caches()
    plugin_manager.reset(entry_points=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
    sys.path.remove(str(acme_site))
    for name in ("acme_plugins", "acme_broken"):
        sys.modules.pop(name, None)
    plugin_manager.reset(entry_points=True)


def _refusal(point, name):
    found = [r for r in refusals() if r.point == point and r.name == name]
    assert found, f"no refusal of {point} {name}: {[str(r) for r in refusals()]}"
    return str(found[0])


def test_a_shadowing_name_keeps_the_built_in(acme):
    cls = get_plugin("indexing_methods", "fft3d")
    assert cls.__module__ == "friedel.plugins.indexing.fft3d"
    message = _refusal("indexing_methods", "fft3d")
    assert "acme-friedel" in message and "already taken by friedel's built-in plugin" in message
    assert any(issubclass(w.category, PluginWarning) and "fft3d" in str(w.message) for w in acme)


def test_a_name_colliding_with_a_parameter_is_refused(acme):
    from friedel.phil.tree import ParameterTree
    from friedel.plugins.indexing.params import IndexParams

    tree = ParameterTree(IndexParams)
    assert tree.definitions["indexing.refine"].default is True  # the parameter keeps its meaning
    assert not any(p.startswith("indexing.refine.") for p in tree.definitions)
    message = _refusal("indexing_methods", "refine")
    assert "parameter 'refine' of IndexingParams" in message and "acme-friedel" in message
    with pytest.raises(PluginError, match="refine.*nowhere to go"):
        get_plugin("indexing_methods", "refine")


def test_a_wrong_signature_is_refused_with_what_is_wrong(acme):
    from friedel.plugin_manager import plugin_names

    assert "two_args" not in plugin_names("spotfinder_thresholds")
    message = _refusal("spotfinder_thresholds", "two_args")
    assert "__call__(image, mask)" in message and "__call__(image, mask, trusted_range)" in message
    assert "usable `name`" in _refusal("spotfinder_thresholds", "Nameless")
    with pytest.raises(ParameterError, match="two_args.*refused"):
        get_plugin("spotfinder_thresholds", "two_args")
    assert "dispersion" in plugin_names("spotfinder_thresholds")  # built-ins unaffected


def test_an_import_error_is_reported_and_friedel_keeps_working(acme):
    loaded, broken = plugin_manager.plugin_sources()
    assert [b.name for b in broken] == ["acme_broken"]
    assert "acme_does_not_exist" in broken[0].error
    # a lazily declared class that cannot be imported fails only when chosen, with a clear message
    with pytest.raises(PluginError, match="missing_module.*acme-friedel.*cannot be imported.*acme_nowhere"):
        build_plugin("indexing_methods", "missing_module")
    with pytest.raises(PluginError, match="declared as 'misnamed' but acme_plugins:Refine is named 'refine'"):
        get_plugin("indexing_methods", "misnamed")
    assert set(plugin_manager.registry("indexing_methods")) >= {"fft3d", "fft1d", "real_space_grid_search"}


def test_filter_params_are_in_the_tree_and_reach_the_filter(acme):
    from friedel.phil.tree import ParameterTree
    from friedel.plugins.spotfinding.command import FindSpotsParams
    from friedel.plugins.spotfinding.finder import spot_filters
    from friedel.reflection_table import ReflectionTable

    tree = ParameterTree(FindSpotsParams)
    path = tree.resolve("bright_spots.max_counts")
    assert path == "spotfinder.filter.bright_spots.max_counts"
    params = tree.extract([tree.parse_assignment("bright_spots.max_counts=100")])
    filters = {f.name: f for f in spot_filters(params.spotfinder.filter)}
    assert list(filters)[-1] == "bright_spots"  # built-ins first, then third-party
    table = ReflectionTable()
    table["intensity.sum.value"] = np.array([50.0, 150.0, 99.0])
    keep = filters["bright_spots"](table, None, params.spotfinder.filter)
    assert keep.tolist() == [True, False, True]


def test_friedel_plugins_lists_every_refusal_and_exits_cleanly(acme_site, tmp_path):
    env = {"PYTHONPATH": f"{acme_site}:{REPO}", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "friedel.cli", "plugins"], capture_output=True, text=True,
                            cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "BROKEN" in out and "acme_does_not_exist" in out
    for name in ("fft3d", "refine", "two_args", "missing_module"):
        assert f"plugin '{name}' from acme-friedel is ignored" in out
    assert "bright_spots" in out.split("refused plugins")[0]  # the good plugin is listed
    # warnings are one line each, not Python's file:line format
    assert "friedel: warning:" in result.stderr and "warnings.warn" not in result.stderr
    result = subprocess.run([sys.executable, "-m", "friedel.cli", "--help"], capture_output=True, text=True,
                            cwd=tmp_path, env=env)
    assert result.returncode == 0 and "find_spots" in result.stdout


def test_built_in_plugins_all_fit_their_contracts():
    from friedel.contracts import check_plugin
    from friedel.hookspecs import EXTENSION_POINTS

    plugin_manager.reset()
    logging.getLogger("friedel").debug("checking built-ins")
    for point in EXTENSION_POINTS:
        for name, entry in plugin_manager.plugin_entries(point).items():
            if entry.builtin:
                assert check_plugin(point, entry.load()) == [], (point, name)
