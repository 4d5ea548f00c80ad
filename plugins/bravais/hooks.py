"""Entry-point module of the Bravais-setting commands (registered in pyproject.toml)."""

from friedel.hookspecs import hookimpl


@hookimpl
def friedel_commands():
    from friedel.plugins.bravais.commands import ReindexCommand, RefineBravaisSettingsCommand

    return [RefineBravaisSettingsCommand, ReindexCommand]
