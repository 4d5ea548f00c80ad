"""Parameters of ``friedel process`` and how they reach each step.

Three kinds of ``name=value`` reach a step:

* ``process``'s own choices (``d_min``, ``anomalous``, ``space_group``, ``unit_cell``, ``nproc``),
  given to the steps they concern (:data:`SHARED`) under the same trailing name;
* ``<command>.<path>=value`` (``index.indexing.method=fft1d``): given to that command as
  ``<path>=value``;
* anything else (``max_lattices=2``): given to every step whose parameters have exactly one
  parameter of that name; a name no step knows is an error with suggestions, before any work.
"""

from __future__ import annotations

import functools

from friedel.errors import ParameterError
from friedel.phil import param, scope, types
from friedel.plugins.process.steps import STEP_NAMES


@scope
class ProcessParams:
    """Images to merged MTZ in one command."""

    d_min: float | None = param(None, type=types.Float(min=0.1),
                                help="High-resolution limit of scaling and merging (None: from estimate_resolution)")
    anomalous: bool = param(False, help="Keep Bijvoet pairs apart in scaling and merging (anomalous signal)")
    space_group: str | None = param(None, type=types.SpaceGroup(),
                                    help="Known space group: used in indexing and taken by symmetry")
    unit_cell: tuple | None = param(None, type=types.UnitCell(), help="Known unit cell, used in indexing")
    nproc: object = param("Auto", type=types.IntOrAuto(min=1), help="Processes for the steps that use several")
    resume: bool = param(True, help="Skip steps whose inputs and parameters are unchanged since the last run")
    rescale_to_suggested_resolution: bool = param(
        True, help="Scale again at the resolution estimate_resolution suggests (when d_min is not given)")
    min_indexed_fraction: float = param(
        0.6, help="Below this fraction of indexed spots, index again looking for several lattices", expert_level=1)
    report: bool = param(True, help="Write report.html (all steps, plots, offline) at the end")


#: process parameter -> (the trailing parameter name it sets, the steps it is given to)
SHARED = {
    "d_min": ("d_min", ("scale", "merge", "export")),
    # only anomalous=True is passed: merge writes I(+)/I(-) by default anyway
    "anomalous": ("anomalous", ("scale", "estimate_resolution")),
    "space_group": ("space_group", ("index", "symmetry", "cosym")),
    "unit_cell": ("unit_cell", ("index",)),
    "nproc": ("nproc", STEP_NAMES),
}


@functools.lru_cache(maxsize=None)
def step_tree(command: str):
    """The parameter tree of one command (None when the command has no parameters)."""
    from friedel.phil.tree import ParameterTree
    from friedel.plugin_manager import registry

    cls = registry("commands").get(command)
    if cls is None or cls.Params is None:
        return None
    return ParameterTree(cls.Params)


def _resolves(command: str, name: str) -> str | None:
    tree = step_tree(command)
    if tree is None:
        return None
    try:
        return tree.resolve(name)
    except ParameterError:
        return None


def route_assignments(assignments: list[str], available: set[str]) -> dict[str, list[str]]:
    """``name=value`` strings for each command, from the pass-through assignments of the user.

    Raises :class:`ParameterError` for a name that no installed step understands.
    """
    routed: dict[str, list[str]] = {c: [] for c in STEP_NAMES}
    for text in assignments:
        if "=" not in text:
            raise ParameterError(f"'{text}' is not a parameter assignment (expected name=value)")
        name, value = text.split("=", 1)
        head, _, rest = name.partition(".")
        if head in routed and rest:
            if head not in available:
                raise ParameterError(f"'{name}': the {head} step is not installed")
            tree = step_tree(head)
            if tree is None:
                raise ParameterError(f"'{name}': friedel {head} takes no parameters")
            tree.resolve(rest)  # raises with suggestions
            routed[head].append(f"{rest}={value}")
            continue
        takers = [c for c in STEP_NAMES if c in available and _resolves(c, name)]
        if not takers:
            raise ParameterError(
                f"unknown parameter '{name}': no step of friedel process has it; give it as "
                f"<step>.<parameter> (steps: {', '.join(STEP_NAMES)}) or see friedel <step> -c")
        for c in takers:
            routed[c].append(f"{name}={value}")
    return routed


def shared_assignments(params: ProcessParams, available: set[str]) -> dict[str, list[str]]:
    """The process-level choices as ``name=value`` for each step that has such a parameter."""
    out: dict[str, list[str]] = {c: [] for c in STEP_NAMES}
    for field_name, (name, commands) in SHARED.items():
        value = getattr(params, field_name)
        if value is None or value is False or (field_name == "nproc" and value == "Auto"):
            continue
        text = ",".join(str(v) for v in value) if isinstance(value, tuple) else str(value)
        for command in commands:
            if command in available and _resolves(command, name):
                out[command].append(f"{name}={text}")
    return out
