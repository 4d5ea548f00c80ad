"""Apply the decided changes of basis and space group to experiments and reflections."""

from __future__ import annotations

import numpy as np

from friedel.models.experiment import ExperimentList
from friedel.plugins.bravais.reindex import reindex_experiments


def reindexed_outputs(experiments, reflections, changes: dict):
    """Experiments and reflections with each kept experiment reindexed.

    Parameters
    ----------
    changes : dict
        experiment index -> (ChangeOfBasis from its input setting, space group symbol in the new
        setting). Experiments not in ``changes`` are left out (with their reflections); the kept
        ones are renumbered 0, 1, ... in their input order.

    Returns
    -------
    (ExperimentList, ReflectionTable)
    """
    kept = sorted(changes)
    new_experiments = ExperimentList()
    for index in kept:
        cb, space_group = changes[index]
        (expt,) = reindex_experiments(ExperimentList([experiments[index]]), cb, space_group)
        new_experiments.append(expt)
    ids = np.asarray(reflections["id"])
    rows = np.flatnonzero(np.isin(ids, kept))
    out = reflections.select(rows)
    old_ids = ids[rows]
    hkl = np.asarray(out["miller_index"]).copy()
    new_ids = np.full(len(rows), -1, dtype=np.int32)
    # rows of each kept experiment, grouped once
    order = np.argsort(old_ids, kind="stable")
    sorted_ids = old_ids[order]
    for new, index in enumerate(kept):
        sel = order[np.searchsorted(sorted_ids, index, "left"):np.searchsorted(sorted_ids, index, "right")]
        new_ids[sel] = new
        cb, _sg = changes[index]
        indexed = sel[np.any(hkl[sel] != 0, axis=1)]
        if len(indexed):
            hkl[indexed] = cb.apply_to_miller_indices(hkl[indexed])
    out["miller_index"] = hkl.astype(np.int32)
    out["id"] = new_ids
    identifiers = {}
    for new, index in enumerate(kept):
        identifier = experiments[index].identifier or reflections.experiment_identifiers.get(index, "")
        if identifier:
            identifiers[new] = identifier
    out.experiment_identifiers = identifiers
    return new_experiments, out
