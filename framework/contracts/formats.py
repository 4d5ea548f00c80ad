"""Contract of the ``formats`` extension point: image format readers.

A reader is a subclass of :class:`friedel.formats.base.Format` (it provides the constructor,
which stores ``path`` and calls ``_read_header``). Chosen automatically: among the readers whose
``understand(path)`` is true, the one with the highest ``priority`` reads the file.

Class attributes: ``name`` (unique), ``priority`` (int; generic readers 0-10, detector
families 20-40, one beamline's variant 50+), ``is_container`` (True if one file holds many
images), a docstring (shown by ``friedel plugins``).

Methods (frames and units are DIALS's; see ``docs/import.md``):

* ``understand(cls, path) -> bool`` (classmethod): look at the first bytes only, never raise;
* ``_read_header(self) -> None``: set ``self.beam`` (:class:`friedel.models.Beam`, wavelength in
  Angstrom, direction towards the source... as ``Beam(direction=..., wavelength=...)``),
  ``self.detector`` (panels with origin/fast/slow in mm in the laboratory frame),
  ``self.goniometer`` (None for stills) and ``self.scan`` (image range, oscillation start and
  width in degrees); raise :class:`friedel.errors.FileFormatError` for a bad file;
* ``get_raw_data(self, index) -> tuple of 2-D arrays``: image ``index`` (0-based within this
  file), one ``(slow, fast)`` array per panel, raw counts (int32 or float64);
* optional: ``num_images()``, ``get_static_mask()`` (per-panel bool arrays, True = good
  pixel, or None), ``detector_id()``, ``close()``.
"""

from __future__ import annotations

import abc


class FormatReader(abc.ABC):
    """An image format reader (subclass :class:`friedel.formats.base.Format`)."""

    subclass_of = "friedel.formats.base:Format"

    @classmethod
    @abc.abstractmethod
    def understand(cls, path) -> bool:
        """True if this reader can read ``path``."""

    @abc.abstractmethod
    def _read_header(self) -> None:
        """Fill beam, detector, goniometer and scan from the file."""

    @abc.abstractmethod
    def get_raw_data(self, index=0):
        """Pixel values of image ``index``: one (slow, fast) array per panel."""

    @staticmethod
    def construction_problems(plugin) -> list[str]:
        return []  # Format(path) is the base class's constructor

    @staticmethod
    def construct(plugin, params, *, path):
        return plugin(path)
