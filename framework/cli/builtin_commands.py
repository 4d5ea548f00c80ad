"""The kernel's own commands, registered through friedel's entry points like any plugin."""

from friedel.hookspecs import LazyPlugin, hookimpl


@hookimpl
def friedel_commands():
    return [
        LazyPlugin("show", "friedel.cli.show:ShowCommand", help="Print a readable summary of .expt and .refl files"),
        LazyPlugin("plugins", "friedel.cli.plugins_command:PluginsCommand",
                   help="List installed plugins by extension point and distribution"),
    ]
