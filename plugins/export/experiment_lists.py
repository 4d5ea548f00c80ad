"""Splitting and combining experiment lists with their reflections, identifiers kept unique.

A reflection's ``id`` is the row of its experiment in the list; ``experiment_identifiers``
maps it to the experiment's identifier string, which is what survives splitting, combining and
reordering. Both operations renumber ``id`` and keep identifiers (or make clashing ones unique).
"""

from __future__ import annotations

import uuid

import numpy as np

from friedel.errors import FriedelError
from friedel.models.experiment import ExperimentList
from friedel.plugins.export.observations import wavelength_groups
from friedel.reflection_table import ReflectionTable


def _subset(experiments, reflections, rows: list[int]):
    """Experiments ``rows`` (in that order) and their reflections, ids renumbered 0..k-1."""
    out_expts = ExperimentList(experiments[i] for i in rows)
    if reflections is None:
        return out_expts, None
    ids = np.asarray(reflections["id"])
    new_id = np.full(max(len(experiments), int(ids.max(initial=-1)) + 1), -1, dtype=np.int64)
    for new, old in enumerate(rows):
        new_id[old] = new
    sel = np.isin(ids, rows)
    table = reflections.select(sel)
    table["id"] = new_id[ids[sel]]
    table.experiment_identifiers = {new: experiments[old].ensure_identifier() for new, old in enumerate(rows)}
    return out_expts, table


def split_experiments(experiments, reflections=None, by: str = "experiment", wavelength_tolerance: float = 1e-4):
    """Parts of an experiment list: one per experiment, or one per wavelength group.

    Returns a list of (ExperimentList, ReflectionTable or None). Reflections not assigned to any
    experiment (``id`` -1) go nowhere.
    """
    if len(experiments) == 0:
        raise FriedelError("the experiment list is empty: nothing to split")
    if by == "experiment":
        parts = [[i] for i in range(len(experiments))]
    elif by == "wavelength":
        groups, _ = wavelength_groups(experiments, wavelength_tolerance)
        parts = [[i for i, g in enumerate(groups) if g == k] for k in range(max(groups) + 1)]
    else:
        raise FriedelError(f"by={by}: choose experiment or wavelength")
    return [_subset(experiments, reflections, rows) for rows in parts]


def combine_experiments(pairs) -> tuple[ExperimentList, ReflectionTable | None, list[str]]:
    """One experiment list and reflection table from several (experiments, reflections) pairs.

    ``id`` becomes the row in the combined list; identifiers are kept, and an identifier already
    used (the same file given twice, or files that number their experiments "0", "1", ...) is
    replaced by a new unique one. Only the columns every table has are kept.

    Returns the combined experiments, the combined reflections (None if no pair had any) and
    notes on what was changed.
    """
    notes: list[str] = []
    combined = ExperimentList()
    tables = []
    used: set[str] = set()
    for n, (experiments, reflections) in enumerate(pairs):
        start = len(combined)
        old_ids = [e.identifier for e in experiments]
        for e in experiments:
            ident = e.identifier or str(uuid.uuid4())
            if ident in used:
                new = str(uuid.uuid4())
                notes.append(f"input {n + 1}: identifier {ident!r} already used; it becomes {new}")
                ident = new
            e.identifier = ident
            used.add(ident)
            combined.append(e)
        if reflections is None:
            continue
        ids = np.asarray(reflections["id"])
        bad = (ids >= len(experiments))
        if np.any(bad):
            raise FriedelError(f"input {n + 1}: {int(bad.sum())} reflections belong to experiment ids beyond the "
                               f"{len(experiments)} experiments of its .expt file: the pair does not match")
        # a table whose identifiers name its experiments out of order is mapped by identifier
        mapping = np.arange(len(experiments))
        if reflections.experiment_identifiers:
            position = {ident: i for i, ident in enumerate(old_ids)}
            for i, ident in reflections.experiment_identifiers.items():
                if ident in position and i < len(mapping):
                    mapping[i] = position[ident]
        table = reflections.copy()
        table["id"] = np.where(ids >= 0, mapping[np.clip(ids, 0, None)] + start, -1)
        table.experiment_identifiers = {start + i: e.identifier for i, e in enumerate(experiments)}
        tables.append(table)
    if not tables:
        return combined, None, notes
    common = set(tables[0].keys())
    for t in tables[1:]:
        common &= set(t.keys())
    dropped = sorted(set().union(*(set(t.keys()) for t in tables)) - common)
    if dropped:
        notes.append(f"columns not in every table were dropped: {', '.join(dropped)}")
        for t in tables:
            for name in dropped:
                if name in t:
                    del t[name]
    out = ReflectionTable()
    for t in tables:
        out.extend(t)
    out.experiment_identifiers = {i: e.identifier for i, e in enumerate(combined)}
    return combined, out, notes
