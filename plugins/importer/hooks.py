"""Entry-point module of the import command (registered in pyproject.toml)."""

from friedel.hookspecs import LazyPlugin, hookimpl


@hookimpl
def friedel_commands():
    return [LazyPlugin("import", "friedel.plugins.importer.command:ImportCommand",
                       help="Read image headers, group files into sweeps and stills, write imported.expt")]
