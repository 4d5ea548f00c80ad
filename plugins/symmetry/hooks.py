"""Entry-point module of the symmetry plugins (registered in pyproject.toml)."""

from friedel.hookspecs import LazyPlugin, hookimpl


@hookimpl
def friedel_commands():
    # declared: a command's module is imported only when it runs (friedel --help stays fast)
    return [
        LazyPlugin("symmetry", "friedel.plugins.symmetry.commands:SymmetryCommand",
                   help="Laue group and space group of a crystal from its integrated intensities"),
        LazyPlugin("cosym", "friedel.plugins.symmetry.commands:CosymCommand",
                   help="Consistent indexing and Laue group of many data sets (crystals or sweeps)"),
    ]


@hookimpl
def friedel_symmetry_methods():
    from friedel.plugins.symmetry.methods import BUILT_IN

    return list(BUILT_IN)
