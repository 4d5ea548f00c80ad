"""Entry-point module of the symmetry plugins (registered in pyproject.toml).

Declared lazily: the modules are imported when a command runs or a method is chosen.
"""

from friedel.hookspecs import LazyPlugin, hookimpl


@hookimpl
def friedel_commands():
    module = "friedel.plugins.symmetry.commands:"
    return [LazyPlugin("symmetry", module + "SymmetryCommand",
                       help="Laue group and space group of a crystal from its integrated intensities"),
            LazyPlugin("cosym", module + "CosymCommand",
                       help="Consistent indexing and Laue group of many data sets (crystals or sweeps)")]


@hookimpl
def friedel_symmetry_methods():
    module, params = "friedel.plugins.symmetry.methods:", "friedel.plugins.symmetry.params:"
    return [LazyPlugin("evans", module + "EvansLaueGroup", params=params + "EvansParams",
                       help="Evans-style scoring of the lattice's rotations and sub-groups"),
            LazyPlugin("cosym", module + "CosymEmbedding", params=params + "CosymParams",
                       help="Gildea & Winter embedding of data sets x lattice operations")]
