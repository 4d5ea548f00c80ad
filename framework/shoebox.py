"""Shoeboxes: the pixels (data, mask, background) of each reflection, stored compactly.

All boxes of a table live in three flat arrays addressed by per-reflection offsets, so
selecting, concatenating and writing many thousands of boxes stays vectorised.
A box covers ``bbox = (x0, x1, y0, y1, z0, z1)`` and its arrays have shape
``(z1 - z0, y1 - y0, x1 - x0)``.
"""

from __future__ import annotations

import numpy as np


class Shoeboxes:
    def __init__(self, panel, bbox, data=None, mask=None, background=None, has_data=None):
        self.panel = np.asarray(panel, dtype=np.int64)
        self.bbox = np.asarray(bbox, dtype=np.int32).reshape(-1, 6)
        n = len(self.panel)
        self.has_data = np.ones(n, bool) if has_data is None else np.asarray(has_data, dtype=bool)
        sizes = np.where(self.has_data, self.box_sizes(), 0)
        self.offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(sizes, out=self.offsets[1:])
        total = int(self.offsets[-1])
        self.data = np.zeros(total, np.float32) if data is None else np.asarray(data, np.float32)
        self.mask = np.zeros(total, np.int32) if mask is None else np.asarray(mask, np.int32)
        self.background = (
            np.zeros(total, np.float32) if background is None else np.asarray(background, np.float32)
        )
        if not (len(self.data) == len(self.mask) == len(self.background) == total):
            raise ValueError("shoebox pixel arrays do not match the bounding boxes")

    def box_sizes(self) -> np.ndarray:
        b = self.bbox.astype(np.int64)
        return np.maximum(b[:, 1] - b[:, 0], 0) * np.maximum(b[:, 3] - b[:, 2], 0) * np.maximum(b[:, 5] - b[:, 4], 0)

    def __len__(self) -> int:
        return len(self.panel)

    def shape(self, i: int) -> tuple[int, int, int]:
        x0, x1, y0, y1, z0, z1 = (int(v) for v in self.bbox[i])
        return (z1 - z0, y1 - y0, x1 - x0)

    def _view(self, flat: np.ndarray, i: int) -> np.ndarray:
        return flat[self.offsets[i] : self.offsets[i + 1]].reshape(self.shape(i) if self.has_data[i] else (0, 0, 0))

    def data_of(self, i: int) -> np.ndarray:
        return self._view(self.data, i)

    def mask_of(self, i: int) -> np.ndarray:
        return self._view(self.mask, i)

    def background_of(self, i: int) -> np.ndarray:
        return self._view(self.background, i)

    def select(self, index) -> "Shoeboxes":
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        sizes = self.offsets[index + 1] - self.offsets[index]
        new_offsets = np.zeros(len(index) + 1, dtype=np.int64)
        np.cumsum(sizes, out=new_offsets[1:])
        gather = np.repeat(self.offsets[index] - new_offsets[:-1], sizes) + np.arange(new_offsets[-1])
        return Shoeboxes(
            self.panel[index], self.bbox[index], self.data[gather], self.mask[gather],
            self.background[gather], self.has_data[index],
        )

    @staticmethod
    def concatenate(parts: list["Shoeboxes"]) -> "Shoeboxes":
        return Shoeboxes(
            np.concatenate([p.panel for p in parts]),
            np.concatenate([p.bbox for p in parts]),
            np.concatenate([p.data for p in parts]),
            np.concatenate([p.mask for p in parts]),
            np.concatenate([p.background for p in parts]),
            np.concatenate([p.has_data for p in parts]),
        )

    def __eq__(self, other) -> bool:
        return isinstance(other, Shoeboxes) and all(
            np.array_equal(getattr(self, k), getattr(other, k))
            for k in ("panel", "bbox", "has_data", "data", "mask", "background")
        )

    def __repr__(self) -> str:
        return f"Shoeboxes({len(self)} boxes, {len(self.data)} pixels)"
