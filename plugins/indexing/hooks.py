"""Entry-point module of the indexing plugins (``friedel.plugins.indexing.hooks``).

A basis-vector search (hook ``friedel_indexing_methods``) follows the contract
:class:`friedel.contracts.indexing.IndexingMethod`: ``find_vectors(rlp, max_cell, d_min,
unit_cell=None) -> (vectors (n x 3, Angstrom), scores)`` returning candidate real-space lattice
vectors; the indexer refines, de-duplicates and combines them into bases.
"""

from friedel.hookspecs import LazyPlugin, hookimpl


@hookimpl
def friedel_indexing_methods():
    # declared: a method's module (numba, scipy) is imported only when it is chosen
    params = "friedel.plugins.indexing.params:"
    return [
        LazyPlugin("fft3d", "friedel.plugins.indexing.fft3d:Fft3d", params=params + "Fft3dParams"),
        LazyPlugin("fft1d", "friedel.plugins.indexing.fft1d:Fft1d", params=params + "Fft1dParams"),
        LazyPlugin("real_space_grid_search", "friedel.plugins.indexing.real_space_grid_search:RealSpaceGridSearch",
                   params=params + "RealSpaceGridSearchParams"),
    ]


@hookimpl
def friedel_commands():
    return [
        LazyPlugin("index", "friedel.plugins.indexing.commands:IndexCommand",
                   help="Find the crystal lattice(s), assign Miller indices and refine the models"),
        LazyPlugin("search_beam_position", "friedel.plugins.indexing.commands:SearchBeamPositionCommand",
                   help="Find a better beam centre: the one that puts the spots on a lattice through the "
                   "reciprocal origin"),
    ]
