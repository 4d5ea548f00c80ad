"""Image format readers (``friedel.formats``).

``open_images(experiment)`` gives pixel access for an experiment; ``find_format(path)`` picks
the most specific registered reader (plugins: hook ``friedel_formats``, base class
:class:`friedel.formats.base.Format`).
"""
from friedel.formats.base import Format, find_format, open_file
from friedel.formats.images import ImageAccess, open_images

__all__ = ["Format", "ImageAccess", "find_format", "open_file", "open_images"]
