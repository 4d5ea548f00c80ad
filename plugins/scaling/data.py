"""Data preparation: which rows are scaled, the intensities they carry, and their groups.

The input is one reflection table for all experiments (several files are joined first, see
:func:`join_inputs`). :func:`prepare` picks the rows that can be scaled (assigned to an
experiment, indexed, integrated, inside the resolution and partiality cuts), applies the
Lorentz-polarization / detector-efficiency / partiality corrections to the profile-fitted and
summation intensities, and maps every row into the reciprocal ASU of the common space group.
"""

from __future__ import annotations

import logging

import attrs
import numpy as np

from friedel.errors import FriedelError
from friedel.flags import Flags
from friedel.reflection_table import ReflectionTable

log = logging.getLogger("friedel")


@attrs.define
class PreparedData:
    """Per-row arrays of every row that can get an inverse scale (all experiments, in order).

    ``rows`` indexes the input table; ``dataset`` is the experiment number; ``scalable`` marks
    rows that pass every cut (the others still get an inverse scale but are flagged
    ``excluded_for_scaling``). Intensities are corrected (lp/qe, and 1/partiality for sums)
    but unscaled; ``prf_ok``/``sum_ok`` say which measurements exist.
    """

    rows: np.ndarray
    dataset: np.ndarray
    hkl: np.ndarray
    d: np.ndarray
    phi: np.ndarray
    image: np.ndarray
    s1: np.ndarray
    partiality: np.ndarray
    i_prf: np.ndarray
    v_prf: np.ndarray
    i_sum: np.ndarray
    v_sum: np.ndarray
    prf_ok: np.ndarray
    sum_ok: np.ndarray
    scalable: np.ndarray
    user_excluded: np.ndarray
    group: np.ndarray  # groups for scaling (anomalous pairs merged unless anomalous=True)
    group_anom: np.ndarray  # groups with I+ and I- apart (error model)
    space_group: str = ""
    n_datasets: int = 0

    def __len__(self) -> int:
        return len(self.rows)

    def dataset_slices(self) -> list[slice]:
        """Rows of each data set (rows are sorted by data set)."""
        edges = np.searchsorted(self.dataset, np.arange(self.n_datasets + 1))
        return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def join_inputs(pairs) -> tuple:
    """One experiment list and one reflection table from several (experiments, table) pairs.

    The ``id`` column of each table is shifted past the experiments of the earlier pairs; only
    the columns every table has are kept (shoeboxes are dropped: scaling never needs them).
    """
    from friedel.models.experiment import ExperimentList

    experiments = ExperimentList()
    tables = []
    for exps, table in pairs:
        if "id" not in table or "miller_index" not in table:
            raise FriedelError("a reflection file has no id or miller_index column: give integrated or "
                               "symmetrized reflections (friedel integrate / friedel symmetry)")
        offset = len(experiments)
        t = table.select(table["id"] < len(exps)) if len(exps) else table
        ids = t["id"].astype(np.int32)
        t["id"] = np.where(ids >= 0, ids + offset, -1).astype(np.int32)
        t.experiment_identifiers = {}
        tables.append(t)
        experiments.extend(exps)
    common = set(tables[0].keys())
    for t in tables[1:]:
        common &= set(t.keys())
    common.discard("shoebox")
    dropped = sorted(set().union(*[set(t.keys()) for t in tables]) - common - {"shoebox"})
    if dropped:
        log.info(f"Columns not in every input table are dropped: {', '.join(dropped)}")
    trimmed = []
    for t in tables:
        for name in list(t.keys()):
            if name not in common:
                del t[name]
        trimmed.append(t)
    table = ReflectionTable.concatenate(trimmed)
    for e in experiments:
        e.ensure_identifier()
    table.assign_identifiers(experiments)
    return experiments, table


def common_space_group(experiments, requested: str | None) -> str:
    """The space group all crystals are scaled in; mixed or unsymmetrised input is an error."""
    import gemmi

    if requested:
        from friedel.phil.types import cell_contradicts_space_group

        for i, e in enumerate(experiments):  # scaling a tetragonal lattice in P6 would be silently wrong
            why = e.crystal is not None and cell_contradicts_space_group(e.crystal.unit_cell.parameters, requested)
            if why:
                raise FriedelError(f"space_group={requested} does not fit experiment {i}: {why}; give the space "
                                   "group friedel symmetry found, or one of its subgroups")
        return gemmi.SpaceGroup(requested).xhm()
    names = set()
    for e in experiments:
        if e.crystal is None:
            raise FriedelError("an experiment has no crystal model: give indexed, integrated data")
        sg = e.crystal.space_group
        names.add(sg.xhm() if sg is not None else "P 1")
    if len(names) > 1:
        raise FriedelError(f"the crystals are in different space groups ({', '.join(sorted(names))}): run "
                           "friedel symmetry (or cosym) on all of them together, or give space_group=")
    name = names.pop()
    if gemmi.SpaceGroup(name).number == 1:
        raise FriedelError("the crystals are in P 1: run friedel symmetry first (or give space_group=P1 "
                           "if the crystal really is triclinic)")
    return name


