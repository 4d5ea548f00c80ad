"""Entry-point module of the demo command (registered in pyproject.toml)."""

from friedel.hookspecs import LazyPlugin, hookimpl


@hookimpl
def friedel_commands():
    return [LazyPlugin("demo", "friedel.plugins.demo.command:DemoCommand",
                       help="Simulate a sweep, process it to a merged MTZ and compare with the truth")]
