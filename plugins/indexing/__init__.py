"""Indexing: find the crystal lattice(s) from strong spots, assign Miller indices, refine.

Modules, one job each:

* :mod:`.reciprocal` — spots to reciprocal space, maximum cell estimate, resolution helpers;
* :mod:`.vectors` — directions on a hemisphere, real-space vector refinement and de-duplication;
* :mod:`.fft3d`, :mod:`.fft1d`, :mod:`.real_space_grid_search` — basis-vector searches
  (plugins of the ``indexing_methods`` extension point);
* :mod:`.lattice` — choosing a basis from candidate vectors, Niggli reduction, settings of a
  known symmetry, misorientation between lattices;
* :mod:`.assign` — Miller index assignment (``simple`` and ``local``);
* :mod:`.refine` — the single bridge to the refinement engine;
* :mod:`.candidates` — candidate lattices of a set of spots (search, bases, ranking);
* :mod:`.state` — named state: the fixed part of a crystal's search, a trial lattice and its
  macro-cycle records;
* :mod:`.macro_cycles` — assign, refine, re-map, widen the resolution (and the guards on what
  each cycle may refine);
* :mod:`.strategies` — one function per way of finding the next lattice (stills, known
  symmetry refined in P1 first, plain);
* :mod:`.indexer` — the driver: crystals, several lattices, the result;
* :mod:`.beam_search` — beam-centre search (``friedel search_beam_position``).
"""
