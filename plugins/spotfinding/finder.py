"""Spot finding over experiments: threshold every image (in parallel blocks), label, filter.

Workers return only the sparse list of strong pixels of their block of images; the spots
are labelled once over the whole list. A spot spanning a block boundary is therefore one
spot, and the result does not depend on ``mp.nproc`` or on how the images were split.
"""

from __future__ import annotations

import logging
import os

import attrs
import numpy as np

from friedel.errors import FileFormatError, FriedelError
from friedel.observations import centroids_px_to_mm
from friedel.parallel import resolve_nproc, run_blocks, split_range
from friedel.plugin_manager import build_plugin, plugin_names
from friedel.reflection_table import ReflectionTable

from .params import SpotfinderParams, ThresholdParams  # noqa: F401 - scopes live in params.py
from .labelling import PEAK_COLUMN, PixelList, spots_from_pixels

log = logging.getLogger("friedel")


# ---------------------------------------------------------------------------------------
# plugins
# ---------------------------------------------------------------------------------------
def make_threshold(threshold_params):
    """Construct the chosen threshold algorithm with its parameters (contract:
    :class:`friedel.contracts.spotfinding.Threshold`)."""
    return build_plugin("spotfinder_thresholds", threshold_params.algorithm, threshold_params)


def spot_filters(filter_params=None) -> list:
    """Every registered filter, built-ins first in their documented order, then third-party ones
    (contract: :class:`friedel.contracts.spotfinding.SpotFilter`)."""
    return [build_plugin("spotfinder_filters", name, filter_params) for name in plugin_names("spotfinder_filters")]


# ---------------------------------------------------------------------------------------
# work units
# ---------------------------------------------------------------------------------------
@attrs.define
class ImageBlock:
    """One block of consecutive images of one image source, for one worker."""

    group: int
    experiment: object
    indices: list  # 0-based image positions within the experiment's images
    frames: list  # frame number z (image n spans [n-1, n)) of each index
    threshold: object
    opener: object


@attrs.define
class BlockResult:
    group: int
    pixels: PixelList
    frames: np.ndarray
    strong_per_image: np.ndarray


def default_opener(experiment):
    from friedel.formats import open_images

    return open_images(experiment)


def _image_name(experiment, index: int) -> str:
    try:
        paths = experiment.image_paths()
        return paths[index] if index < len(paths) else paths[-1]
    except Exception:
        return f"image {index + 1}"


def _static_masks(images, index, experiment):
    """Per-panel masks that do not depend on pixel values, or None if the source cannot say.

    The threshold kernels apply the trusted range themselves, so only the static part is
    needed; asking for it once avoids decoding every image twice (``get_mask`` re-reads).
    """
    getter = getattr(images, "get_static_mask", None)
    if getter is not None:
        return tuple(np.asarray(m, bool) for m in getter())
    private = getattr(images, "_static_masks", None)  # friedel.formats.images.ImageAccess
    if private is not None and hasattr(images, "_reader") and hasattr(images, "get_path"):
        return tuple(private(images._reader(images.get_path(index))))
    return None


def threshold_block(block: ImageBlock) -> BlockResult:
    """Read and threshold the images of one block; return their strong pixels (worker)."""
    expt = block.experiment
    try:
        images = block.opener(expt)
    except FriedelError:
        raise
    except Exception as exc:
        raise FileFormatError(f"cannot open images of {_image_name(expt, block.indices[0])}: {exc}") from exc
    static_masks = None
    parts, counts = [], []
    for index, frame in zip(block.indices, block.frames):
        try:
            raw = images.get_raw_data(index)
            if static_masks is None:
                static_masks = _static_masks(images, index, expt)
            masks = static_masks if static_masks is not None else images.get_mask(index)
        except FriedelError:
            raise
        except Exception as exc:
            raise FileFormatError(f"cannot read {_image_name(expt, index)}: {exc}") from exc
        n_strong = 0
        for p, (data, mask) in enumerate(zip(raw, masks)):
            panel = expt.detector[p]
            good = np.asarray(mask, bool)
            strong = block.threshold(np.asarray(data), good, panel.trusted_range)
            pixels = PixelList.from_mask(data, strong, p, frame)
            n_strong += len(pixels)
            parts.append(pixels)
        counts.append(n_strong)
    return BlockResult(block.group, PixelList.concatenate(parts), np.asarray(block.frames), np.asarray(counts))


# ---------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------
@attrs.define
class ImageGroup:
    """Images searched together: one sweep (3D labelling) or one still image set (2D)."""

    experiments: list  # indices of the experiments sharing these images
    indices: list
    frames: list
    connect_frames: bool