def _corrections(table: ReflectionTable) -> np.ndarray:
    """Multiplier from raw counts to corrected intensity: lp / qe (qe or dqe if present)."""
    n = len(table)
    lp = np.asarray(table["lp"], dtype=float) if "lp" in table else np.ones(n)
    qe = None
    for name in ("qe", "dqe"):
        if name in table:
            qe = np.asarray(table[name], dtype=float)
            break
    if qe is None:
        qe = np.ones(n)
    qe = np.where(qe > 0, qe, 1.0)
    return lp / qe


def parse_exclude_images(specs, experiments) -> list[tuple[int, int, int]]:
    """``["0:101:200", ...]`` -> [(dataset, first, last)] (one-line errors for bad text)."""
    out = []
    for spec in specs or []:
        for part in str(spec).replace(",", " ").split():
            bits = part.split(":")
            try:
                if len(bits) == 2 and len(experiments) == 1:
                    out.append((0, int(bits[0]), int(bits[1])))
                elif len(bits) == 3:
                    out.append((int(bits[0]), int(bits[1]), int(bits[2])))
                else:
                    raise ValueError
            except ValueError:
                raise FriedelError(f"exclude_images={part!r}: write dataset:first:last, e.g. 0:101:200") from None
    for ds, _, _ in out:
        if not 0 <= ds < len(experiments):
            raise FriedelError(f"exclude_images names data set {ds}, but there are {len(experiments)}")
    return out


def observation_phi_and_image(table: ReflectionTable, experiments, ids: np.ndarray):
    """Rotation angle (degrees) and 1-based image number of each row (zeros/first image for stills)."""
    n = len(ids)
    z = None
    for name in ("xyzcal.px", "xyzobs.px.value"):
        if name in table:
            z = np.asarray(table[name], dtype=float)[:, 2]
            break
    phi = np.zeros(n)
    image = np.ones(n, dtype=np.int64)
    for i, e in enumerate(experiments):
        sel = ids == i
        if not np.any(sel) or e.scan is None:
            continue
        zi = z[sel] if z is not None else np.full(int(sel.sum()), e.scan.array_range[0] + 0.5)
        if not e.scan.is_still:
            phi[sel] = e.scan.angle_from_frame(zi)
        first, last = e.scan.image_range
        image[sel] = np.clip(np.floor(zi).astype(np.int64) + 1, first, last)
    return phi, image


