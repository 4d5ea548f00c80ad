"""Symmetry-constrained cells for every lattice type (and centred/rhombohedral settings)."""

import gemmi
import numpy as np
import pytest

from friedel.models import Crystal
from friedel.models.crystal import B_matrix, cell_from_A
from friedel.plugins.refinement.cell_constraints import B_from_metric, MetricModel
from friedel.plugins.refinement.parameterisations import CrystalUnitCellParameterisation

LATTICES = [  # lattice, space group, cell, free parameters
    ("aP", "P 1", (50, 60, 70, 80, 95, 100), 6),
    ("mP", "P 1 2 1", (50, 60, 70, 90, 100, 90), 4),
    ("mC", "C 1 2 1", (80, 50, 60, 90, 110, 90), 4),
    ("oP", "P 2 2 2", (50, 60, 70, 90, 90, 90), 3),
    ("oC", "C 2 2 2", (50, 80, 70, 90, 90, 90), 3),
    ("oF", "F 2 2 2", (50, 60, 70, 90, 90, 90), 3),
    ("oI", "I 2 2 2", (50, 60, 70, 90, 90, 90), 3),
    ("tP", "P 4 2 2", (50, 50, 70, 90, 90, 90), 2),
    ("tI", "I 4", (50, 50, 70, 90, 90, 90), 2),
    ("hR", "R 3 :H", (60, 60, 90, 90, 90, 120), 2),
    ("hR (rhombohedral axes)", "R 3 2 :R", (40, 40, 40, 80, 80, 80), 2),
    ("hP", "P 6 2 2", (50, 50, 80, 90, 90, 120), 2),
    ("cP", "P 2 3", (50, 50, 50, 90, 90, 90), 1),
    ("cF", "F 2 3", (50, 50, 50, 90, 90, 90), 1),
    ("cI", "I 2 3", (50, 50, 50, 90, 90, 90), 1),
]


@pytest.mark.parametrize("lattice,space_group,cell,n_free", LATTICES, ids=[x[0] for x in LATTICES])
def test_constrained_cell_keeps_lattice_symmetry(lattice, space_group, cell, n_free):
    sg = gemmi.SpaceGroup(space_group)
    model = MetricModel(sg.operations())
    assert model.n_parameters == n_free
    B = B_matrix(gemmi.UnitCell(*cell))
    p = model.parameters_from_B(B)
    assert np.allclose(model.B(p), B, atol=1e-12)  # B consistent with gemmi's cell
    rng = np.random.default_rng(3)
    for _ in range(5):
        moved = p * (1 + 0.02 * rng.standard_normal(len(p)))
        new_cell = cell_from_A(model.B(moved))
        assert new_cell.is_compatible_with_spacegroup(sg, 1e-6), (lattice, new_cell)
        assert abs(new_cell.volume - gemmi.UnitCell(*cell).volume) / new_cell.volume < 0.2


def test_nearly_tetragonal_cell_is_symmetrised_and_orientation_kept():
    U = gemmi.Mat33()
    crystal = Crystal.from_cell((50.0, 50.3, 70.0, 90.2, 89.9, 90.0), "P 4 2 2")
    U0 = crystal.U
    p = CrystalUnitCellParameterisation(crystal, [0])
    c = crystal.unit_cell
    assert p.n_free == 2
    assert abs(c.a - c.b) < 1e-9 and abs(c.alpha - 90) < 1e-9 and abs(c.beta - 90) < 1e-9
    assert abs(c.a - 50.15) < 0.01
    assert np.allclose(crystal.U @ U0.T, np.eye(3), atol=2e-3)
    del U


def test_B_from_metric_inverts_BtB():
    B = B_matrix(gemmi.UnitCell(31, 47, 59, 77, 99, 105))
    assert np.allclose(B_from_metric(B.T @ B), B, atol=1e-14)
