"""Lattices from candidate vectors: basis choice, Niggli reduction, known-symmetry settings,
cell constraints and misorientation between lattices.

Direct-space bases are 3 x 3 arrays whose rows are a, b, c (Angstrom, lab frame at zero
rotation), so ``A = inv(D)`` and fractional Miller indices are ``rlp @ D.T``.
"""

from __future__ import annotations

import itertools

import gemmi
import numpy as np

from friedel.errors import FriedelError

CENTRING_MULTIPLICITY = {"P": 1, "A": 2, "B": 2, "C": 2, "I": 2, "R": 3, "F": 4, "H": 3}


def cell_of(D: np.ndarray) -> tuple:
    """(a, b, c, alpha, beta, gamma) of the basis rows of ``D``."""
    a, b, c = np.linalg.norm(D, axis=1)
    ang = lambda u, v: np.degrees(np.arccos(np.clip(u @ v / np.linalg.norm(u) / np.linalg.norm(v), -1, 1)))  # noqa
    return (a, b, c, ang(D[1], D[2]), ang(D[0], D[2]), ang(D[0], D[1]))


def indexed_fraction(D: np.ndarray, rlp: np.ndarray, tolerance: float) -> float:
    h = rlp @ D.T
    return float(np.mean(np.all(np.abs(h - np.round(h)) < tolerance, axis=1)))


def fit_basis(D: np.ndarray, rlp: np.ndarray, tolerance: float = 0.3, iterations: int = 3) -> np.ndarray:
    """Least-squares basis (rows, right-handed) through the origin for the spots it indexes
    within ``tolerance``, re-indexing after each fit."""
    for _ in range(iterations):
        h_frac = rlp @ D.T
        h = np.round(h_frac)
        ok = np.all(np.abs(h_frac - h) < tolerance, axis=1) & np.any(h != 0, axis=1)
        if ok.sum() < 6 or np.linalg.matrix_rank(h[ok]) < 3:
            break
        At, *_ = np.linalg.lstsq(h[ok], rlp[ok], rcond=None)
        D = np.linalg.inv(At.T)
    return right_handed(D)


