"""The built-in exporters of ``friedel export`` (``format=mtz|shelx|mmcif``)."""

from friedel.plugins.export.formats.mmcif import MmcifExporter
from friedel.plugins.export.formats.mtz import MtzExporter
from friedel.plugins.export.formats.shelx import ShelxExporter

BUILT_IN = [MtzExporter, ShelxExporter, MmcifExporter]
