"""Experimental models in dxtbx conventions (lab frame: beam along -z, rotation axis usually +x).

Each model converts to and from the dictionaries found in DIALS ``.expt`` files; keys a
model does not interpret are kept in ``extra`` so that files round-trip unchanged.
"""

from friedel.models.beam import Beam
from friedel.models.crystal import Crystal
from friedel.models.detector import Detector, Panel
from friedel.models.experiment import Experiment, ExperimentList
from friedel.models.goniometer import Goniometer
from friedel.models.imageset import ImageSetReference
from friedel.models.scan import Scan

__all__ = [
    "Beam",
    "Crystal",
    "Detector",
    "Experiment",
    "ExperimentList",
    "Goniometer",
    "ImageSetReference",
    "Panel",
    "Scan",
]
