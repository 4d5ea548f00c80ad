"""Streaming the images of one job through windows of shoeboxes (runs in a worker).

A job is a range of frames of one image set and the reflections whose boxes *start* there
(it reads on to the last frame they need, so a reflection crossing a job boundary is still
integrated whole, by one job). Inside a job the owned reflections are cut, in order of first
frame, into windows of at most ``window_voxels`` pixels. Frames are read one at a time, each
decoded once: a window's arrays are allocated at its first frame, filled frame by frame and
processed (background, summation, then profile accumulation or fitting) and freed after its
last frame. Memory is therefore set by the few windows alive at any frame, never by the
sweep. Every reflection whose box touches the job's frames paints its foreground on the
frame being read, so overlaps with reflections of other jobs are seen as well.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from friedel.errors import FileFormatError, FriedelError

from .profile_fitting import ReferenceProfiles, accumulate_profiles, fit_profiles
from .shoeboxes import extract_frame, foreground_spans, paint_foreground
from .summation import frame_sums, summation

BYTES_PER_VOXEL = 9  # float32 data + float32 background + uint8 mask


@dataclass
class JobGeometry:
    """The reflections a job touches (owned ones are integrated, the others only paint overlaps)."""

    rows: np.ndarray  # index into the full prediction table
    owned: np.ndarray
    panel: np.ndarray
    bbox: np.ndarray  # (n, 6) int32 as sent, int64 in the worker
    centre: np.ndarray
    jacobian: np.ndarray
    radius2: np.ndarray
    sigma_z: np.ndarray  # rocking width in frames
    experiment: np.ndarray  # experiment index (for reference profiles)
    profile: np.ndarray  # reference profile to fit with (-1: none)
    position: np.ndarray  # continuous profile-grid coordinates (for learning)
    learn: np.ndarray  # eligible to build reference profiles (strong, full)


@dataclass
class Job:
    mode: str  # "model" (learn reference profiles) or "integrate"
    experiment: object  # gives the detector and image set
    frames: tuple  # [first, last) frames to read
    excluded_frames: np.ndarray
    geometry: JobGeometry
    background: object
    window_voxels: int
    profiles: ReferenceProfiles | None = None
    min_i_over_sigma: float = 3.0
    opener: object = None


def _open(job):
    if job.opener is not None:
        return job.opener(job.experiment)
    from friedel.formats import open_images

    return open_images(job.experiment)


def _static_masks(images, index):
    getter = getattr(images, "get_static_mask", None)
    if getter is not None:
        return tuple(np.asarray(m, bool) for m in getter())
    private = getattr(images, "_static_masks", None)
    if private is not None and hasattr(images, "_reader") and hasattr(images, "get_path"):
        return tuple(private(images._reader(images.get_path(index))))
    return None


def plan_windows(bbox: np.ndarray, owned: np.ndarray, window_voxels: int) -> list[np.ndarray]:
    """Owned rows in order of first frame, cut into windows of at most ``window_voxels``."""
    idx = np.flatnonzero(owned)
    if not len(idx):
        return []
    idx = idx[np.argsort(bbox[idx, 4], kind="stable")]
    b = bbox[idx].astype(np.int64)
    vox = (b[:, 1] - b[:, 0]) * (b[:, 3] - b[:, 2]) * (b[:, 5] - b[:, 4])
    cum = np.cumsum(vox)
    cut = np.floor_divide(cum - 1, max(window_voxels, 1))
    edges = np.flatnonzero(np.diff(cut)) + 1
    return np.split(idx, edges)


class _Window:
    def __init__(self, rows, g: JobGeometry):
        self.rows = rows
        self.bbox = np.ascontiguousarray(g.bbox[rows])
        b = self.bbox
        self.shapes = np.column_stack([b[:, 5] - b[:, 4], b[:, 3] - b[:, 2], b[:, 1] - b[:, 0]]).astype(np.int64)
        self.offsets = np.zeros(len(rows) + 1, np.int64)
        np.cumsum(self.shapes.prod(axis=1), out=self.offsets[1:])
        total = int(self.offsets[-1])
        self.data = np.zeros(total, np.float32)
        self.mask = np.zeros(total, np.uint8)
        self.background = np.zeros(total, np.float32)
        self.centre = np.ascontiguousarray(g.centre[rows])
        self.jacobian = np.ascontiguousarray(g.jacobian[rows])
        self.radius2 = np.ascontiguousarray(g.radius2[rows])
        self.panel = g.panel[rows]
        self.overloaded = np.zeros(len(rows), np.bool_)
        self.first = int(b[:, 4].min())
        self.last = int(b[:, 5].max())  # exclusive

    def active(self, frame, panel):
        b = self.bbox
        return np.flatnonzero((b[:, 4] <= frame) & (b[:, 5] > frame) & (self.panel == panel))


RESULT_FIELDS = (
    "intensity.sum.value", "intensity.sum.variance", "background.sum.value", "background.sum.variance",
    "background.mean", "background.ok", "num_pixels.valid", "num_pixels.background", "num_pixels.background_used",
    "num_pixels.foreground", "num_pixels.foreground_valid", "num_pixels.overlapped_fg", "num_pixels.overlapped_bg",
    "centroid", "centroid.variance", "overloaded", "intensity.prf.value", "intensity.prf.variance",
    "profile.correlation", "prf.ok", "used_in_modelling",
)


def _process_window(job: Job, w: _Window, out: dict, accumulators: ReferenceProfiles | None):
    g = job.geometry
    ok_bg, bmean, bvar = job.background(w.data, w.mask, w.offsets, w.shapes, w.background)
    (isum, ivar, bsum, bsum_var, n_valid, n_bg, n_bg_used, n_fg, n_fg_valid, n_fg_ov, n_bg_ov, cen,
     cen_var) = summation(w.data, w.mask, w.background, w.offsets, w.shapes, w.bbox, bvar)
    local = w.rows
    out["intensity.sum.value"][local] = isum
    out["intensity.sum.variance"][local] = ivar
    out["background.sum.value"][local] = bsum
    out["background.sum.variance"][local] = bsum_var
    out["background.mean"][local] = bmean
    out["background.ok"][local] = ok_bg
    out["num_pixels.valid"][local] = n_valid
    out["num_pixels.background"][local] = n_bg
    out["num_pixels.background_used"][local] = n_bg_used
    out["num_pixels.foreground"][local] = n_fg
    out["num_pixels.foreground_valid"][local] = n_fg_valid
    out["num_pixels.overlapped_fg"][local] = n_fg_ov
    out["num_pixels.overlapped_bg"][local] = n_bg_ov
    out["centroid"][local] = cen
    out["centroid.variance"][local] = cen_var
    out["overloaded"][local] = w.overloaded
    if job.mode == "model":
        with np.errstate(divide="ignore", invalid="ignore"):
            strong = isum > job.min_i_over_sigma * np.sqrt(np.maximum(ivar, 1e-12))
        use = (g.learn[local] & ok_bg & strong & (n_fg_valid == n_fg) & (n_fg_ov == 0) & (isum > 0)
               & ~w.overloaded)
        a = accumulators
        accumulate_profiles(w.data, w.mask, w.background, w.offsets, w.shapes, w.bbox, w.centre, w.jacobian,
                            use, isum, np.ascontiguousarray(g.position[local]), g.experiment[local], a.experiment,
                            a.centres, a.step, a.numerator, a.denominator, a.weight, a.count)
        out["used_in_modelling"][local] = use
        box, frame, value = frame_sums(w.data, w.mask, w.background, w.offsets, w.shapes, use)
        a.rocking.append((g.rows[local[box]], w.bbox[box, 4] + frame, value))
    elif job.profiles is not None:
        p = job.profiles
        profile = g.profile[local].copy()
        profile[~ok_bg] = -1
        iprf, vprf, cc, okp = fit_profiles(w.data, w.mask, w.background, w.offsets, w.shapes, w.bbox, w.centre,
                                           w.jacobian, np.ascontiguousarray(g.sigma_z[local]), profile, p.density,
                                           p.step, bvar)
        out["intensity.prf.value"][local] = iprf
        out["intensity.prf.variance"][local] = vprf
        out["profile.correlation"][local] = cc
        out["prf.ok"][local] = okp


def _compact(results: dict) -> dict:
    """Floating-point results as float32 for the trip back to the driver (half the memory it
    holds until every job is in; 7 significant digits are plenty for counts and pixels)."""
    return {k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in results.items()}


def run_job(job: Job):
    """Integrate (or learn profiles from) the owned reflections of one job: returns (rows, results, profiles)."""
    g = job.geometry
    g.bbox = np.ascontiguousarray(g.bbox, dtype=np.int64)  # sent as int32; the kernels take int64
    n = len(g.rows)
    out = {}
    for name in RESULT_FIELDS:
        if name in ("centroid", "centroid.variance"):
            out[name] = np.zeros((n, 3))
        elif name in ("background.ok", "overloaded", "prf.ok", "used_in_modelling"):
            out[name] = np.zeros(n, bool)
        elif name.startswith("num_pixels"):
            out[name] = np.zeros(n, np.int32)
        else:
            out[name] = np.zeros(n)
    accumulators = job.profiles.empty_like() if job.mode == "model" else None
    windows = plan_windows(g.bbox, g.owned, job.window_voxels)
    if not windows:
        return g.rows[g.owned], _compact({k: v[g.owned] for k, v in out.items()}), accumulators
    try:
        images = _open(job)
    except FriedelError:
        raise
    except Exception as exc:
        raise FileFormatError(f"cannot open the images of the experiment: {exc}") from exc
    expt = job.experiment
    scan = expt.scan
    first_frame = scan.array_range[0]
    detector = expt.detector
    z0, z1 = g.bbox[:, 4], g.bbox[:, 5]
    starts = np.array([int(g.bbox[w, 4].min()) for w in windows])
    order = np.argsort(starts, kind="stable")
    windows = [windows[i] for i in order]
    starts = starts[order]
    next_window = 0
    live: list[_Window] = []
    counts = [np.zeros((p.image_size[1], p.image_size[0]), np.int16) for p in detector]
    span_offsets, spans = foreground_spans(g.bbox, g.centre, g.jacobian, g.radius2)
    static = None
    end = max(int(g.bbox[np.concatenate(windows), 5].max()), job.frames[0])
    excluded = set(int(f) for f in job.excluded_frames)
    for frame in range(min(job.frames[0], int(starts[0])), end):
        while next_window < len(windows) and starts[next_window] <= frame:
            live.append(_Window(windows[next_window], g))
            next_window += 1
        if not live:
            continue
        index = frame - first_frame
        if frame in excluded:  # pixels of left-out images are invalid, never read
            raw = tuple(np.zeros((p.image_size[1], p.image_size[0]), np.int32) for p in detector)
            masks = tuple(np.zeros(r.shape, bool) for r in raw)
        else:
            try:
                raw = images.get_raw_data(index)
                if static is None:
                    static = _static_masks(images, index)
                    if static is not None:
                        static = tuple(np.ascontiguousarray(m, dtype=np.bool_) for m in static)
                masks = static if static is not None else tuple(
                    np.asarray(m, np.bool_) for m in images.get_mask(index))
            except FriedelError:
                raise
            except Exception as exc:
                raise FileFormatError(f"cannot read image {index + 1}: {exc}") from exc
        active_all = np.flatnonzero((z0 <= frame) & (z1 > frame))
        for p_index, panel in enumerate(detector):
            image = np.asarray(raw[p_index])
            low, high = panel.trusted_range
            good = masks[p_index]
            rows = active_all[g.panel[active_all] == p_index]
            count = counts[p_index]
            paint_foreground(count, rows, g.bbox, span_offsets, spans, 1)
            for w in live:
                act = w.active(frame, p_index)
                if len(act):
                    extract_frame(frame, image, good, count, act, w.rows, w.bbox, w.offsets, span_offsets, spans,
                                  w.data, w.mask, w.overloaded, float(panel.gain or 1.0), float(panel.pedestal),
                                  float(low), float(high))
            paint_foreground(count, rows, g.bbox, span_offsets, spans, -1)
        done = [w for w in live if w.last <= frame + 1]
        for w in done:
            _process_window(job, w, out, accumulators)
        live = [w for w in live if w.last > frame + 1]
    for w in live:  # boxes ending beyond the last frame read (cannot happen for clipped boxes)
        _process_window(job, w, out, accumulators)
    close = getattr(images, "close", None)
    if close:
        close()
    del live, counts, images
    result = g.rows[g.owned], _compact({k: v[g.owned] for k, v in out.items()}), accumulators
    from .blocks import release_freed_memory

    release_freed_memory()  # the worker lives on for the next job
    return result