def prepare(experiments, table: ReflectionTable, cut, space_group: str, anomalous: bool) -> PreparedData:
    """Select and correct the rows to scale (see the module docstring)."""
    from friedel.miller import asu_mapping, d_spacing

    n_exp = len(experiments)
    ids = np.asarray(table["id"], dtype=np.int64)
    hkl = np.asarray(table["miller_index"], dtype=np.int32).reshape(-1, 3)
    candidate = (ids >= 0) & (ids < n_exp) & np.any(hkl != 0, axis=1)
    for ds in cut.exclude_datasets or ():
        if not 0 <= ds < n_exp:
            raise FriedelError(f"exclude_datasets names data set {ds}, but there are {n_exp}")
    rows = np.flatnonzero(candidate)
    rows = rows[np.argsort(ids[rows], kind="stable")]
    if not len(rows):
        raise FriedelError("no indexed reflections assigned to an experiment: nothing to scale")
    t = table.select(rows)
    ids_r = ids[rows]
    hkl_r = hkl[rows]
    d = np.asarray(t["d"], dtype=float).copy() if "d" in t else np.zeros(len(rows))
    bad_d = ~(np.isfinite(d) & (d > 0))  # unintegrated rows of some files carry d = 0
    for i, e in enumerate(experiments):
        sel = (ids_r == i) & bad_d
        if np.any(sel):
            d[sel] = d_spacing(hkl_r[sel], e.crystal.unit_cell)
    flags = np.asarray(t["flags"], dtype=np.int64) if "flags" in t else np.zeros(len(rows), np.int64)
    corr = _corrections(t)
    partiality = np.asarray(t["partiality"], dtype=float) if "partiality" in t else np.ones(len(rows))
    n = len(rows)

    def measurement(kind, flag):
        vname, varname = f"intensity.{kind}.value", f"intensity.{kind}.variance"
        if vname not in t or varname not in t:
            return np.zeros(n), np.zeros(n), np.zeros(n, bool)
        value = np.asarray(t[vname], dtype=float)
        var = np.asarray(t[varname], dtype=float)
        ok = (flags & int(flag) != 0) & (var > 0) & np.isfinite(value) & np.isfinite(var)
        return value, var, ok

    i_prf, v_prf, prf_ok = measurement("prf", Flags.integrated_prf)
    i_sum, v_sum, sum_ok = measurement("sum", Flags.integrated_sum)
    p_safe = np.where(partiality > 0, partiality, 1.0)
    i_sum_c, v_sum_c = corr * i_sum / p_safe, corr**2 * v_sum / p_safe**2
    i_prf_c, v_prf_c = corr * i_prf, corr**2 * v_prf
    measured = prf_ok | sum_ok
    if not np.any(measured):
        raise FriedelError("no integrated intensities (integrated_sum/integrated_prf flags with positive "
                           "variances): run friedel integrate first")
    scalable = measured & (partiality >= cut.partiality_cutoff) & (d > 0)
    if cut.d_min is not None:
        scalable &= d >= cut.d_min
    if cut.d_max is not None:
        scalable &= d <= cut.d_max
    # an I/sigma cut on whichever intensity exists (profile preferred)
    i_best = np.where(prf_ok, i_prf_c, i_sum_c)
    v_best = np.where(prf_ok, v_prf_c, v_sum_c)
    with np.errstate(divide="ignore", invalid="ignore"):
        isig = np.where(v_best > 0, i_best / np.sqrt(v_best), -np.inf)
    scalable &= isig >= cut.min_isigi
    user_excluded = np.isin(ids_r, np.asarray(cut.exclude_datasets or (), dtype=np.int64))
    user_excluded |= (flags & int(Flags.user_excluded_in_scaling)) != 0
    phi, image = observation_phi_and_image(t, experiments, ids_r)
    for ds, first, last in parse_exclude_images(cut.exclude_images, experiments):
        user_excluded |= (ids_r == ds) & (image >= first) & (image <= last)
    scalable &= ~user_excluded
    mapping = asu_mapping(hkl_r, space_group, anomalous=anomalous)
    mapping_anom = mapping if anomalous else asu_mapping(hkl_r, space_group, anomalous=True)
    s1 = np.asarray(t["s1"], dtype=float).copy() if "s1" in t else np.tile([0.0, 0.0, 1.0], (n, 1))
    no_s1 = ~np.all(np.isfinite(s1), axis=1) | (np.linalg.norm(s1, axis=1) == 0)
    s1[no_s1] = [0.0, 0.0, 1.0]  # rows without a predicted s1 are never scalable; keep them finite
    scalable &= ~no_s1
    return PreparedData(
        rows=rows, dataset=ids_r, hkl=hkl_r, d=d, phi=phi, image=image, s1=s1, partiality=partiality,
        i_prf=i_prf_c, v_prf=v_prf_c, i_sum=i_sum_c, v_sum=v_sum_c, prf_ok=prf_ok, sum_ok=sum_ok,
        scalable=scalable, user_excluded=user_excluded, group=mapping.group, group_anom=mapping_anom.group,
        space_group=space_group, n_datasets=n_exp,
    )


def combined_intensities(data: PreparedData, choice: str, imid: float | None):
    """Intensity and variance of every row for one choice (``profile``, ``sum`` or combine at Imid).

    Combination: I = w·I_prf + (1 − w)·I_sum with w = 1/(1 + (I_sum/Imid)³) (w = 1 for
    I_sum ≤ 0), on rows with both; rows with only one measurement use it. Imid = 0 means
    profile wherever it exists, Imid = 1 (or ``sum``) summation wherever it exists.
    """
    both = data.prf_ok & data.sum_ok
    if choice == "profile" or (choice == "combine" and imid == 0):
        use_prf = data.prf_ok
        return np.where(use_prf, data.i_prf, data.i_sum), np.where(use_prf, data.v_prf, data.v_sum)
    if choice == "sum" or (choice == "combine" and imid == 1):
        use_sum = data.sum_ok
        return np.where(use_sum, data.i_sum, data.i_prf), np.where(use_sum, data.v_sum, data.v_prf)
    with np.errstate(over="ignore"):
        w = np.where(data.i_sum > 0, 1.0 / (1.0 + (np.maximum(data.i_sum, 0) / imid) ** 3), 1.0)
    i = np.where(both, w * data.i_prf + (1 - w) * data.i_sum, np.where(data.prf_ok, data.i_prf, data.i_sum))
    v = np.where(both, w * data.v_prf + (1 - w) * data.v_sum, np.where(data.prf_ok, data.v_prf, data.v_sum))
    return i, v
