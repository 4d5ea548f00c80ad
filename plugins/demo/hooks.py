"""Entry-point module of the demo command (registered in pyproject.toml)."""

from friedel.hookspecs import LazyPlugin, hookimpl


@hookimpl
def friedel_commands():
    return [LazyPlugin("demo", "friedel.plugins.demo.command:DemoCommand",
                       help="Simulate a small sweep and run every available processing step on it")]
