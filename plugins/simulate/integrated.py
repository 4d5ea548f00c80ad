"""What a good integration of a simulated sweep would give, without drawing a single pixel.

For fast tests of the steps after integration (symmetry, scaling, merge, export): the true
models and, for every reflection recorded inside the scan, the columns DIALS writes to
``integrated.refl``, with the noise a real integration has — Poisson noise of the spot's
photons and of the background under it, and the error of the background estimate from a
finite number of background pixels. Profile fitting is modelled as the same photons with the
background error of fewer effective pixels (so ``prf`` is better than ``sum`` for weak spots,
as it is in practice). The truth rides along: ``intensity.true.value`` (true I of the hkl),
``truth.scale`` (the true inverse scale of the observation: image scale drift × radiation
damage, averaged over the images it was recorded on) and ``counts.expected``.

>>> from friedel.plugins.simulate.params import make_params
>>> experiments, refl = simulate_integrated(make_params("tiny"))  # doctest: +SKIP
"""

from __future__ import annotations

import math

import numpy as np

from friedel.flags import Flags
from friedel.plugins.simulate import physics
from friedel.plugins.simulate.sweep import build_sweep
from friedel.reflection_table import ReflectionTable

#: shoebox geometry of the model integration (DIALS's defaults: n_sigma 3, background around it)
N_SIGMA = 3.0
BACKGROUND_TO_FOREGROUND = 3.0
#: profile fitting weighs pixels by the profile: the background error of ~1/PRF_GAIN the pixels
PRF_GAIN = 2.5


def simulate_integrated(params, centroid_error_px: float = 0.1):
    """True experiments and an integrated-like reflection table of the sweep ``params`` describes.

    Parameters
    ----------
    params : :class:`friedel.plugins.simulate.params.SimulateParams` (``make_params("thaumatin")``)
    centroid_error_px : standard deviation of the observed centroid about the true one (pixels)

    Returns
    -------
    (ExperimentList, ReflectionTable)
        The true models (one experiment per lattice) and one row per reflection whose centre lies
        inside the scan and on the detector: ``intensity.sum/prf.value/variance`` in raw counts
        (multiply by ``lp`` / ``qe`` to correct), ``lp``, ``qe`` (1: the simulator has no
        detector-efficiency loss), ``partiality``, ``d``, ``xyzcal.*``, ``xyzobs.px.value``, ``s1``,
        ``background.mean``, ``num_pixels.foreground/background``, ``flags``
        (indexed | integrated_sum | integrated_prf), and the truth columns described above.
    """
    sweep = build_sweep(params)
    p = sweep.params
    refl = sweep.reflections
    scan = sweep.truth[0].scan
    z = refl["xyzcal.px"][:, 2]
    inside = (z >= 0) & (z < scan.num_images) & refl.get_flags(Flags.predicted)
    if "panel" in refl:
        inside &= refl["panel"] >= 0
    rng = np.random.default_rng([p.seed, 23])

    # true inverse scale of each observation: drift × damage over the images it was recorded on
    parts = sweep.partials
    row, image, frac = parts["row"], parts["image"], parts["fraction"]
    d_row = refl["d"][row]
    g_image = sweep.scales[image] * np.exp(-sweep.b_factors[image] / (2.0 * d_row**2))
    with np.errstate(invalid="ignore", divide="ignore"):
        g_true = np.bincount(row, frac * g_image, minlength=len(refl)) / refl["partiality"]

    out = refl.select(inside)
    g_true = g_true[inside]
    n = len(out)

    # background under each spot (counts per pixel per image, from the simulator's own map)
    panel = sweep.truth[0].detector[0]
    beam = sweep.truth[0].beam
    bgp = p.physics.background
    bg_map = physics.background_map(panel, beam.s0, bgp.flat, bgp.air, bgp.air_width, bgp.solvent_ring, bgp.ring_d,
                                    bgp.ring_width, beam.polarization_normal, beam.polarization_fraction)
    ny, nx = bg_map.shape
    xpx = np.clip(out["xyzcal.px"][:, 0].astype(int), 0, nx - 1)
    ypx = np.clip(out["xyzcal.px"][:, 1].astype(int), 0, ny - 1)
    bg_per_pixel = bg_map[ypx, xpx].astype(float)

    # foreground pixels: the n_sigma ellipse on each of the images the rocking curve spans
    cov = out["spot.covariance.px"]
    det = np.clip(cov[:, 0] * cov[:, 2] - cov[:, 1] ** 2, 0.05, None)
    area = np.maximum(9.0, math.pi * N_SIGMA**2 * np.sqrt(det))
    osc = math.radians(scan.oscillation[1])
    frames = np.maximum(1.0, np.ceil(2 * N_SIGMA * out["sigma_phi"] / osc))
    n_fg = np.rint(area * frames)
    n_bg = np.rint(BACKGROUND_TO_FOREGROUND * n_fg)

    signal = out["counts.expected"]
    photons = rng.poisson(np.clip(signal, 0, None)).astype(float)
    bg_true = bg_per_pixel * n_fg
    bg_fg = rng.poisson(bg_true).astype(float)  # background photons inside the foreground
    bg_est_sum = rng.poisson(bg_per_pixel * n_bg).astype(float) * (n_fg / n_bg)
    i_sum = photons + bg_fg - bg_est_sum
    var_sum = np.maximum(i_sum, 0.0) + bg_est_sum * (1.0 + n_fg / n_bg)

    # profile fitting: same spot photons, background noise of fewer effective pixels
    n_eff = np.maximum(1.0, n_fg / PRF_GAIN)
    bg_eff = bg_per_pixel * n_eff
    bg_noise_prf = (rng.poisson(bg_eff).astype(float) - bg_eff) \
        - (rng.poisson(bg_per_pixel * n_bg).astype(float) - bg_per_pixel * n_bg) * (n_eff / n_bg)
    i_prf = photons + bg_noise_prf
    var_prf = np.maximum(i_prf, 0.0) + bg_per_pixel * n_eff * (1.0 + n_eff / n_bg)

    out["intensity.sum.value"] = i_sum
    out["intensity.sum.variance"] = var_sum
    out["intensity.prf.value"] = i_prf
    out["intensity.prf.variance"] = var_prf
    out["background.mean"] = bg_per_pixel
    out["num_pixels.foreground"] = n_fg.astype(np.int32)
    out["num_pixels.background"] = n_bg.astype(np.int32)
    out["qe"] = np.ones(n)
    out["truth.scale"] = g_true
    xyz = out["xyzcal.px"].copy()
    xyz[:, :2] += rng.normal(0.0, centroid_error_px, size=(n, 2))
    out["xyzobs.px.value"] = xyz
    out["flags"] = (out["flags"] | Flags.indexed | Flags.integrated_sum | Flags.integrated_prf).astype(out["flags"].dtype)
    for column in ("counts.full", "lorentz", "polarization", "spot.covariance.px"):
        if column in out:
            del out[column]
    out.experiment_identifiers = dict(refl.experiment_identifiers)
    return sweep.truth, out
