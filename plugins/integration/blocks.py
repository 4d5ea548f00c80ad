"""Memory budget and the split of a sweep into jobs of frames.

The memory a job may give to live shoeboxes is taken from the memory *available* (psutil),
reduced to the cgroup limit (v2 ``memory.max`` or v1 ``memory.limit_in_bytes``, as under
Docker, Slurm or Kubernetes) and to RLIMIT_AS when set, times ``max_memory_usage``, shared
between the processes that run at once.
"""

from __future__ import annotations

import math
import os
import resource

import numpy as np

from friedel.parallel import split_range


def _read_int(path: str) -> int | None:
    try:
        with open(path) as handle:
            text = handle.read().strip()
    except OSError:
        return None
    if not text or text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def cgroup_headroom() -> int | None:
    """Bytes left under this process's cgroup memory limit (None when unlimited/unknown)."""
    for limit_path, usage_path in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit = _read_int(limit_path)
        if limit is not None and limit < 1 << 60:
            usage = _read_int(usage_path) or 0
            return max(limit - usage, 0)
    return None


def available_memory() -> int:
    """Bytes this process can still use: psutil's available, capped by cgroup and RLIMIT_AS."""
    try:
        import psutil

        avail = int(psutil.virtual_memory().available)
        vms = int(psutil.Process().memory_info().vms)
    except Exception:  # pragma: no cover - psutil missing
        avail = int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        vms = 0
    headroom = cgroup_headroom()
    if headroom is not None:
        avail = min(avail, headroom)
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft not in (resource.RLIM_INFINITY, -1) and soft > 0:
        avail = min(avail, max(soft - vms, 0))
    return avail


def window_voxels(max_memory_usage: float, n_parallel: int, max_window_mb: float, bytes_per_voxel: int) -> int:
    """Voxels one window may hold: a third of the per-process share (windows overlap in time)."""
    share = available_memory() * max_memory_usage / max(n_parallel, 1)
    budget = min(share / 3.0, max_window_mb * 1e6)
    return max(int(budget // bytes_per_voxel), 1)


def job_ranges(z0: np.ndarray, frame_range: tuple[int, int], n_jobs: int, block_frames: int | None):
    """Frame ranges [start, stop) owning the reflections whose boxes start there.

    ``block_frames`` (``integration.block.size``) fixes the frames per job; otherwise the
    scan is split into ``n_jobs`` equal parts.
    """
    lo, hi = frame_range
    if block_frames:
        n_jobs = max(int(math.ceil((hi - lo) / block_frames)), 1)
    ranges = split_range(lo, hi, max(n_jobs, 1))
    return ranges or [(lo, hi)]


def release_freed_memory() -> None:
    """Give freed heap memory back to the system (glibc keeps arrays up to ~32 MB in its heap
    after they are freed, so the resident size would keep the high-water mark of every phase)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
