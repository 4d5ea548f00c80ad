"""Entry-point module of the export plugins (registered in pyproject.toml)."""

from friedel.hookspecs import hookimpl


@hookimpl
def friedel_exporters():
    from friedel.plugins.export.formats import BUILT_IN

    return list(BUILT_IN)


@hookimpl
def friedel_commands():
    from friedel.plugins.export.export_command import ExportCommand
    from friedel.plugins.export.merge_command import MergeCommand
    from friedel.plugins.export.split_combine_commands import CombineExperimentsCommand, SplitExperimentsCommand

    return [ExportCommand, MergeCommand, SplitExperimentsCommand, CombineExperimentsCommand]
