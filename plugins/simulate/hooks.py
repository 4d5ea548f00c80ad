"""Entry-point module of the simulate and demo commands."""

from friedel.hookspecs import hookimpl


@hookimpl
def friedel_commands():
    from friedel.plugins.demo.command import DemoCommand
    from friedel.plugins.simulate.command import SimulateCommand

    return [SimulateCommand, DemoCommand]
