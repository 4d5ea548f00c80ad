"""The steps of ``friedel process``: which command, which folder, which files in and out.

Each step runs in its own numbered folder, reads the outputs of earlier steps by relative
path and leaves its own outputs, log and JSON there. A step is described once here; the
runner (:mod:`friedel.plugins.process.runner`) knows nothing about individual commands.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Step:
    """One command of the pipeline.

    ``inputs`` name the kinds of file the command reads (``"images"``, ``"expt"``, ``"refl"``);
    the latest file of each kind is passed. ``outputs`` map kinds to the file names the command
    writes by default; after the step these become the latest files of those kinds.
    """

    command: str
    inputs: tuple[str, ...]
    outputs: dict = field(default_factory=dict)

    def folder(self, number: int, suffix: str = "") -> str:
        return f"{number:02d}_{self.command}{suffix}"


IMPORT = Step("import", ("images",), {"expt": "imported.expt"})
FIND_SPOTS = Step("find_spots", ("expt",), {"refl": "strong.refl"})
INDEX = Step("index", ("expt", "refl"), {"expt": "indexed.expt", "refl": "indexed.refl"})
REFINE = Step("refine", ("expt", "refl"), {"expt": "refined.expt", "refl": "refined.refl"})
INTEGRATE = Step("integrate", ("expt", "refl"), {"expt": "integrated.expt", "refl": "integrated.refl"})
SYMMETRY = Step("symmetry", ("expt", "refl"), {"expt": "symmetrized.expt", "refl": "symmetrized.refl"})
COSYM = Step("cosym", ("expt", "refl"), {"expt": "symmetrized.expt", "refl": "symmetrized.refl"})
SCALE = Step("scale", ("expt", "refl"), {"expt": "scaled.expt", "refl": "scaled.refl"})
ESTIMATE_RESOLUTION = Step("estimate_resolution", ("expt", "refl"), {"resolution": "friedel.estimate_resolution.json"})
MERGE = Step("merge", ("expt", "refl"), {"merged_mtz": "merged.mtz"})
EXPORT = Step("export", ("expt", "refl"), {"unmerged_mtz": "scaled_unmerged.mtz"})

#: every command process may run, for passing parameters through by command name
ALL_STEPS = (IMPORT, FIND_SPOTS, INDEX, REFINE, INTEGRATE, SYMMETRY, COSYM, SCALE, ESTIMATE_RESOLUTION, MERGE, EXPORT)
STEP_NAMES = tuple(s.command for s in ALL_STEPS)
