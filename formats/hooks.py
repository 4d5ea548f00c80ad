"""Entry-point module registering the built-in image format readers and the import command."""
from friedel.hookspecs import hookimpl


@hookimpl
def friedel_formats():
    from friedel.formats.fabio_fallback import FabioImage
    from friedel.formats.fullcbf import FullCBF
    from friedel.formats.minicbf import MiniCBF
    from friedel.formats.nexus import NXmx
    from friedel.formats.pilatus12m import PilatusDLS12M
    from friedel.formats.smv import SMV
    from friedel.formats.timepix import TimePixSU

    return [FabioImage, FullCBF, MiniCBF, NXmx, PilatusDLS12M, SMV, TimePixSU]


@hookimpl
def friedel_commands():
    from friedel.plugins.importer.command import ImportCommand

    return [ImportCommand]
