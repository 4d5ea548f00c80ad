"""Entry-point module of the export plugins (registered in pyproject.toml)."""

from friedel.hookspecs import LazyPlugin, hookimpl


@hookimpl
def friedel_exporters():
    from friedel.plugins.export.formats import BUILT_IN

    return list(BUILT_IN)


@hookimpl
def friedel_commands():
    # declared: a command's module is imported only when it runs (friedel --help stays fast)
    return [
        LazyPlugin("export", "friedel.plugins.export.export_command:ExportCommand",
                   help="Write unmerged reflections as MTZ (CCP4 conventions), SHELX HKLF 4 or mmCIF"),
        LazyPlugin("merge", "friedel.plugins.export.merge_command:MergeCommand",
                   help="Merge scaled reflections into merged.mtz (IMEAN, I+/-, F, DANO) with merging statistics"),
        LazyPlugin("split_experiments", "friedel.plugins.export.split_combine_commands:SplitExperimentsCommand",
                   help="Split experiments and reflections by experiment or by wavelength"),
        LazyPlugin("combine_experiments", "friedel.plugins.export.split_combine_commands:CombineExperimentsCommand",
                   help="Combine several experiment/reflection file pairs into one"),
    ]
