"""Parameters of ``friedel index`` and ``friedel search_beam_position``."""

from __future__ import annotations

from friedel.phil import param, plugin_choice, scope, types

try:  # the refinement scope is the refinement engine's own
    from friedel.plugins.refinement.params import RefinementParams
except ImportError:  # pragma: no cover - only while refinement is not installed
    RefinementParams = None


@scope
class KnownSymmetryParams:
    """A known space group and/or unit cell (the result is given in the reference setting)."""

    space_group: str | None = param(None, type=types.SpaceGroup(), help="Known space group, e.g. P41212")
    unit_cell: tuple | None = param(None, type=types.UnitCell(), help="Known unit cell a,b,c,alpha,beta,gamma")
    relative_length_tolerance: float = param(0.05, help="Largest relative difference of cell lengths from unit_cell",
                                             expert_level=1)
    absolute_angle_tolerance: float = param(5.0, help="Largest difference of cell angles from unit_cell (degrees)",
                                            expert_level=1)


@scope
class IndexAssignmentParams:
    """How Miller indices are given to spots."""

    method: str = param("simple", choices=["simple", "local"],
                        help="simple: round A^-1 rlp; local: propagate index differences between neighbours")
    tolerance: float = param(0.3, help="Largest distance of a fractional index from an integer", expert_level=1)
    n_neighbours: int = param(10, help="Neighbours per spot for the local method", expert_level=2)


@scope
class StillsParams:
    """Choosing the lattice of a still (each still is indexed on its own)."""

    n_candidates: int = param(5, type=types.Int(min=1), help="Candidate lattices taken through refinement",
                              expert_level=1)
    max_rmsd: float = param(2.5, help="A still's refined positional RMSD must be within this (pixels)")
    max_offset: float = param(3.0, help="Indexed spots predicted further than this from their centroid (pixels) "
                              "are left unindexed", expert_level=1)
    near_fraction: float = param(0.8, help="Candidates indexing this fraction of the best count compete on "
                                 "cell volume (the smallest wins)", expert_level=2)


@scope
class DistanceGuardParams:
    """What the macro-cycles let refinement do with the detector distance. On a narrow wedge the
    distance and the cell scale are strongly correlated: the data hardly tell them apart."""

    narrow_wedge: float = param(10.0, help="Sweeps narrower than this in total (degrees) keep the detector distance "
                                "fixed until the last macro-cycle (all resolution in)", expert_level=1)
    check_shift: float = param(0.005, help="A macro-cycle that leaves the distance more than this fraction away from "
                               "the input distance is refined again with the distance fixed ...", expert_level=1)
    min_rmsd_gain: float = param(0.05, help="... and keeps the moved distance only if that lowers the positional "
                                 "RMSD by at least this fraction and indexes nearly as many spots", expert_level=1)
    warn_shift: float = param(0.02, help="Warn when indexing moves the distance by more than this fraction",
                              expert_level=1)


@scope
class IndexingParams:
    """Lattice search and macro-cycles."""

    method: str = plugin_choice("indexing_methods", default="fft3d", help="Basis-vector search")
    max_cell: float | None = param(None, help="Longest cell edge to look for (Angstrom); None: estimated from the spots")
    min_cell: float = param(3.0, help="Shortest cell edge to look for (Angstrom)", expert_level=1)
    max_cell_multiplier: float = param(1.3, help="Factor on the nearest-neighbour estimate of max_cell", expert_level=2)
    filter_ice: bool = param(True, help="Leave spots on the ice rings the spot list shows out of the max_cell "
                             "estimate and the lattice search (they are still indexed if they fit)")
    ice_ring_width: float = param(0.002, help="Half-width of an ice ring's band in 1/d^2 (1/A^2)", expert_level=2)
    max_offset: float = param(5.0, help="After the last macro-cycle, indexed spots of a sweep predicted further "
                              "than this (pixels; or 6 robust standard deviations of the offsets if larger) or more "
                              "than 3 images (or 6 standard deviations in phi) from their centroid are left "
                              "unindexed", expert_level=1)
    d_min_start: float | None = param(None, help="Resolution of the first macro-cycle; None: the low-resolution half")
    n_macro_cycles: int = param(5, type=types.Int(min=1), help="Macro-cycles from d_min_start to all the data")
    min_spots: int = param(10, type=types.Int(min=3), help="Fewest spots worth indexing (per crystal)")
    max_lattices: int = param(1, type=types.Int(min=1), help="Look for up to this many lattices in the unindexed spots")
    min_lattice_fraction: float = param(0.05, help="A further lattice must index this fraction of all spots",
                                        expert_level=1)
    joint_indexing: bool = param(True, help="One crystal for all sweeps (True) or one per sweep (False)")
    index_assignment: IndexAssignmentParams = param(IndexAssignmentParams)
    known_symmetry: KnownSymmetryParams = param(KnownSymmetryParams)
    refine: bool = param(True, help="Refine geometry in each macro-cycle (False: refine the crystal only)", expert_level=1)
    distance_guard: DistanceGuardParams = param(DistanceGuardParams)
    stills: StillsParams = param(StillsParams)


