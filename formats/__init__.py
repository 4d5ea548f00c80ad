"""Image format readers (``friedel.formats``).

``open_images(experiment)`` gives pixel access for an experiment; ``find_format(path)`` picks
the most specific registered reader (plugins: hook ``friedel_formats``, base class
:class:`friedel.formats.base.Format`).
"""
__all__ = ["Format", "ImageAccess", "find_format", "open_file", "open_images"]


def __getattr__(name):
    # imported on first use: loading the hook module (friedel.formats.hooks) at start-up needs no numpy
    if name in ("Format", "find_format", "open_file"):
        from friedel.formats import base

        return getattr(base, name)
    if name in ("ImageAccess", "open_images"):
        from friedel.formats import images

        return getattr(images, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
