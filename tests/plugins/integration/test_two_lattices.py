"""Two lattices in one sweep: both integrated, shared foregrounds flagged and fitted without them."""

from __future__ import annotations

import math

import numpy as np

from friedel.flags import Flags
from friedel.io import read_experiments, read_reflections

from .scoring import match_truth, score
from .test_integrate_simulated import integrate_in


def test_two_lattices_with_overlaps(two_lattice_sweep):
    assert integrate_in(two_lattice_sweep) == 0
    experiments = read_experiments(two_lattice_sweep / "integrated.expt")
    t = read_reflections(two_lattice_sweep / "integrated.refl")
    truth = read_reflections(two_lattice_sweep / "truth_reflections.refl")
    flags = t["flags"]
    overlapped = (flags & int(Flags.overlapped_fg)) != 0
    for lattice in (0, 1):
        mine = t["id"] == lattice
        assert mine.sum() > 1000
        assert overlapped[mine].sum() > 50
        # sigma_m of each lattice from its own spots, even where the strong spots of the two merge
        assert abs(experiments[lattice].profile["sigma_m"] / math.hypot(0.05, 0.025) - 1) < 0.15
    # a shared foreground holds the neighbour's photons: no summation, but profile fitting
    assert not np.any(flags[overlapped] & int(Flags.integrated_sum))
    assert np.mean((flags[overlapped] & int(Flags.integrated_prf)) != 0) > 0.8
    s, p = score(t, truth, "sum"), score(t, truth, "prf")
    assert s["cc_full"] >= 0.999 and 0.9 <= s["sd_z"] <= 1.15, s
    assert p["cc_full"] >= 0.999 and 0.9 <= p["sd_z"] <= 1.15, p
    # the overlapped reflections themselves are measured honestly by profile fitting
    ir, tr = match_truth(t, truth)
    sel = overlapped[ir] & ((flags[ir] & int(Flags.integrated_prf)) != 0) & (truth["partiality"][tr] > 0.99)
    expected = truth["counts.expected"][tr][sel]
    z = (t["intensity.prf.value"][ir][sel] - expected) / np.sqrt(t["intensity.prf.variance"][ir][sel])
    assert sel.sum() > 100
    assert np.corrcoef(t["intensity.prf.value"][ir][sel], expected)[0, 1] > 0.99
    assert abs(np.mean(z)) < 0.3 and 0.8 < np.std(z) < 1.3, (np.mean(z), np.std(z))
