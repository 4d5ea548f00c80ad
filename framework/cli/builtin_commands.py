"""The kernel's own commands, registered through friedel's entry points like any plugin."""

from friedel.cli.plugins_command import PluginsCommand
from friedel.cli.show import ShowCommand
from friedel.hookspecs import hookimpl


@hookimpl
def friedel_commands():
    return [ShowCommand, PluginsCommand]
