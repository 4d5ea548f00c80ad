import pytest

from friedel import plugin_manager
from friedel.errors import ParameterError
from friedel.hookspecs import hookimpl
from friedel.parallel import MpParams
from friedel.phil import param, plugin_choice, scope, types
from friedel.phil.tree import ParameterTree


@scope
class GridParams:
    """A grid search."""

    n_points: int = param(256, help="Grid points", expert_level=1)


class FakeGrid:
    """A fake basis-vector search contributed by a plugin."""

    name = "fake_grid"
    Params = GridParams

    def __init__(self, params=None):
        self.params = params

    def find_vectors(self, rlp, max_cell, d_min, unit_cell=None):
        return rlp[:0], rlp[:0, 0]


class FakeLine:
    """A plugin without parameters."""

    name = "fake_line"

    def find_vectors(self, rlp, max_cell, d_min, unit_cell=None):
        return rlp[:0], rlp[:0, 0]


class FakePlugins:
    @hookimpl
    def friedel_indexing_methods(self):
        return [FakeGrid, FakeLine]


@pytest.fixture
def with_fake_plugins():
    pm = plugin_manager.get_plugin_manager()
    plugin = FakePlugins()
    pm.register(plugin)
    plugin_manager.registry.cache_clear()
    yield
    pm.unregister(plugin)
    plugin_manager.registry.cache_clear()


@scope
class Indexing:
    """Indexing."""

    method: str = plugin_choice("indexing_methods", default="fake_grid", help="Basis-vector search")
    unit_cell: tuple | None = param(None, type=types.UnitCell(), help="Known cell")
    space_group: str | None = param(None, type=types.SpaceGroup())
    d_min: float | None = param(None, help="Resolution limit")


@scope
class Refinement:
    d_min: float | None = param(None)
    max_iterations: int = param(20, type=types.Int(min=1))


@scope
class Master:
    indexing: Indexing = param(Indexing)
    refinement: Refinement = param(Refinement)
    mp: MpParams = param(MpParams)
    untrusted_rectangle: tuple = param([], type=types.Ints(size=4), multiple=True, help="x0,x1,y0,y1")


def test_exact_paths_suffixes_and_defaults(with_fake_plugins):
    tree = ParameterTree(Master)
    params = tree.extract([tree.parse_assignment("nproc=4"), tree.parse_assignment("indexing.d_min=2.5"),
                           tree.parse_assignment("space_group=P41212"),
                           tree.parse_assignment("unit_cell=57.8 57.8 150 90 90 90")])
    assert params.mp.nproc == 4 and params.mp.method == "multiprocessing"
    assert params.indexing.d_min == 2.5 and params.refinement.d_min is None
    assert params.indexing.space_group == "P 41 21 2"
    assert params.indexing.unit_cell == (57.8, 57.8, 150.0, 90.0, 90.0, 90.0)
    assert set(tree.modified(params)) == {"mp.nproc", "indexing.d_min", "indexing.space_group", "indexing.unit_cell"}


def test_ambiguous_and_unknown_names_list_candidates(with_fake_plugins):
    tree = ParameterTree(Master)
    with pytest.raises(ParameterError, match="ambiguous.*indexing.d_min.*refinement.d_min"):
        tree.parse_assignment("d_min=2")
    with pytest.raises(ParameterError, match="did you mean mp.nproc"):
        tree.parse_assignment("nprocs=2")
    with pytest.raises(ParameterError, match="unknown parameter 'flux_capacitor'"):
        tree.parse_assignment("flux_capacitor=1")


@pytest.mark.parametrize("text, message", [
    ("nproc=abc", "not a whole number or Auto"),
    ("space_group=P7", "not a space group"),
    ("unit_cell=1,2", "six numbers"),
    ("max_iterations=0", "below the minimum"),
    ("indexing.method=fft9d", "not one of: fake_grid, fake_line"),
])
def test_bad_values(with_fake_plugins, text, message):
    with pytest.raises(ParameterError, match=message):
        ParameterTree(Master).parse_assignment(text)


def test_plugin_scopes_and_choices_come_from_the_registry(with_fake_plugins):
    tree = ParameterTree(Master)
    assert "indexing.fake_grid.n_points" in tree.definitions
    params = tree.extract([tree.parse_assignment("fake_grid.n_points=64"), tree.parse_assignment("indexing.method=fake_line")])
    assert params.indexing.fake_grid.n_points == 64 and params.indexing.method == "fake_line"
    shown = tree.format(expert_level=1, with_help=True)
    assert "choices: fake_grid, fake_line" in shown and "n_points = 256" in shown
    assert "n_points" not in tree.format(expert_level=0)  # expert parameters hidden by default


def test_phil_files_and_multiple_values(with_fake_plugins):
    tree = ParameterTree(Master)
    text = """
    indexing {
      d_min = 3.0   # low resolution first
      fake_grid { n_points = 128 }
    }
    refinement.max_iterations = 5
    untrusted_rectangle = 0,10,0,10
    untrusted_rectangle = 20 30 20 30
    """
    params = tree.extract(tree.parse_phil(text, "my.phil"))
    assert params.indexing.d_min == 3.0 and params.indexing.fake_grid.n_points == 128
    assert params.refinement.max_iterations == 5
    assert params.untrusted_rectangle == [(0, 10, 0, 10), (20, 30, 20, 30)]
    # the modified-parameters display can be read back to the same values
    again = tree.extract(tree.parse_phil(tree.format(params, expert_level=9, only=set(tree.modified(params)))))
    assert tree.to_dict(again) == tree.to_dict(params)
    with pytest.raises(ParameterError, match="not closed"):
        tree.parse_phil("indexing {\n d_min = 2\n")
    with pytest.raises(ParameterError, match="my.phil: unknown parameter"):
        tree.parse_phil("indexing { dmin = 2 }", "my.phil")