def _image_groups(experiments, scan_ranges) -> list[ImageGroup]:
    groups: list[ImageGroup] = []
    seen: dict = {}
    for i, expt in enumerate(experiments):
        scan = expt.scan
        if scan is not None:
            first, last = scan.image_range
            numbers = np.arange(first, last + 1)
            if scan_ranges:
                keep = np.zeros(len(numbers), bool)
                for lo, hi in scan_ranges:
                    keep |= (numbers >= lo) & (numbers <= hi)
                numbers = numbers[keep]
            indices = (numbers - first).tolist()
            frames = (numbers - 1).tolist()
        else:
            n = len(expt.image_paths())
            indices = list(range(n))
            frames = list(range(n))
        key = (id(expt.imageset), None if scan is None else scan.image_range)
        if key in seen:  # several lattices on the same images: search once
            groups[seen[key]].experiments.append(i)
            continue
        seen[key] = len(groups)
        groups.append(ImageGroup([i], indices, frames, connect_frames=not expt.is_still))
    return groups


def check_images_exist(experiments) -> None:
    """Fail early, naming the file, when an image file is missing."""
    for expt in experiments:
        if expt.imageset is None:
            raise FriedelError("an experiment has no images; import the images first (friedel import)")
        for path in dict.fromkeys(expt.image_paths()):
            if not os.path.exists(path):
                raise FileFormatError(
                    f"image file {path} does not exist; check the path or re-import the images from their new location"
                )


@attrs.define
class SpotfindingResult:
    reflections: ReflectionTable
    removed: dict  # filter name -> spots removed
    n_found: int  # spots before filtering
    per_image: list  # (experiment index, image number, strong pixels, spots)


def find_spots(experiments, params: SpotfinderParams | None = None, opener=None,
               progress=None, check_files: bool = True) -> SpotfindingResult:
    """Find strong spots on every image of every experiment.

    ``opener(experiment)`` returns the images (``get_raw_data(i)``, ``get_mask(i)``);
    the default reads the files through :func:`friedel.formats.open_images`.
    """
    params = params or SpotfinderParams()
    opener = opener or default_opener
    if check_files and opener is default_opener:
        check_images_exist(experiments)
    threshold = make_threshold(params.threshold)
    groups = _image_groups(experiments, params.scan_range)
    if not any(g.indices for g in groups):
        raise FriedelError(f"scan_range={params.scan_range} selects no images; check the image numbers")

    nproc = resolve_nproc(params.mp.nproc) if params.mp.method != "none" else 1
    blocks = []
    for gi, g in enumerate(groups):
        expt = experiments[g.experiments[0]]
        for a, b in split_range(0, len(g.indices), nproc, min_size=1):
            blocks.append(ImageBlock(gi, expt, g.indices[a:b], g.frames[a:b], threshold, opener))
    on_done = (lambda i: progress(len(blocks[i].indices))) if progress else None
    results = run_blocks(threshold_block, blocks, params.mp, on_done=on_done)

    tables, per_image = [], []
    for gi, g in enumerate(groups):
        mine = [r for r in results if r.group == gi]
        pixels = PixelList.concatenate([r.pixels for r in mine])
        table = spots_from_pixels(pixels, g.connect_frames, experiment_id=g.experiments[0])
        tables.append(table)
        for r in mine:
            for frame, n_strong in zip(r.frames, r.strong_per_image):
                per_image.append([g.experiments[0], int(frame) + 1, int(n_strong)])
    reflections = ReflectionTable.concatenate(tables) if tables else ReflectionTable()
    if len(reflections) == 0:
        reflections = spots_from_pixels(PixelList([], [], [], [], []), False)
    n_found = len(reflections)

    removed = {}
    for f in spot_filters(params.filter):
        if hasattr(f, "opener"):
            f.opener = opener
        if len(reflections) == 0:
            removed[f.name] = 0
            continue
        keep = np.asarray(f(reflections, experiments, params.filter), bool)
        removed[f.name] = int(np.count_nonzero(~keep))
        if removed[f.name]:
            reflections = reflections.select(keep)

    del reflections[PEAK_COLUMN]
    centroids_px_to_mm(experiments, reflections)
    reflections.assign_identifiers(experiments)

    # spots per image: counted on the image holding the centroid
    image_of_spot = np.floor(reflections["xyzobs.px.value"][:, 2]).astype(np.int64) + 1
    for row in per_image:
        row.append(int(np.count_nonzero((reflections["id"] == row[0]) & (image_of_spot == row[1]))))
    return SpotfindingResult(reflections, removed, n_found, per_image)
