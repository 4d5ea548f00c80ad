"""Entry-point module registering the built-in image format readers and the import command."""
from friedel.hookspecs import hookimpl


@hookimpl
def friedel_formats():
    from friedel.formats.fullcbf import FullCBF
    from friedel.formats.minicbf import MiniCBF

    return [FullCBF, MiniCBF]
