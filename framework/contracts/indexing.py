"""Contract of the ``indexing_methods`` extension point: basis-vector searches.

A method proposes real-space lattice vectors that make the spots' reciprocal-lattice points
project on integers; the indexer refines them, removes duplicates and combines them into a
basis, then assigns Miller indices and refines (``friedel index indexing.method=<name>``).

Construction: ``Method(params)`` when the class has ``Params`` (the user's values of
``indexing.<name>.*``), else ``Method()``. Optional class attribute ``needs_unit_cell = True``
for methods that only work with a known cell.

Call: ``method.find_vectors(rlp, max_cell, d_min, unit_cell=None) -> (vectors, scores)``:

* ``rlp`` — ``(n, 3)`` float array, reciprocal-lattice points of the strong spots in
  **1/Angstrom**, in the **crystal frame at rotation angle zero**: the laboratory frame with
  the goniometer's rotation (and setting rotations) undone, so that the spots of a whole sweep,
  and of several sweeps of one crystal, superpose (for a still, its own laboratory frame);
* ``max_cell`` — float, Angstrom: the longest cell edge (or lattice vector) worth returning;
* ``d_min`` — float, Angstrom: the resolution of the highest-resolution point in ``rlp``;
* ``unit_cell`` — None, or the known cell as 6 floats (a, b, c in Angstrom, alpha, beta, gamma
  in degrees) given as the **Niggli-reduced primitive cell** of the user's
  ``known_symmetry.unit_cell`` (so its edges are the shortest lattice vectors, the vectors
  the search should find); a hint, except for methods with ``needs_unit_cell``.

Returns:

* ``vectors`` — ``(m, 3)`` float array of real-space lattice vectors in **Angstrom**, in the
  same frame as ``rlp`` (``rlp @ v`` is close to an integer for every spot); best first;
  ``v`` and ``-v`` are the same vector (return one); they need not form a basis, and may
  include multiples;
* ``scores`` — ``(m,)`` float array, larger is better (only the order is used).

Invariants: at least 3 non-coplanar vectors for the indexer to build a lattice — fewer means
"no lattice found" (the indexer says so, with a hint); lengths between ``indexing.min_cell``
and about ``1.2 * max_cell``. Raise :class:`friedel.errors.FriedelError` with what the user
should do when the method cannot run (e.g. ``unit_cell`` needed but not given). No state
changes between calls (the indexer calls one instance per macro-cycle and per lattice).
"""

from __future__ import annotations

import abc

from friedel.contracts import PluginBase


class IndexingMethod(PluginBase, abc.ABC):
    """A basis-vector search for indexing (see the module docstring)."""

    needs_unit_cell: bool = False

    @abc.abstractmethod
    def find_vectors(self, rlp, max_cell, d_min, unit_cell=None):
        """Candidate real-space vectors (m x 3, Angstrom) and their scores (m,)."""
