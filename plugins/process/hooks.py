"""Entry-point module of ``friedel process`` and ``friedel report`` (registered in pyproject.toml)."""

from friedel.hookspecs import hookimpl


@hookimpl
def friedel_commands():
    from friedel.plugins.process.command import ProcessCommand
    from friedel.plugins.process.report.command import ReportCommand

    return [ProcessCommand, ReportCommand]
