"""Lattice group, subgroups and their best settings."""

import gemmi
import numpy as np
import pytest

from friedel.plugins.symmetry.lattice import (
    find_lattice_group,
    hkl_text,
    sohncke_groups,
    subgroup_setting,
    subgroups,
    symmetry_elements,
)


def _settings(cell, sg="P 1"):
    search = find_lattice_group(gemmi.UnitCell(*cell), 2.0, sg)
    return search, [subgroup_setting(g, search) for g in subgroups(search.group.rotations)]


def test_tetragonal_lattice_has_ten_subgroups_with_standard_symbols():
    search, settings = _settings((57.8, 57.8, 150.0, 90, 90, 90))
    assert search.group.lattice == "tP" and len(search.group.rotations) == 8
    assert search.cb_op.as_abc() == "a,b,c"
    symbols = sorted(s.patterson_group for s in settings)
    assert symbols == sorted(["P -1", "P 1 2/m 1", "P 1 2/m 1", "P 1 2/m 1", "C 1 2/m 1", "C 1 2/m 1",
                              "P m m m", "C m m m", "P 4/m", "P 4/m m m"])
    top = next(s for s in settings if s.patterson_group == "P 4/m m m")
    names = [g.xhm() for g in sohncke_groups(top)]
    assert "P 41 21 2" in names and "P 43 21 2" in names and len(names) == 8
    # elements: 5 twofolds and one fourfold (with its inverse)
    elements = symmetry_elements(search.group.rotations)
    assert sorted(len(e) for e in elements) == [1, 1, 1, 1, 1, 2]


def test_centred_input_setting_is_taken_to_its_primitive_lattice():
    search, settings = _settings((77.9, 77.9, 77.9, 90, 90, 90), "I 21 3")
    assert search.group.lattice == "cI" and len(search.group.rotations) == 24
    by_symbol = {s.patterson_group for s in settings}
    assert {"I m -3", "I m -3 m", "I 4/m m m", "R -3 m:H", "F m m m"} <= by_symbol
    cubic = next(s for s in settings if s.patterson_group == "I m -3")
    assert [g.xhm() for g in sohncke_groups(cubic)] == ["I 2 3", "I 21 3"]


def test_monoclinic_c2_keeps_its_setting():
    search, settings = _settings((101.6, 45.0, 60.9, 90, 99.0, 90), "C 1 2 1")
    assert search.group.lattice == "mC" and search.cb_op.as_abc() == "a,b,c"
    c2 = next(s for s in settings if s.patterson_group == "C 1 2/m 1")
    assert c2.cb_op.as_abc() == "a,b,c"
    assert np.allclose(c2.unit_cell, (101.6, 45.0, 60.9, 90, 99.0, 90), atol=1e-3)


def test_a_permuted_primitive_basis_is_brought_back_to_the_standard_cell():
    # thaumatin indexed as (c, a, b): the lattice search finds the tetragonal setting again
    search, _ = _settings((150.0, 57.8, 57.8, 90, 90, 90))
    assert search.group.lattice == "tP"
    assert np.allclose(search.group.unit_cell, (57.8, 57.8, 150.0, 90, 90, 90), atol=1e-6)


@pytest.mark.parametrize("cell,lattice,n_subgroups", [
    ((4.913, 4.913, 5.405, 90, 90, 120), "hP", 16),
    ((54.9, 58.6, 67.4, 90, 90, 90), "oP", 5),
    ((40, 50, 60, 80, 85, 95), "aP", 1),
])
def test_lattices_and_subgroup_counts(cell, lattice, n_subgroups):
    search, settings = _settings(cell)
    assert search.group.lattice == lattice
    assert len(settings) == n_subgroups


def test_hkl_text():
    assert hkl_text(np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]])) == "k,-h,l"


def test_built_in_methods_fit_the_symmetry_contract():
    from friedel.contracts import check_plugin
    from friedel.contracts.symmetry import SymmetryMethod
    from friedel.plugin_manager import build_plugin, get_plugin
    from friedel.plugins.symmetry.params import SymmetryParams

    for name in ("evans", "cosym"):
        cls = get_plugin("symmetry_methods", name)
        assert issubclass(cls, SymmetryMethod) and check_plugin("symmetry_methods", cls) == []
        method = build_plugin("symmetry_methods", name, SymmetryParams())
        assert isinstance(method, SymmetryMethod)
