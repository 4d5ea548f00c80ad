"""Files: DIALS-compatible ``.expt`` (JSON) and ``.refl`` (msgpack), written atomically."""

from friedel.io.atomic import atomic_write, check_not_overwriting_input, check_output_path, committed_together
from friedel.io.expt import read_experiments, write_experiments
from friedel.io.refl import read_reflections, write_reflections

__all__ = [
    "atomic_write",
    "check_not_overwriting_input",
    "check_output_path",
    "committed_together",
    "read_experiments",
    "read_reflections",
    "write_experiments",
    "write_reflections",
]
