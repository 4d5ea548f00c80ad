"""Pixel access for experiments: ``open_images(experiment)``.

The rest of friedel reads pixels only through this contract::

    images = open_images(experiment)
    len(images)                 # images in the experiment's scan range (or its still list)
    images.get_raw_data(i)      # tuple of (slow, fast) arrays, one per panel; i is 0-based
    images.get_mask(i)          # tuple of bool arrays, True = good pixel
    images.get_path(i)

A pixel is good if its value is inside the panel's trusted range (exclusive at the low end,
so the -1/-2 gap and bad-pixel markers of Pilatus/Eiger are bad), it lies outside the
panel's mask rectangles, the format's own static mask allows it, and so does the image
set's external mask file, if it names one (``imageset.mask``: .npy/.npz/.h5 of per-panel
bool arrays, True = good; see ``friedel.formats.mask_file``).
"""
from __future__ import annotations

import os

import numpy as np

from friedel.errors import FileFormatError, FriedelError
from friedel.formats.base import Format, find_format
from friedel.formats.mask_file import read_mask_file


class ImageAccess:
    """Images of one experiment (see the module docstring)."""

    def __init__(self, experiment):
        ref = experiment.imageset
        if ref is None:
            raise FriedelError("experiment has no image set: it was not made from images")
        self.detector = experiment.detector
        scan = experiment.scan
        if ref.template is not None:
            first, last = scan.image_range if scan is not None else (1, 1)
            self._paths = ref.paths((first, last))
            if "#" in ref.template:
                self._indices = [0] * len(self._paths)
            else:  # one container file; image n is entry n-1
                self._indices = list(range(first - 1, last))
        else:
            self._paths = list(ref.images)
            if ref.single_file_indices is not None:
                self._indices = [int(i) for i in ref.single_file_indices]
            else:
                self._indices = [0] * len(self._paths)
        self._mask_path = ref.mask or None  # DIALS writes "" for no mask
        self._readers: dict[str, Format] = {}
        self._format_class = None
        self._panel_masks = None

    def __len__(self) -> int:
        return len(self._paths)

    def get_path(self, i: int) -> str:
        return self._paths[self._check(i)]

    def _check(self, i: int) -> int:
        if not 0 <= i < len(self._paths):
            raise IndexError(f"image index {i} outside 0..{len(self._paths) - 1}")
        return i

    def _reader(self, path: str) -> Format:
        reader = self._readers.get(path)
        if reader is None:
            if not os.path.exists(path):
                raise FileFormatError(f"{path}: image file not found (moved or deleted since import?)")
            cls = self._format_class
            if cls is None or not cls.understand(path):
                cls = self._format_class = find_format(path)
            try:
                reader = cls(path)
            except FriedelError:
                raise
            except Exception as exc:
                raise FileFormatError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from None
            if not reader.is_container:  # keep only the current single-image file open
                for old in [p for p, r in self._readers.items() if not r.is_container]:
                    self._readers.pop(old).close()
            self._readers[path] = reader
        return reader

    def get_raw_data(self, i: int) -> tuple[np.ndarray, ...]:
        i = self._check(i)
        path = self._paths[i]
        try:
            data = self._reader(path).get_raw_data(self._indices[i])
        except FriedelError:
            raise
        except Exception as exc:  # decoding libraries raise anything on corrupt input
            raise FileFormatError(f"{path}: cannot read image {self._indices[i] + 1} "
                                  f"({type(exc).__name__}: {exc}); the file is truncated or corrupt") from None
        if len(data) != len(self.detector):
            raise FileFormatError(f"{path}: {len(data)} panel(s) of data for a {len(self.detector)}-panel detector")
        return data

    def _static_masks(self, reader: Format):
        if self._panel_masks is None:
            static = reader.get_static_mask()
            external = read_mask_file(self._mask_path, self.detector) if self._mask_path else None
            masks = []
            for k, panel in enumerate(self.detector):
                m = panel.trusted_mask()
                if static is not None:
                    m &= static[k]
                if external is not None:
                    m &= external[k]
                masks.append(m)
            self._panel_masks = masks
        return self._panel_masks

    def get_mask(self, i: int) -> tuple[np.ndarray, ...]:
        data = self.get_raw_data(i)
        static = self._static_masks(self._reader(self._paths[i]))
        out = []
        for panel, values, m in zip(self.detector, data, static):
            low, high = panel.trusted_range
            out.append(m & (values > low) & (values <= high))
        return tuple(out)

    def close(self) -> None:
        for r in self._readers.values():
            r.close()
        self._readers.clear()


def open_images(experiment) -> ImageAccess:
    """Pixel access for one experiment (see the module docstring)."""
    return ImageAccess(experiment)