def candidate_bases(vectors: np.ndarray, rlp: np.ndarray, max_cell: float, tolerance: float = 0.25,
                    max_combinations: int = 25, n_best: int = 5, max_spots: int = 400) -> list[np.ndarray]:
    """Bases of three non-coplanar candidate vectors, best first.

    Every triple of the first ``max_combinations`` vectors that spans a cell (volume at least
    a few percent of the product of the lengths) is scored by the fraction of rlps it indexes
    within ``tolerance``; among triples indexing nearly as many as the best (a supercell indexes
    the same spots), the smallest volume wins.
    """
    v = np.asarray(vectors, dtype=float)[:max_combinations]
    if len(v) < 3:
        return []
    combos = np.array(list(itertools.combinations(range(len(v)), 3)))
    D = v[combos]  # (n, 3, 3)
    volume = np.abs(np.linalg.det(D))
    lengths = np.linalg.norm(D, axis=2)
    flat_enough = volume > 0.1 * np.prod(lengths, axis=1)  # angles not too acute
    small_enough = volume < max_cell**3 * 2.0
    combos, D, volume = combos[flat_enough & small_enough], D[flat_enough & small_enough], volume[flat_enough & small_enough]
    if len(D) == 0:
        return []
    # the lowest-resolution spots tell triples apart; more only cost time
    rlp = rlp[np.argsort(np.linalg.norm(rlp, axis=1))[:max_spots]]
    # fraction indexed for every triple at once: (n, spots, 3) in blocks to bound memory
    frac = np.empty(len(D))
    block = max(1, int(2e7 // max(1, 3 * len(rlp))))
    for s in range(0, len(D), block):
        h = np.einsum("sj,nij->nsi", rlp, D[s : s + block])
        hr = np.round(h)
        ok = np.all(np.abs(h - hr) < tolerance, axis=2)
        # a vector normal to the thin slab a narrow wedge samples makes every projection ~0:
        # it "indexes" all spots with index 0 along it; such bases are degenerate, not lattices
        zero = np.sum((hr == 0) & ok[..., None], axis=1) / np.maximum(1, ok.sum(axis=1))[:, None]
        degenerate = np.max(zero, axis=1) > 0.7
        frac[s : s + block] = np.where(degenerate, 0.0, np.mean(ok, axis=1))
    best = frac.max()
    good = frac >= best - max(0.05, 0.1 * best)
    # rank: smallest volume among the near-best, then by fraction
    order = np.lexsort((-frac, np.round(volume / volume[good].min(), 1) if good.any() else volume))
    order = [i for i in order if good[i]] + [i for i in np.argsort(-frac) if not good[i]]
    out, seen_volumes = [], []
    for i in order:
        Di = right_handed(D[i])
        if any(abs(volume[i] - sv) < 0.02 * sv and abs(frac[i] - sf) < 1e-9 for sv, sf in seen_volumes):
            continue
        seen_volumes.append((volume[i], frac[i]))
        out.append(Di)
        if len(out) >= n_best:
            break
    return out


def right_handed(D: np.ndarray) -> np.ndarray:
    return D if np.linalg.det(D) > 0 else -D


def niggli_reduce(D: np.ndarray) -> np.ndarray:
    """The Niggli-reduced basis (rows) of the lattice spanned by the rows of ``D``, right-handed.

    gemmi reduces the cell parameters and tracks the change of basis; the transformation is
    applied to the vectors so that the orientation is kept.
    """
    D = right_handed(np.asarray(D, dtype=float))
    gv = gemmi.GruberVector(gemmi.UnitCell(*cell_of(D)), "P", True)
    gv.niggli_reduce()
    target = np.array(gv.get_cell().parameters)
    M = np.array(gv.change_of_basis.rot, dtype=float) / gemmi.Op.DEN
    best = None
    for cand in (M @ D, M.T @ D, np.linalg.inv(M) @ D, np.linalg.inv(M).T @ D):
        cand = right_handed(cand)
        err = np.abs(np.array(cell_of(cand)) - target).max()
        if best is None or err < best[0]:
            best = (err, cand)
    if best[0] > 1e-3 * max(1.0, target[:3].max()):
        return _niggli_by_search(D)
    return best[1]


def _niggli_by_search(D: np.ndarray) -> np.ndarray:
    """Fallback: shortest three independent lattice vectors (a Buerger-reduced basis)."""
    u = np.array([x for x in itertools.product(range(-2, 3), repeat=3) if any(x)], dtype=float)
    vec = u @ D
    order = np.argsort(np.linalg.norm(vec, axis=1))
    basis = []
    for i in order:
        trial = basis + [vec[i]]
        if np.linalg.matrix_rank(np.array(trial), tol=1e-6 * np.linalg.norm(vec[i])) == len(trial):
            if len(trial) < 3 or abs(np.linalg.det(np.array(trial))) < abs(np.linalg.det(D)) * 1.01:
                basis = trial
        if len(basis) == 3:
            break
    return right_handed(np.array(basis))


# -- known symmetry ---------------------------------------------------------------------------
def constrain_cell(cell, space_group: gemmi.SpaceGroup) -> tuple:
    """Cell parameters averaged to obey the lattice constraints of ``space_group``'s system."""
    a, b, c, al, be, ga = [float(x) for x in cell]
    system = space_group.crystal_system_str()
    if system == "triclinic":
        return (a, b, c, al, be, ga)
    if system == "monoclinic":
        return (a, b, c, 90.0, be, 90.0)
    if system == "orthorhombic":
        return (a, b, c, 90.0, 90.0, 90.0)
    if system == "tetragonal":
        m = (a + b) / 2
        return (m, m, c, 90.0, 90.0, 90.0)
    if system in ("trigonal", "hexagonal"):
        if space_group.ext == "R":  # rhombohedral axes
            m, ang = (a + b + c) / 3, (al + be + ga) / 3
            return (m, m, m, ang, ang, ang)
        m = (a + b) / 2
        return (m, m, c, 90.0, 90.0, 120.0)
    m = (a + b + c) / 3
    return (m, m, m, 90.0, 90.0, 90.0)


def _constraint_misfit(cells: np.ndarray, space_group: gemmi.SpaceGroup) -> np.ndarray:
    """How far each cell (n x 6) is from obeying the system's constraints (relative lengths, degrees/100)."""
    a, b, c, al, be, ga = cells.T
    rel = lambda x, y: np.abs(x - y) / np.maximum(x, y)  # noqa: E731
    deg = lambda x, t: np.abs(x - t) / 100.0  # noqa: E731
    system = space_group.crystal_system_str()
    if system == "triclinic":
        return np.zeros(len(cells))
    if system == "monoclinic":
        return np.maximum(deg(al, 90), deg(ga, 90)) + 1e-4 * (be < 90)
    if system == "orthorhombic":
        return np.max([deg(al, 90), deg(be, 90), deg(ga, 90)], axis=0)
    if system == "tetragonal":
        return np.max([rel(a, b), deg(al, 90), deg(be, 90), deg(ga, 90)], axis=0)
    if system in ("trigonal", "hexagonal") and space_group.ext != "R":
        return np.max([rel(a, b), deg(al, 90), deg(be, 90), deg(ga, 120)], axis=0)
    if system in ("trigonal", "hexagonal"):
        return np.max([rel(a, b), rel(b, c), deg(al, be), deg(be, ga)], axis=0)
    return np.max([rel(a, b), rel(b, c), deg(al, 90), deg(be, 90), deg(ga, 90)], axis=0)


def conventional_setting(D: np.ndarray, space_group: gemmi.SpaceGroup, unit_cell=None,
                         length_tolerance: float = 0.05, angle_tolerance: float = 5.0) -> np.ndarray:
    """The basis of the lattice ``D`` in the reference setting of ``space_group``.

    Every basis of lattice vectors with small integer coefficients (-2..2) and the centring
    multiplicity of ``space_group`` is tried; the one closest to ``unit_cell`` (if given) or
    to the constraints of the crystal system wins. Raises FriedelError when none fits.
    """
    D = niggli_reduce(D)
    mult = CENTRING_MULTIPLICITY.get(space_group.centring_type(), 1)
    u = np.array([x for x in itertools.product(range(-2, 3), repeat=3) if any(x)], dtype=float)
    vec = u @ D
    length = np.linalg.norm(vec, axis=1)
    if unit_cell is not None:
        target = np.asarray(unit_cell, dtype=float)
        rows = [np.flatnonzero(np.abs(length - t) < length_tolerance * t) for t in target[:3]]
    else:
        target = None
        limit = length.min() * 0 + np.sort(length)[:3].max() * 2.1
        rows = [np.flatnonzero(length <= limit)] * 3
    if any(len(r) == 0 for r in rows):
        raise _no_fit(D, space_group, unit_cell)
    ia, ib, ic = (g.ravel() for g in np.meshgrid(*rows, indexing="ij"))
    if len(ia) > 3_000_000:
        raise FriedelError("too many candidate settings; give unit_cell= together with space_group=")
    M = np.stack([u[ia], u[ib], u[ic]], axis=1)
    det = np.round(np.linalg.det(M)).astype(int)
    ok = det == mult
    ok[ok] = _has_centring(M[ok], space_group)
    M = M[ok]
    if len(M) == 0:
        raise _no_fit(D, space_group, unit_cell)
    B = M @ D  # (n, 3, 3)
    lengths = np.linalg.norm(B, axis=2)
    cosang = lambda i, j: np.einsum("nk,nk->n", B[:, i], B[:, j]) / (lengths[:, i] * lengths[:, j])  # noqa
    cells = np.column_stack([lengths, np.degrees(np.arccos(np.clip(np.column_stack(
        [cosang(1, 2), cosang(0, 2), cosang(0, 1)]), -1, 1)))])
    if target is not None:
        misfit = np.max(np.column_stack([np.abs(cells[:, :3] - target[:3]) / target[:3] / length_tolerance,
                                         np.abs(cells[:, 3:] - target[3:]) / angle_tolerance]), axis=1)
        fits = misfit <= 1.0
    else:
        misfit = _constraint_misfit(cells, space_group)
        fits = misfit <= max(length_tolerance, angle_tolerance / 100.0)
    if not fits.any():
        raise _no_fit(D, space_group, unit_cell)
    # among fitting settings prefer the best fit, then the centring-lattice check by symmetry
    order = np.argsort(misfit + 1e-6 * np.abs(M).sum(axis=(1, 2)))
    for i in order[fits[order]]:
        cell = gemmi.UnitCell(*cells[i])
        if target is not None or cell.is_compatible_with_spacegroup(space_group, 0.05):
            return B[i]
    return B[order[0]]


def _has_centring(M: np.ndarray, space_group: gemmi.SpaceGroup) -> np.ndarray:
    """Whether the cells ``M @ D`` (n, 3, 3) carry the centring of ``space_group``: every primitive
    vector (a row of ``M^-1``) must sit on a centring translation of the new cell. The
    determinant alone cannot tell C from I (or A, B) centring."""
    cen = np.array(space_group.operations().cen_ops, dtype=float) / gemmi.Op.DEN  # (m, 3)
    frac = np.mod(np.linalg.inv(M), 1.0)  # (n, 3 rows, 3)
    diff = np.abs(frac[:, :, None, :] - cen[None, None, :, :])
    diff = np.minimum(diff, 1.0 - diff)
    on_centring = np.any(np.all(diff < 1e-6, axis=3), axis=2)  # (n, 3)
    return np.all(on_centring, axis=1)


def _no_fit(D, space_group, unit_cell) -> FriedelError:
    niggli = ", ".join(f"{x:.2f}" for x in cell_of(D))
    what = f"unit_cell={','.join(f'{x:g}' for x in unit_cell)}" if unit_cell is not None else "the lattice"
    return FriedelError(
        f"the indexed lattice (reduced cell {niggli}) does not fit {what} in {space_group.xhm()}; "
        "check unit_cell=/space_group=, or index without them and choose a setting afterwards"
    )


# -- several lattices -------------------------------------------------------------------------
def metric_symmetry_operations(D: np.ndarray, tolerance: float = 0.02) -> np.ndarray:
    """Integer matrices M (entries -1..1, det 1) that keep the metric of basis ``D`` (lattice symmetry)."""
    G = D @ D.T
    vals = np.array(list(itertools.product((-1, 0, 1), repeat=9)), dtype=float).reshape(-1, 3, 3)
    vals = vals[np.round(np.linalg.det(vals)) == 1]
    G2 = vals @ G @ np.transpose(vals, (0, 2, 1))
    scale = np.sqrt(np.outer(np.diag(G), np.diag(G)))
    ok = np.all(np.abs(G2 - G) / scale <= tolerance, axis=(1, 2))
    return vals[ok]


def misorientation_deg(D1: np.ndarray, D2: np.ndarray) -> float:
    """Smallest rotation (degrees) taking lattice 1 onto lattice 2, over lattice 1's symmetry."""
    D1, D2 = niggli_reduce(D1), niggli_reduce(D2)
    best = 180.0
    for M in metric_symmetry_operations(D1):
        # rotation R with R a_i ~ b_i: polar part of the least-squares fit
        X = np.linalg.solve(M @ D1, D2)  # rows transform: D2 ~ (M D1) X
        Uu, _, Vt = np.linalg.svd(X)
        R = Uu @ Vt
        if np.linalg.det(R) < 0:
            continue
        angle = np.degrees(np.arccos(np.clip((np.trace(R) - 1) / 2, -1, 1)))
        best = min(best, angle)
    return float(best)
