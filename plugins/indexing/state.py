"""Named state of the indexing driver: what one crystal's search knows, and a trial lattice.

:class:`Search` holds what does not change while one crystal (one or several sweeps of it,
or one still) is indexed: the parameters, the known symmetry, the maximum cell and the
resolution schedule of the macro-cycles. :class:`Trial` holds what the macro-cycles change:
the sweeps' geometry, the lattices found so far, the spot table with its assignment and one
record per macro-cycle done. A trial is never changed in place by a search that may fail;
:meth:`Trial.with_lattice` gives a copy to try a new lattice on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gemmi
import numpy as np

from friedel.models import Crystal, Experiment, ExperimentList


@dataclass
class Search:
    """What the search for one crystal's lattices needs besides the models."""

    params: object  # IndexingParams
    refinement_params: object  # RefinementParams or None
    space_group: gemmi.SpaceGroup | None
    primitive_cell: tuple | None  # Niggli cell of the known unit cell
    max_cell: float
    max_cells: list  # maximum-cell bounds to try, largest first (max_cell is the first)
    n_populations: int  # how many of them are estimates of their own (the rest are halvings)
    d_start: float
    schedule: list  # resolution limit of each macro-cycle (Angstrom)
    stills: bool
    n_spots: int  # spots of this crystal, indexed or not
    search_spots: np.ndarray | None = None  # rows the lattice search may use (not on ice rings); None: all
    input_distances: list = field(default_factory=list)  # detector distance of each sweep as given (mm)
    scan_width: float = 0.0  # degrees of rotation, all sweeps together

    @property
    def known_symmetry(self) -> bool:
        return self.space_group is not None or self.params.known_symmetry.unit_cell is not None

    @property
    def angle_name(self) -> str:
        return "DeltaPsi" if self.stills else "phi"


@dataclass
class CycleRecord:
    """One macro-cycle: its resolution, the spots it indexed per lattice, RMSDs and cells."""

    cycle: int
    d_min: float
    n_spots: int  # spots within d_min
    n_indexed: list  # per lattice
    rmsds: dict  # experiment id -> (x mm, y mm, phi rad)
    cells: list  # per lattice, six numbers
    cell_esds: dict
    distances: list = field(default_factory=list)  # per sweep, mm after the cycle
    distance_refined: bool = True
    note: str = ""  # why a guard changed what this cycle refined

    @property
    def fraction_indexed(self) -> float:
        return float(sum(self.n_indexed) / max(1, self.n_spots))

    def rmsd_px(self, pixel_mm: float) -> float:
        """Largest positional RMSD of any experiment, pixels (inf when nothing was refined)."""
        if not self.rmsds:
            return np.inf
        return float(np.max(np.array(list(self.rmsds.values()))[:, :2]) / pixel_mm)

    def as_dict(self) -> dict:
        return {"cycle": self.cycle, "d_min": self.d_min, "n_spots": self.n_spots, "n_indexed": list(self.n_indexed),
                "fraction_indexed": self.fraction_indexed,
                "rmsds": {int(k): [float(x) for x in v] for k, v in self.rmsds.items()},
                "cells": [list(map(float, c)) for c in self.cells], "distances": list(map(float, self.distances)),
                "distance_refined": self.distance_refined, "note": self.note}


def sweep_experiment(sweep: Experiment, crystal: Crystal | None = None, geometry: Experiment | None = None,
                     identifier: str | None = None) -> Experiment:
    """An experiment of ``sweep`` (its image set, profile, scaling model and identifier) with the
    beam, detector, goniometer and scan of ``geometry`` (default: the sweep's own) and ``crystal``."""
    g = geometry if geometry is not None else sweep
    return Experiment(beam=g.beam, detector=g.detector, goniometer=g.goniometer, scan=g.scan, crystal=crystal,
                      imageset=sweep.imageset, profile=sweep.profile, scaling_model=sweep.scaling_model,
                      identifier=sweep.identifier if identifier is None else identifier)


@dataclass
class Trial:
    """One crystal's models during the macro-cycles."""

    sweeps: ExperimentList  # geometry of each sweep (no crystal)
    crystals: list  # lattices found so far, oldest first
    refl: object  # spot table: id = lattice * n_sweeps + sweep, or -1
    cycles: list = field(default_factory=list)  # CycleRecord per macro-cycle done

    @property
    def n_sweeps(self) -> int:
        return len(self.sweeps)

    @property
    def newest(self) -> Crystal:
        return self.crystals[-1]

    @property
    def last(self) -> CycleRecord | None:
        return self.cycles[-1] if self.cycles else None

    def with_lattice(self, crystal: Crystal) -> "Trial":
        """A copy (own spot table and cycle list) with ``crystal`` added as the newest lattice."""
        return Trial(self.sweeps, list(self.crystals) + [crystal], self.refl.copy(), list(self.cycles))

    def with_newest(self, crystal: Crystal) -> "Trial":
        """A copy whose newest lattice is replaced by ``crystal``."""
        return Trial(self.sweeps, list(self.crystals[:-1]) + [crystal], self.refl.copy(), list(self.cycles))

    def without_newest(self) -> "Trial":
        return Trial(self.sweeps, list(self.crystals[:-1]), self.refl, list(self.cycles))

    def unindexed(self) -> np.ndarray:
        if not self.crystals:
            return np.ones(len(self.refl), bool)
        return self.refl["id"] < 0

    def counts(self) -> np.ndarray:
        """Spots indexed by each lattice."""
        ids = self.refl["id"]
        return np.bincount(ids[ids >= 0] // self.n_sweeps, minlength=len(self.crystals))

    def experiments(self) -> ExperimentList:
        """One experiment per lattice and sweep (lattice-major); sweeps share each lattice's Crystal.
        The first lattice keeps each sweep's identifier; further lattices get new ones."""
        return ExperimentList(sweep_experiment(s, crystal, identifier=None if k == 0 else "")
                              for k, crystal in enumerate(self.crystals) for s in self.sweeps)
