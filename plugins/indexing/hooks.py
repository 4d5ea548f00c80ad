"""Entry-point module of the indexing plugins (``friedel.plugins.indexing.hooks``).

A basis-vector search (hook ``friedel_indexing_methods``) is a class with ``name``, a
docstring, optionally ``Params``, constructed with its params, and a method
``find_vectors(rlp, max_cell, d_min, unit_cell=None) -> (vectors (n x 3, Angstrom), scores)``
returning candidate real-space lattice vectors; the indexer refines, de-duplicates and
combines them into bases.
"""

from friedel.hookspecs import LazyPlugin, hookimpl


@hookimpl
def friedel_indexing_methods():
    from friedel.plugins.indexing.fft1d import Fft1d
    from friedel.plugins.indexing.fft3d import Fft3d
    from friedel.plugins.indexing.real_space_grid_search import RealSpaceGridSearch

    return [Fft3d, Fft1d, RealSpaceGridSearch]


@hookimpl
def friedel_commands():
    return [
        LazyPlugin("index", "friedel.plugins.indexing.commands:IndexCommand",
                   help="Find the crystal lattice(s), assign Miller indices and refine the models"),
        LazyPlugin("search_beam_position", "friedel.plugins.indexing.commands:SearchBeamPositionCommand",
                   help="Find a better beam centre: the one that puts the spots on a lattice through the "
                   "reciprocal origin"),
    ]
