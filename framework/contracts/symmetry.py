"""Contract of the ``symmetry_methods`` extension point: deciding the Laue group (and, for
several data sets, a consistent indexing) from merged intensities.

``friedel symmetry`` and ``friedel cosym`` prepare the data the same way (intensity choice,
corrections, partiality cut, per-data-set merging in P1, E^2 normalisation, resolution cut),
find the lattice group of the cell (Le Page), and hand both to a method::

    method = build_plugin("symmetry_methods", name, params.symmetry)   # Params sub-scope if any
    result = method(datasets, lattice)                                  # -> SymmetryResult

Everything a method sees is in one basis: the standard setting of the lattice
(``lattice.rotations`` are integer 3x3 matrices acting on its fractional coordinates, so
reflection ``h`` (a row) is related to ``h @ R``). The commands then check absences, reindex
and write the outputs; a method never touches files.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np


@dataclass
class MergedDataset:
    """One data set merged in P1 with Friedel mates together, in the lattice's standard setting.

    Attributes
    ----------
    identifier : str
        Experiment identifier (or its index as text when the file has none).
    hkl : (n, 3) int32 array
        Unique indices; exactly one of each Friedel pair, no (0, 0, 0).
    intensity : (n,) float array
        Normalised intensity E^2 (mean 1 in every resolution shell for acentric data).
    sigma : (n,) float array
        Standard deviation of ``intensity`` (same units), > 0.
    d : (n,) float array
        Resolution (Angstrom).
    multiplicity : (n,) int array
        Observations merged into each unique reflection.
    """

    identifier: str
    hkl: np.ndarray
    intensity: np.ndarray
    sigma: np.ndarray
    d: np.ndarray
    multiplicity: np.ndarray
    #: optional pairs of repeated observations of one reflection (E^2 of each), for E(CC)
    repeat_pairs: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.hkl)


@dataclass
class LatticeGroup:
    """The point group of the lattice (proper rotations) in its standard setting.

    Attributes
    ----------
    lattice : str
        Bravais symbol (aP, mC, tP, cI, ...).
    rotations : list of (3, 3) int arrays
        Every proper rotation of the lattice, identity first; ``h @ R`` is related to ``h``.
    unit_cell : tuple of 6 floats
        The symmetrised cell of the standard setting (Angstrom, degrees).
    max_delta : float
        Le Page obliquity of the worst twofold axis (degrees).
    twofold_deltas : dict
        Obliquity (degrees) of each twofold, keyed by ``tuple(R.ravel())``.
    """

    lattice: str
    rotations: list
    unit_cell: tuple
    max_delta: float = 0.0
    twofold_deltas: dict = field(default_factory=dict)


@dataclass
class SymmetryResult:
    """What a symmetry method decided.

    Attributes
    ----------
    laue_rotations : list of (3, 3) int arrays
        The proper rotations of the chosen Laue group (a subgroup of the lattice group, in the
        same basis); the Laue group is this rotation group plus the inversion.
    reindex : list of (3, 3) int arrays
        One per data set (same order as the input): the operation ``R`` of the lattice group
        by which that data set's indices are to be changed (``h' = h @ R``) so that all data
        sets are indexed consistently. All identity for a single data set.
    likelihood : float
        Probability of the chosen Laue group among all subgroups (0..1).
    confidence : float
        How far the best is ahead of the next (0..1).
    scores : dict
        JSON-serialisable details for the report (tables of operators and subgroups, ...).
    excluded : dict
        identifier -> reason, data sets the method refused (e.g. too few reflections).
    details : object
        Optional method-specific Python objects (e.g. element and subgroup scores) for the
        command's tables; not written anywhere as such.
    """

    laue_rotations: list
    reindex: list
    likelihood: float
    confidence: float
    scores: dict = field(default_factory=dict)
    excluded: dict = field(default_factory=dict)
    details: object = None


class SymmetryMethod(abc.ABC):
    """A way to choose the Laue group (and the indexing of each data set) from intensities.

    Construction: ``Method(params)`` when the class has a ``Params`` scope, else ``Method()``.

    Call: ``method(datasets, lattice, allowed=None) -> SymmetryResult`` with ``datasets`` a
    non-empty list of :class:`MergedDataset` in the basis of ``lattice`` (:class:`LatticeGroup`).
    ``allowed``, when given, is a list of rotation groups (lists of 3x3 int arrays, subgroups of
    the lattice group): the user fixed the Laue group and the method must choose among these
    (it still scores everything).

    Invariants: ``result.laue_rotations`` is a group contained in ``lattice.rotations``;
    ``len(result.reindex) == len(datasets)``, each an element of ``lattice.rotations``
    (identity where no change is needed); data sets named in ``result.excluded`` get identity.
    Raise :class:`friedel.errors.FriedelError` with a one-line reason when the data cannot
    decide anything (e.g. no pairs of related reflections at all).
    """

    name: str = ""

    @abc.abstractmethod
    def __call__(self, datasets: list[MergedDataset], lattice: LatticeGroup, allowed=None) -> SymmetryResult:
        """Decide the Laue group (and per-data-set reindexing)."""
