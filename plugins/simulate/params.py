"""Parameters of ``friedel simulate`` and the named presets.

A parameter left at ``None`` takes its value from the chosen ``preset``; anything set on
the command line wins over the preset.
"""

from __future__ import annotations

import copy

import attrs

from friedel.errors import FriedelError
from friedel.parallel import MpParams
from friedel.phil import param, scope, types

PRESETS: dict[str, dict] = {
    "tiny": {
        "_doc": "tetragonal lysozyme on a PILATUS 300K, 10 images of 0.5 deg: a few seconds, for tests",
        "crystal.unit_cell": (79.1, 79.1, 38.0, 90, 90, 90),
        "crystal.space_group": "P 43 21 2",
        "crystal.d_min": 2.0,
        "detector.preset": "pilatus300k",
        "detector.distance": 110.0,
        "scan.n_images": 10,
        "scan.oscillation": (0.0, 0.5),
    },
    "thaumatin": {
        "_doc": "thaumatin P41212 on a PILATUS 6M, 100 images of 0.2 deg",
        "crystal.unit_cell": (57.8, 57.8, 150.0, 90, 90, 90),
        "crystal.space_group": "P 41 21 2",
        "crystal.d_min": 1.6,
        "detector.preset": "pilatus6m",
        "detector.distance": 230.0,
        "scan.n_images": 100,
        "scan.oscillation": (0.0, 0.2),
    },
    "insulin": {
        "_doc": "cubic insulin I213 on a PILATUS 6M, 60 images of 0.5 deg",
        "crystal.unit_cell": (77.9, 77.9, 77.9, 90, 90, 90),
        "crystal.space_group": "I 21 3",
        "crystal.d_min": 1.7,
        "detector.preset": "pilatus6m",
        "detector.distance": 200.0,
        "scan.n_images": 60,
        "scan.oscillation": (0.0, 0.5),
    },
    "trypsin_2lattice": {
        "_doc": "trypsin P212121 with two lattices (the second at 60% strength), 50 images of 0.5 deg",
        "crystal.unit_cell": (54.9, 58.6, 67.4, 90, 90, 90),
        "crystal.space_group": "P 21 21 21",
        "crystal.d_min": 1.8,
        "crystal.n_lattices": 2,
        "detector.preset": "pilatus6m",
        "detector.distance": 220.0,
        "scan.n_images": 50,
        "scan.oscillation": (0.0, 0.5),
    },
    "narrow_wedge": {
        "_doc": "thaumatin on a PILATUS 6M, a 5 deg wedge of 50 images of 0.1 deg",
        "crystal.unit_cell": (57.8, 57.8, 150.0, 90, 90, 90),
        "crystal.space_group": "P 41 21 2",
        "crystal.d_min": 1.8,
        "detector.preset": "pilatus6m",
        "detector.distance": 230.0,
        "scan.n_images": 50,
        "scan.oscillation": (0.0, 0.1),
    },
    "monoclinic_c2": {
        "_doc": "a C2 crystal (101.6, 45.0, 60.9, beta 99 deg) on a PILATUS 6M, 60 images of 0.5 deg",
        "crystal.unit_cell": (101.6, 45.0, 60.9, 90, 99.0, 90),
        "crystal.space_group": "C 1 2 1",
        "crystal.d_min": 2.0,
        "detector.preset": "pilatus6m",
        "detector.distance": 250.0,
        "scan.n_images": 60,
        "scan.oscillation": (0.0, 0.5),
    },
}


@scope
class CrystalParams:
    """The crystal(s) in the beam."""

    unit_cell: tuple | None = param(None, type=types.UnitCell(), help="Unit cell a,b,c,alpha,beta,gamma (None: from the preset)")
    space_group: str | None = param(None, type=types.SpaceGroup(), help="Space group (None: from the preset)")
    d_min: float | None = param(None, help="Resolution limit of the diffraction (Angstrom; None: from the preset)")
    n_lattices: int | None = param(None, help="Number of lattices (crystals) in the beam, each randomly oriented")
    lattice_scale: float = param(0.6, help="Strength of each additional lattice relative to the first", expert_level=1)
    orientation: tuple | None = param(None, type=types.Floats(size=9),
                                      help="U matrix of the first lattice, row by row (None: random from the seed)",
                                      expert_level=1)
    mosaicity: float = param(0.05, help="Mosaic spread, standard deviation (degrees)")
    wilson_b: float = param(20.0, help="Wilson B factor of the true intensities (A^2)")
    anomalous: float = param(0.0, help="Relative standard deviation of Bijvoet differences (0: no anomalous signal)")
    intensity_scale: float = param(3000.0, help="Expected photons of a reflection of unit true intensity (lp = 1)")


@scope
class BeamParams:
    wavelength: float = param(0.9795, help="Wavelength (Angstrom)")
    divergence: float = param(0.025, help="Angular spread of the diffracted beam, standard deviation (degrees): "
                                          "sets the spot size and adds to the rocking width")
    polarization_fraction: float = param(0.999, help="Fraction of the beam polarized in the horizontal plane",
                                         expert_level=1)


@scope
class DetectorParams:
    preset: str | None = param(None, choices=["pilatus6m", "pilatus300k"], help="Detector (None: from the preset)")
    distance: float | None = param(None, help="Sample to detector distance (mm; None: from the preset)")
    beam_centre: tuple | None = param(None, type=types.Floats(size=2),
                                      help="Beam centre (fast, slow) in mm from the first pixel corner (None: near the middle)")
    count_cutoff: int | None = param(None, help="Overload cutoff in counts (None: the detector's, 1048500)", expert_level=1)
    psf: float = param(0.35, help="Point-spread of the detector, standard deviation (pixels)", expert_level=1)


