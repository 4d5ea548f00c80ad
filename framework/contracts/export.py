"""Contract of the ``exporters`` extension point: writing unmerged reflections to a file format.

``friedel export`` prepares the data once, the same way for every format (intensity choice
and corrections, row selection, partiality cut, batch numbers unique across experiments,
wavelength groups, the file's unit cell and space group), and hands it to the chosen exporter::

    exporter = build_plugin("exporters", params.format, params)   # its Params from params.<name>
    paths = exporter.outputs(data)                                # checked: no overwrite unless asked
    exporter.write(data)                                          # -> the same list of paths

An exporter formats; it never selects, corrects or renumbers. It writes each file atomically
(:func:`friedel.io.atomic_write`), so that a failure leaves no half-written output.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np

from friedel.contracts import PluginBase


@dataclass
class UnmergedData:
    """Unmerged observations ready to be written, one row per observation.

    Attributes
    ----------
    experiments : ExperimentList
        The experiments the rows belong to (``experiment`` indexes it).
    space_group : gemmi.SpaceGroup
        Space group of all the experiments (one for the file).
    unit_cell : gemmi.UnitCell
        The file's cell (median of the experiments' cells unless the user gave one).
    hkl : (n, 3) int32
        Observed Miller indices, as indexed (not mapped to the ASU).
    experiment : (n,) int
        Row of ``experiments`` of each observation.
    batch : (n,) int64
        Image batch number, unique across experiments (``batch_ranges``).
    batch_ranges : list of friedel.plugins.export.batches.BatchRange
        First/last image and offset of every experiment (every image gets a batch header).
    dataset : (n,) int
        Wavelength group of each observation (0-based; ``wavelengths[dataset]``).
    wavelengths : list of float
        Wavelength of each group (Angstrom).
    dataset_of_experiment : list of int
        Wavelength group of each experiment.
    intensity_kind : str
        Which intensity ``I``/``SIGI`` holds: ``scale``, ``profile``, ``sum`` or ``profile+sum``
        (then ``I`` is the summation and ``IPR`` the profile-fitted intensity, CCP4 style).
    columns : dict of str -> (n,) float arrays
        The measured values in MTZ names and units: ``I, SIGI`` (always), and where known
        ``IPR, SIGIPR, SCALEUSED, SIGSCALEUSED, BG, SIGBG, FRACTIONCALC, XDET, YDET`` (pixels),
        ``ROT`` (degrees), ``LP, QE``. Intensities are corrected (Lorentz-polarisation,
        detector efficiency; scaled intensities divided by the inverse scale factor).
    project_name, crystal_name, dataset_name : str
        MTZ names.
    """

    experiments: object
    space_group: object
    unit_cell: object
    hkl: np.ndarray
    experiment: np.ndarray
    batch: np.ndarray
    batch_ranges: list
    dataset: np.ndarray
    wavelengths: list
    dataset_of_experiment: list
    intensity_kind: str
    columns: dict = field(default_factory=dict)
    project_name: str = "FRIEDEL"
    crystal_name: str = "XTAL"
    dataset_name: str = "FROMFRIEDEL"

    def __len__(self) -> int:
        return len(self.hkl)

    def select(self, rows) -> "UnmergedData":
        """A copy with only ``rows`` (boolean mask or indices); experiments and batches kept."""
        rows = np.asarray(rows)
        return UnmergedData(
            experiments=self.experiments, space_group=self.space_group, unit_cell=self.unit_cell,
            hkl=self.hkl[rows], experiment=self.experiment[rows], batch=self.batch[rows],
            batch_ranges=list(self.batch_ranges), dataset=self.dataset[rows], wavelengths=list(self.wavelengths),
            dataset_of_experiment=list(self.dataset_of_experiment), intensity_kind=self.intensity_kind,
            columns={k: v[rows] for k, v in self.columns.items()}, project_name=self.project_name,
            crystal_name=self.crystal_name, dataset_name=self.dataset_name,
        )


class Exporter(PluginBase, abc.ABC):
    """An output format of ``friedel export`` (``format=<name>``).

    Construction: ``Exporter(params)`` when the class has a ``Params`` scope (the user's
    ``<name>.*`` parameters, e.g. ``mtz.hklout``), else ``Exporter()``.

    Call: :meth:`outputs` names the files :meth:`write` will write for ``data``
    (:class:`UnmergedData`); the command refuses existing ones unless ``overwrite=True``.
    :meth:`write` writes them and returns the same list.

    Invariants: the rows written are exactly ``data``'s rows (an exporter may only drop rows a
    format cannot hold, and says so in the log); nothing but the listed files is written.
    """

    name: str = ""
    Params = None

    @abc.abstractmethod
    def outputs(self, data: UnmergedData) -> list[str]:
        """Paths of the files :meth:`write` will write."""

    @abc.abstractmethod
    def write(self, data: UnmergedData) -> list[str]:
        """Write ``data``; return the paths written."""
