"""Entry-point module registering the built-in image format readers (the import command is
registered by its own package, friedel.plugins.importer.hooks)."""
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
