"""Entry-point module of the simulate command (``demo`` is registered by friedel.plugins.demo.hooks)."""

from friedel.hookspecs import LazyPlugin, hookimpl


@hookimpl
def friedel_commands():
    return [LazyPlugin("simulate", "friedel.plugins.simulate.command:SimulateCommand",
                       help="Simulate a rotation sweep with known truth (friedel simulate --help lists the presets)")]
