"""Entry-point module of the symmetry plugins (registered in pyproject.toml)."""

from friedel.hookspecs import hookimpl


@hookimpl
def friedel_commands():
    from friedel.plugins.symmetry.commands import CosymCommand, SymmetryCommand

    return [SymmetryCommand, CosymCommand]


@hookimpl
def friedel_symmetry_methods():
    from friedel.plugins.symmetry.methods import BUILT_IN

    return list(BUILT_IN)
