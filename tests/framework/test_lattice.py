"""The kernel lattice module against gemmi and against known lattices."""

import gemmi
import numpy as np
import pytest

from friedel import lattice as lat
from friedel.errors import FriedelError


def random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def unimodular(rng, size=2):
    while True:
        M = rng.integers(-size, size + 1, size=(3, 3)).astype(float)
        if round(np.linalg.det(M)) == 1:
            return M


def conventional_basis(cell, rng):
    """Rows a, b, c of ``cell`` in a random orientation."""
    B = np.array(gemmi.UnitCell(*cell).orth.mat.tolist())  # columns a, b, c
    return (random_rotation(rng) @ B).T


def primitive_of(D, space_group):
    """A primitive basis of a centred conventional basis (centring vectors of the space group)."""
    sg = gemmi.SpaceGroup(space_group)
    cen = [np.array(c, float) / gemmi.Op.DEN for c in sg.operations().cen_ops if any(c)]
    vecs = [np.eye(3)[i] for i in range(3)] + cen
    for trio in __import__("itertools").combinations(vecs, 3):
        M = np.array(trio)
        if abs(abs(np.linalg.det(M)) * len(sg.operations().cen_ops) - 1) < 1e-6:
            return M @ D
    raise AssertionError("no primitive basis")


def test_cells_of_bases_metrics_and_A_agree_with_gemmi():
    rng = np.random.default_rng(3)
    cell = (41.2, 53.7, 67.1, 81.0, 97.5, 103.2)
    D = conventional_basis(cell, rng)
    assert np.allclose(lat.cell_of_basis(D), cell)
    assert np.allclose(lat.cell_of_A(np.linalg.inv(D)), cell)
    assert np.allclose(lat.metric_of_cell(cell), np.array(gemmi.UnitCell(*cell).metric_tensor().as_mat33().tolist()))
    assert np.allclose(lat.cell_of_metric(lat.metric_of_basis(D)), cell)


def test_change_of_basis_text_and_actions_are_consistent():
    cb = lat.ChangeOfBasis.from_string("b+c,a+c,a+b")
    assert cb.as_abc() == "b+c,a+c,a+b" and str(cb.inverse().inverse()) == "b+c,a+c,a+b"
    rng = np.random.default_rng(1)
    D = conventional_basis((30, 40, 50, 90, 90, 90), rng)
    D2 = cb.apply_to_basis(D)
    assert np.allclose(D2[0], D[1] + D[2]) and np.allclose(D2[2], D[0] + D[1])
    assert np.allclose(cb.apply_to_cell((30, 40, 50, 90, 90, 90)), lat.cell_of_basis(D2))
    # reciprocal points keep their position: A' h' = A h
    h = rng.integers(-5, 6, size=(20, 3))
    A, A2 = np.linalg.inv(D), cb.apply_to_A(np.linalg.inv(D))
    assert np.allclose(A2 @ cb.apply_to_miller_indices(h, check_integral=False).T, A @ h.T)
    assert lat.ChangeOfBasis.between(D, D2) == cb
    with pytest.raises(FriedelError, match="not valid"):
        lat.ChangeOfBasis.from_string("a+b,c")
    with pytest.raises(FriedelError, match="left-handed.*e.g. -a,-b,c"):
        lat.ChangeOfBasis.from_string("-a,b,c")
    with pytest.raises(FriedelError, match="non-integral"):
        cb.inverse().apply_to_miller_indices(np.array([[1, 0, 0]]))


def test_niggli_reduction_of_a_skewed_basis_gives_the_reduced_cell_and_keeps_the_lattice():
    rng = np.random.default_rng(7)
    cell = (37.0, 45.0, 61.0, 78.0, 84.0, 97.0)
    reduced_expected, _ = lat.niggli_reduction(cell)
    for _ in range(20):
        D = lat.right_handed(unimodular(rng) @ conventional_basis(cell, rng))
        reduced, cb = lat.niggli_reduction(lat.cell_of_basis(D))
        assert np.allclose(reduced.parameters, reduced_expected.parameters, atol=1e-6)
        assert np.allclose(cb.apply_to_cell(lat.cell_of_basis(D)), reduced.parameters, atol=1e-6)
        N = lat.niggli_basis(D)
        assert np.allclose(lat.cell_of_basis(N), reduced.parameters, atol=1e-6)
        M = N @ np.linalg.inv(D)  # same lattice: an integer matrix of determinant 1
        assert np.allclose(M, np.round(M), atol=1e-6) and round(np.linalg.det(M)) == 1


@pytest.mark.parametrize("space_group,cell", [
    ("C 1 2 1", (98.0, 55.0, 67.0, 90.0, 117.0, 90.0)),
    ("I 4", (61.0, 61.0, 103.0, 90.0, 90.0, 90.0)),
    ("P 41 21 2", (57.8, 57.8, 150.0, 90.0, 90.0, 90.0)),
    ("H 3", (82.0, 82.0, 120.0, 90.0, 90.0, 120.0)),
    ("F 2 3", (150.0, 150.0, 150.0, 90.0, 90.0, 90.0)),
])
def test_space_group_setting_recovers_the_conventional_cell(space_group, cell):
    rng = np.random.default_rng(11)
    sg = gemmi.SpaceGroup(space_group)
    D = conventional_basis(cell, rng)
    P = lat.right_handed(unimodular(rng, 1) @ primitive_of(D, space_group))  # what an indexer would find
    for target in (None, cell):
        found = lat.space_group_setting(P, sg, unit_cell=target)
        assert np.allclose(lat.cell_of_basis(found), cell, rtol=1e-6, atol=1e-6), (target, lat.cell_of_basis(found))
        # the same lattice: the primitive basis is an integer combination of the found one
        M = P @ np.linalg.inv(found)
        assert np.allclose(M * len(sg.operations().cen_ops), np.round(M * len(sg.operations().cen_ops)), atol=1e-6)


def test_a_lattice_that_does_not_fit_is_a_one_line_error():
    rng = np.random.default_rng(2)
    D = conventional_basis((40.0, 50.0, 60.0, 90.0, 90.0, 90.0), rng)
    with pytest.raises(FriedelError, match="does not fit unit_cell=70,70,70"):
        lat.space_group_setting(D, gemmi.SpaceGroup("P 2 3"), unit_cell=(70, 70, 70, 90, 90, 90))


def test_niggli_cell_of_a_centred_cell_is_primitive():
    conventional = (61.0, 61.0, 103.0, 90.0, 90.0, 90.0)  # I-centred: half the volume
    primitive = lat.niggli_cell_of(conventional, "I")
    assert np.isclose(gemmi.UnitCell(*primitive).volume, gemmi.UnitCell(*conventional).volume / 2)