@scope
class ScanParams:
    n_images: int | None = param(None, help="Number of images (None: from the preset)")
    oscillation: tuple | None = param(None, type=types.Floats(size=2), help="Start angle and width of each image (degrees)")
    rotation_axis: tuple = param((1.0, 0.0, 0.0), type=types.Floats(size=3), help="Rotation axis (lab frame)", expert_level=1)
    exposure_time: float = param(0.1, help="Exposure time per image (s)", expert_level=1)


@scope
class BackgroundParams:
    flat: float = param(0.6, help="Flat background (counts per pixel per image)")
    air: float = param(6.0, help="Air/solvent scatter at the beam centre (counts per pixel), falling off with angle")
    air_width: float = param(12.0, help="Angle (degrees 2theta) over which air scatter falls by e", expert_level=1)
    solvent_ring: float = param(3.0, help="Peak height of the solvent ring (counts per pixel)")
    ring_d: float = param(3.65, help="d-spacing of the solvent ring (Angstrom)", expert_level=1)
    ring_width: float = param(0.008, help="Width of the solvent ring in 1/d (1/Angstrom, standard deviation)",
                              expert_level=1)


@scope
class PhysicsParams:
    scale_drift: float = param(0.05, help="Amplitude of the smooth per-image scale drift (fraction)")
    radiation_damage: float = param(2.0, help="Increase of the B factor over the sweep (A^2), from radiation damage")
    crystal_drift: float = param(0.0, help="Smooth turn of the crystal over the sweep (degrees, about a random "
                                 "axis; slippage). The true A at every image boundary goes into truth.expt "
                                 "(A_at_scan_points) and truth.json (U_at_scan_points); 0: a static crystal")
    cell_drift: float = param(0.0, help="Relative change of the cell edges over the sweep (e.g. 0.002 for "
                              "+0.2%, from heating or damage), linear in the image number; 0: a constant cell")
    background: BackgroundParams = param(BackgroundParams)
    subpixels: int = param(3, help="Sub-pixel samples per axis when integrating spot profiles over pixels",
                           expert_level=2)


@scope
class HeaderErrorParams:
    """A deliberate difference between the image headers and the truth (to test refinement)."""

    distance: float = param(0.0, help="Error of the header distance (mm)")
    beam_centre: tuple = param((0.0, 0.0), type=types.Floats(size=2), help="Error of the header beam centre (pixels)")


@scope
class OutputParams:
    directory: str = param(".", type=types.Path(), help="Folder for images and truth files (created if needed)")
    prefix: str = param("sim", help="Image file name prefix")
    format: str = param("cbf", choices=["cbf", "nxmx", "both"],
                        help="Images as Pilatus miniCBF files, an Eiger-style NXmx master + data files, or both")
    images_per_data_file: object = param("Auto", type=types.IntOrAuto(min=1),
                                         help="Images per block of work and per NXmx data file", expert_level=1)
    overwrite: bool = param(False, help="Replace existing simulated images in the output directory")


@scope
class SimulateParams:
    """Simulate a rotation sweep with known truth."""

    preset: str = param("thaumatin", choices=sorted(PRESETS), help="A named case: " + "; ".join(
        f"{k}: {v['_doc']}" for k, v in PRESETS.items()))
    seed: int = param(0, help="Random seed (orientation, intensities, noise)")
    crystal: CrystalParams = param(CrystalParams)
    beam: BeamParams = param(BeamParams)
    detector: DetectorParams = param(DetectorParams)
    scan: ScanParams = param(ScanParams)
    physics: PhysicsParams = param(PhysicsParams)
    header_error: HeaderErrorParams = param(HeaderErrorParams)
    output: OutputParams = param(OutputParams)
    mp: MpParams = param(MpParams)


def make_params(preset: str = "thaumatin", **overrides) -> SimulateParams:
    """Parameters from Python: ``make_params("tiny", **{"crystal.mosaicity": 0.1})``."""
    params = SimulateParams(preset=preset)
    for path, value in overrides.items():
        _set(params, path.replace("__", "."), value)
    return params


def _set(params, path: str, value) -> None:
    *parents, last = path.split(".")
    obj = params
    for p in parents:
        obj = getattr(obj, p)
    if not hasattr(obj, last):
        raise FriedelError(f"unknown simulation parameter {path}")
    setattr(obj, last, value)


def resolve_preset(params: SimulateParams) -> SimulateParams:
    """A copy of ``params`` with every ``None`` that the preset defines filled in."""
    if params.preset not in PRESETS:
        raise FriedelError(f"unknown preset '{params.preset}'; choose one of {', '.join(sorted(PRESETS))}")
    out = copy.deepcopy(params)
    for path, value in PRESETS[params.preset].items():
        if path.startswith("_"):
            continue
        *parents, last = path.split(".")
        obj = out
        for p in parents:
            obj = getattr(obj, p)
        if getattr(obj, last) is None:
            setattr(obj, last, value)
    if out.crystal.n_lattices is None:
        out.crystal.n_lattices = 1
    missing = [f"{s}.{f.name}" for s in ("crystal", "detector", "scan")
               for f in attrs.fields(type(getattr(out, s))) if getattr(getattr(out, s), f.name) is None
               and f.name not in ("orientation", "beam_centre", "count_cutoff")]
    if missing:
        raise FriedelError(f"no value for {', '.join(missing)}: set them or choose a preset")
    return out
