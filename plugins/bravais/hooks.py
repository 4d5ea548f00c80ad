"""Entry-point module of the Bravais-setting commands (registered in pyproject.toml)."""

from friedel.hookspecs import LazyPlugin, hookimpl


@hookimpl
def friedel_commands():
    return [
        LazyPlugin("refine_bravais_settings", "friedel.plugins.bravais.commands:RefineBravaisSettingsCommand",
                   help="Refine the indexed crystal in every compatible Bravais lattice"),
        LazyPlugin("reindex", "friedel.plugins.bravais.commands:ReindexCommand",
                   help="Change the indexing basis of reflections/experiments (or match a reference)"),
    ]
