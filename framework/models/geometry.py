"""Small vector/matrix helpers shared by the models (vectorised numpy)."""

from __future__ import annotations

import numpy as np


def unit(v) -> np.ndarray:
    """Return ``v`` normalised along its last axis."""
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def axis_angle_matrix(axis, angle_rad) -> np.ndarray:
    """Rotation matrices for a right-handed rotation by ``angle_rad`` about ``axis``.

    ``angle_rad`` may be a scalar (returns 3x3) or an array of shape (n,) (returns n x 3 x 3).
    """
    k = unit(axis)
    angle = np.asarray(angle_rad, dtype=float)
    c, s = np.cos(angle), np.sin(angle)
    K = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    KK = K @ K
    if angle.ndim == 0:
        return np.eye(3) + s * K + (1.0 - c) * KK
    return np.eye(3)[None] + s[:, None, None] * K[None] + (1.0 - c)[:, None, None] * KK[None]


def rotate_vectors(vectors, axis, angle_rad) -> np.ndarray:
    """Rotate each row of ``vectors`` (n x 3) about ``axis`` by the matching angle (Rodrigues)."""
    v = np.asarray(vectors, dtype=float)
    k = unit(axis)
    angle = np.asarray(angle_rad, dtype=float)
    c, s = np.cos(angle)[..., None], np.sin(angle)[..., None]
    kxv = np.cross(k, v)
    kdv = (v @ k)[..., None]
    return v * c + kxv * s + k * kdv * (1.0 - c)


def as_list(a) -> list:
    """A JSON-friendly nested list of Python floats."""
    return np.asarray(a, dtype=float).tolist()
