"""From the embedding to the Laue group and one reindexing operation per data set.

Symmetry: for every data set, the cosine between its points under operations g_k and g_l
estimates the correlation under g_k^-1 g_l; averaged over data sets these estimates are scored
as symmetry elements (sigma 0.1, expected CC 1) and every subgroup by the Evans likelihood.

Reindexing: the seed is the point with the smallest mean cosine distance to its nearest
neighbours; each data set then takes the operation whose point is nearest (in cosine) to the
running mean of the points chosen so far, and a few passes against the final mean settle any
early mistakes. The operation found is replaced by the simplest member of its coset of the
chosen Laue group.
"""

from __future__ import annotations

import numpy as np

from friedel.plugins.symmetry.lattice import as_int, key, symmetry_elements
from friedel.plugins.symmetry.scoring import ElementScore, score_element, score_subgroups


def unit_rows(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def operator_cc_estimates(X: np.ndarray, n: int, m: int, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean cosine per operation index j, count) over data sets and pairs (k, l) with T[k,l] = j."""
    U = unit_rows(X).reshape(n, m, -1)
    cos = np.einsum("akd,ald->kl", U, U) / n  # averaged over data sets
    sums = np.bincount(T.ravel(), weights=cos.ravel(), minlength=m)
    counts = np.bincount(T.ravel(), minlength=m)
    return sums / np.maximum(counts, 1), counts


def score_symmetry(X, n, m, rotations, T, settings, sigma: float = 0.1):
    """Element scores and subgroup scores (best first) from the embedding."""
    cc_j, counts = operator_cc_estimates(X, n, m, T)
    index = {key(R): j for j, R in enumerate(rotations)}
    elements = symmetry_elements(rotations)
    scores = []
    for element in elements:
        cc = float(np.mean([cc_j[index[key(R)]] for R in element]))
        # N: the number of cosine estimates averaged (data sets x pairs of operations)
        N = int(n * sum(counts[index[key(R)]] for R in element))
        z, lik, p_s, p_n = score_element(cc, N, 1.0, 0.0, sigma)
        scores.append(ElementScore(element, cc, N, z, lik, p_s, p_n))
    return scores, score_subgroups(scores, settings)


def choose_seed(U: np.ndarray, n_neighbours: int = 10) -> int:
    """The point with the smallest mean cosine distance to its nearest neighbours."""
    cos = U @ U.T
    np.fill_diagonal(cos, -np.inf)
    k = min(n_neighbours, len(U) - 1)
    if k < 1:
        return 0
    nearest = -np.sort(-cos, axis=1)[:, :k]
    return int(np.argmax(nearest.mean(axis=1)))


def assign_operations(X: np.ndarray, n: int, m: int, seed_dataset: int | None = None, passes: int = 5
                      ) -> np.ndarray:
    """For each data set, the index k of the operation whose point joins the common cluster."""
    U = unit_rows(X).reshape(n, m, -1)
    flat = U.reshape(n * m, -1)
    if seed_dataset is None:
        s = choose_seed(flat)
        a0, k0 = divmod(s, m)
    else:
        a0, k0 = seed_dataset, 0
    chosen = np.full(n, -1)
    chosen[a0] = k0
    mean = U[a0, k0].copy()
    # the most confident data sets first: those whose best match to the seed stands out
    order = np.argsort(-np.max(U @ U[a0, k0], axis=1))
    for a in order:
        if a == a0:
            continue
        k = int(np.argmax(U[a] @ mean))
        chosen[a] = k
        mean += U[a, k]
    for _ in range(passes):
        total = U[np.arange(n), chosen].sum(axis=0)
        changed = False
        for a in range(n):
            others = total - U[a, chosen[a]]
            k = int(np.argmax(U[a] @ others)) if n > 1 else chosen[a]
            if k != chosen[a]:
                total += U[a, k] - U[a, chosen[a]]
                chosen[a] = k
                changed = True
        if not changed:
            break
    return chosen


def mean_cc_with_others(pc, chosen) -> np.ndarray:
    """Per data set, the pair-count weighted mean CC with every other data set, both reindexed by
    their chosen operations (the data's own verdict on the assignment, not the embedding's)."""
    n = pc.cc.shape[0]
    chosen = np.asarray(chosen)
    j = pc.product_table[chosen[:, None], chosen[None, :]]          # op between a and b
    cc = pc.cc[np.arange(n)[:, None], np.arange(n)[None, :], j]
    w = pc.n_pairs[np.arange(n)[:, None], np.arange(n)[None, :], j].astype(float)
    np.fill_diagonal(w, 0.0)
    ok = np.isfinite(cc) & (w > 0)
    num = np.where(ok, cc * w, 0.0).sum(axis=1)
    den = np.where(ok, w, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def coset_representative(Q: np.ndarray, laue_rotations) -> np.ndarray:
    """The simplest member of the coset {Q S : S in the Laue group} (identity when Q is in it).

    With h' = h @ Q the new intensities are I_new(h') = I(h' Q^-1); Q S gives I_new(h' S^-1),
    the same data when S is a symmetry of the new frame.
    """
    members = [as_int(as_int(Q) @ as_int(S)) for S in laue_rotations]
    eye = np.eye(3, dtype=np.int64)
    return min(members, key=lambda M: (int(np.abs(M - eye).sum()), key(M)))


def reindexing_operations(chosen, rotations, laue_rotations) -> list[np.ndarray]:
    """h' = h @ Q per data set, as coset representatives of the Laue group.

    Data set a under g_(k_a) agrees with the common frame: I_common(h) = I_a(h @ g_(k_a)), so a
    reflection observed at h_obs goes to h_obs @ g_(k_a)^-1. All Q may be followed by one common
    operation g (a change of the common frame) that maps the Laue group onto itself; the g that
    leaves the most data sets unchanged is used.
    """
    laue_keys = {key(S) for S in laue_rotations}
    Qs = [as_int(np.linalg.inv(rotations[k])) for k in chosen]
    best_g, best_count = np.eye(3, dtype=np.int64), -1
    for g in rotations:
        g = as_int(g)
        g_inv = as_int(np.linalg.inv(g))
        if {key(g_inv @ as_int(S) @ g) for S in laue_rotations} != laue_keys:
            continue  # would change the frame's symmetry
        count = sum(key(Q @ g) in laue_keys for Q in Qs)
        if count > best_count:
            best_g, best_count = g, count
    return [coset_representative(Q @ best_g, laue_rotations) for Q in Qs]
