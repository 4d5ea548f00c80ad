"""``friedel simulate``: write a simulated rotation sweep and its truth."""

from __future__ import annotations

import logging

from friedel.cli.command import Command
from friedel.errors import FriedelError
from friedel.plugins.simulate.params import PRESETS, SimulateParams

log = logging.getLogger("friedel")


class SimulateCommand(Command):
    """Simulate a rotation sweep (images in miniCBF and/or NXmx) with the truth beside it:
    truth.expt (true models), header.expt (header geometry), truth_reflections.refl,
    truth_partials.npz, truth_intensities.mtz and truth.json. A bare preset name may be
    given instead of preset=NAME."""

    name = "simulate"
    help = "Simulate a rotation sweep with known truth (presets: " + ", ".join(sorted(PRESETS)) + ")"
    usage = ("friedel simulate [preset=tiny|thaumatin|insulin|trypsin_2lattice|narrow_wedge|monoclinic_c2] "
             "[output.directory=sim] [output.format=cbf|nxmx|both] [seed=1] [header_error.distance=1.0] [nproc=2]")
    Params = SimulateParams

    def run(self, params, files):
        from friedel.plugins.simulate.sweep import simulate

        if files:
            if len(files) == 1 and files[0] in PRESETS:
                params.preset = files[0]
            else:
                raise FriedelError(f"friedel simulate takes no input files (got {' '.join(files)}); "
                                   f"give parameters as key=value, e.g. preset=tiny output.directory=sim")
        simulate(params)
        return 0
