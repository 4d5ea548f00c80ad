"""Entry-point module of ``friedel process`` and ``friedel report`` (registered in pyproject.toml)."""

from friedel.hookspecs import LazyPlugin, hookimpl


@hookimpl
def friedel_commands():
    # declared: a command's module is imported only when it runs (friedel --help stays fast)
    return [
        LazyPlugin("process", "friedel.plugins.process.command:ProcessCommand",
                   help="Images to merged MTZ in one command (every step in its own numbered folder)"),
        LazyPlugin("report", "friedel.plugins.process.report.command:ReportCommand",
                   help="One offline HTML page with the plots of processing steps"),
    ]
