"""Parameters of ``friedel symmetry`` and ``friedel cosym``."""

from __future__ import annotations

from friedel.phil import param, plugin_choice, scope, types


@scope
class EvansParams:
    """Scoring of symmetry elements and sub-groups (Evans 2011)."""

    min_cc_sigma: float = param(0.1, type=types.Float(min=0.01), expert_level=1,
                                help="Smallest sigma(CC) used in the likelihoods")
    seed: int = param(230, help="Random seed (CC calibration on random pairs)", expert_level=1)


@scope
class CosymParams:
    """Gildea & Winter (2018): embedding of data sets x lattice operations."""

    dimensions: object = param("Auto", type=types.IntOrAuto(min=2),
                               help="Dimensions of the embedding (Auto: the elbow of the residual)")
    weights: str = param("none", choices=["none", "count", "standard_error"],
                         help="Weights of the pairwise correlations in the target")
    min_pairs: int = param(3, type=types.Int(min=2), help="Common reflections needed for a pair's correlation")
    max_iterations: int = param(100, type=types.Int(min=1), help="L-BFGS iterations", expert_level=1)
    seed: int = param(230, help="Random seed (start of the minimisation)", expert_level=1)
    seed_dataset: int | None = param(None, type=types.Int(min=0), optional=True,
                                     help="Data set whose indexing is kept (None: the most central one)")
    cc_sigma: float = param(0.1, type=types.Float(min=0.01), expert_level=1,
                            help="sigma(CC) used to score the cosine-based CC estimates")


@scope
class DataParams:
    """Which intensities are used and how they are prepared."""

    intensity: str = param("auto", choices=["auto", "profile", "sum", "scale"],
                           help="auto: scaled if present, else profile-fitted, else summation")
    partiality_threshold: float = param(0.4, type=types.Float(min=0.0, max=1.0),
                                        help="Drop reflections with a lower partiality")
    min_i_over_sigma: float = param(-5.0, help="Drop reflections with a lower I/sigma", expert_level=1)
    normalisation: str = param("ml_aniso", choices=["ml_aniso", "ml_iso", "quasi"],
                               help="E^2 normalisation: anisotropic or isotropic Wilson model (ML), or shell means")
    d_min: float | None = param(None, type=types.Float(min=0.0), optional=True,
                                help="High-resolution limit (Angstrom; None: from the data)")
    min_i_mean_over_sigma_mean: float = param(4.0, help="Auto d_min: lowest <I>/<sigma> in a shell", expert_level=1)
    min_cc_half: float = param(0.6, help="Auto d_min: lowest CC1/2 in a shell", expert_level=1)
    seed: int = param(230, help="Random seed (CC1/2 halves, random pairs)", expert_level=1)


@scope
class LatticeParams:
    """The lattice symmetry of the cell (Le Page)."""

    lattice_symmetry_max_delta: float = param(2.0, type=types.Float(min=0.0, max=30.0),
                                              help="Largest obliquity of a lattice twofold (degrees)")
    relative_length_tolerance: float = param(0.05, type=types.Float(min=0.0),
                                             help="Cells agree when every length is within this fraction")
    absolute_angle_tolerance: float = param(2.0, type=types.Float(min=0.0),
                                            help="... and every angle within this many degrees")


@scope
class AbsenceParams:
    check: bool = param(True, help="Choose the space group from systematic absences of screw axes")
    significance_level: float = param(0.95, type=types.Float(min=0.5, max=0.9999),
                                      help="Significance of the <I/sigma> test of 'absent' reflections "
                                           "(0.95, 0.975, 0.99: cut-offs 1.645, 1.960, 2.326)")


@scope
class SymmetryOutputParams:
    experiments: str = param("symmetrized.expt", help="Reindexed experiments with the chosen space group")
    reflections: str = param("symmetrized.refl", help="Reindexed reflections")
    json: str = param("friedel.symmetry.json", help="All scores (for friedel report)")


@scope
class SymmetryParams:
    """friedel symmetry: Laue group and space group of one crystal from its intensities."""

    method: str = plugin_choice("symmetry_methods", default="evans", help="How the Laue group is chosen")
    laue_group: str | None = param(None, type=types.SpaceGroup(), optional=True,
                                   help="Use this Laue (Patterson) group, e.g. P4/mmm (scores still reported)")
    space_group: str | None = param(None, type=types.SpaceGroup(), optional=True,
                                    help="Use this space group (its Laue group, no absence test)")
    data: DataParams = param(DataParams)
    lattice: LatticeParams = param(LatticeParams)
    systematic_absences: AbsenceParams = param(AbsenceParams)
    output: SymmetryOutputParams = param(SymmetryOutputParams)


@scope
class CosymOutputParams:
    experiments: str = param("symmetrized.expt", help="Reindexed experiments with the chosen space group")
    reflections: str = param("symmetrized.refl", help="Reindexed reflections (excluded data sets left out)")
    json: str = param("friedel.cosym.json", help="All scores (for friedel report)")


@scope
class CosymLatticeParams(LatticeParams):
    lattice_symmetry_max_delta: float = param(5.0, type=types.Float(min=0.0, max=30.0),
                                              help="Largest obliquity of a lattice twofold (degrees)")
    min_reflections: int = param(10, type=types.Int(min=1), help="Data sets with fewer usable reflections are excluded")


@scope
class CosymDataParams(DataParams):
    normalisation: str = param("ml_iso", choices=["ml_aniso", "ml_iso", "quasi"],
                               help="E^2 normalisation of each data set")


@scope
class CosymAbsenceParams(AbsenceParams):
    check: bool = param(True, help="Choose the space group from screw-axis absences of all data sets together "
                                   "(unscaled; re-run friedel symmetry on scaled data for a firmer answer)")


@scope
class CosymCommandParams:
    """friedel cosym: consistent indexing and Laue group of many data sets."""

    method: str = plugin_choice("symmetry_methods", default="cosym", help="How the Laue group and indexing are chosen")
    laue_group: str | None = param(None, type=types.SpaceGroup(), optional=True,
                                   help="Use this Laue group: only resolve the indexing ambiguity")
    space_group: str | None = param(None, type=types.SpaceGroup(), optional=True,
                                    help="Use this space group: only resolve the indexing ambiguity")
    data: CosymDataParams = param(CosymDataParams)
    lattice: CosymLatticeParams = param(CosymLatticeParams)
    systematic_absences: CosymAbsenceParams = param(CosymAbsenceParams)
    output: CosymOutputParams = param(CosymOutputParams)