@scope
class OutputParams:
    experiments: str = param("indexed.expt", type=types.Path(), help="Indexed experiments")
    reflections: str = param("indexed.refl", type=types.Path(), help="Indexed reflections")


if RefinementParams is not None:
    @scope
    class IndexParams:
        """friedel index: find lattices, assign Miller indices, refine."""

        indexing: IndexingParams = param(IndexingParams)
        refinement: RefinementParams = param(RefinementParams)
        output: OutputParams = param(OutputParams)
else:  # pragma: no cover
    @scope
    class IndexParams:
        """friedel index: find lattices, assign Miller indices, refine."""

        indexing: IndexingParams = param(IndexingParams)
        output: OutputParams = param(OutputParams)


@scope
class BeamSearchOutputParams:
    experiments: str = param("optimised.expt", type=types.Path(), help="Experiments with the better beam centre")


@scope
class SearchBeamPositionParams:
    """friedel search_beam_position: the beam centre that puts the spots on a lattice through the origin."""

    max_shift: float = param(3.0, help="Largest beam-centre shift searched (mm)")
    max_cell: float | None = param(None, help="Longest cell edge (Angstrom); None: estimated from the spots")
    d_min: float | None = param(None, help="Use spots to this resolution only; None: all")
    max_spots: int = param(500, type=types.Int(min=20), help="Lowest-resolution spots used in the search",
                           expert_level=1)
    refine_spots: int = param(5000, type=types.Int(min=20), help="Lowest-resolution spots used in the final least "
                              "squares (high-resolution spots tell the right centre from its aliases)", expert_level=1)
    indexing_method: str = param("auto", choices=["auto", "fft3d", "fft1d"],
                                 help="Lattice search at the starting beam centre (auto: fft3d, then fft1d)",
                                 expert_level=1)
    tolerance: float = param(0.3, help="Largest fractional-index residual of an indexed spot", expert_level=2)
    grid_fraction: float = param(0.2, help="Grid step as a fraction of the lattice-plane spacing of the longest "
                                 "cell edge, seen on the detector", expert_level=2)
    max_grid_points: int = param(4000, type=types.Int(min=9), help="Most trial shifts in the grid", expert_level=2)
    n_candidates: int = param(5, type=types.Int(min=1), help="Best local minima of the grid refined by least "
                              "squares", expert_level=2)
    output: BeamSearchOutputParams = param(BeamSearchOutputParams)


# -- parameters of the built-in basis-vector searches (here, not beside their numba/scipy code,
# so that parameter trees and --help import no heavy module) --------------------------------------
@scope
class Fft3dParams:
    """3D FFT basis-vector search."""

    n_points: int = param(256, help="Grid points along each reciprocal-space axis", expert_level=1)
    max_peaks: int = param(60, help="Strongest real-space peaks turned into candidate vectors", expert_level=2)


@scope
class Fft1dParams:
    """1D FFT basis-vector search."""

    direction_spacing: float | None = param(
        None, help="Angle between search directions (radians); None: fine enough that a max_cell vector "
        "keeps the projections of the spots within a quarter period", expert_level=1)
    max_spots: int = param(500, help="Use at most this many (lowest-resolution) spots", expert_level=2)
    max_vectors: int = param(60, help="Directions kept as candidate vectors", expert_level=2)


@scope
class RealSpaceGridSearchParams:
    """Real-space grid search (needs unit_cell=)."""

    direction_spacing: float | None = param(
        None, help="Angle between search directions (radians); None: from the longest edge and the resolution",
        expert_level=1)
    max_length_error: float = param(
        0.06, help="Largest relative error of the cell edges as the header geometry maps the spots; each edge "
        "is scored over lengths within this fraction of the known one", expert_level=1)
    length_step: float = param(0.01, help="Relative step of the trial lengths within max_length_error",
                               expert_level=2)
    max_spots: int = param(800, help="Use at most this many (lowest-resolution) spots", expert_level=2)
    vectors_per_length: int = param(15, help="Best directions kept for each cell-edge length", expert_level=2)
