"""Parallel execution over blocks of work (usually blocks of images).

``mp.method`` chooses the executor: ``multiprocessing`` (default, local processes),
``none`` (in this process, for debugging) or ``dask`` (a Dask distributed cluster given by
``mp.dask.scheduler=ADDRESS``, or a LocalCluster when none is given). Results always come
back in the order of the blocks, so parallel and serial runs give identical output.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import signal
from typing import Callable, Sequence

from friedel.errors import FriedelError
from friedel.phil import param, scope, types


@scope
class DaskParams:
    scheduler: str | None = param(None, help="Address of a Dask scheduler (tcp://host:port); None starts a LocalCluster")


@scope
class MpParams:
    """How work is spread over processors."""

    method: str = param("multiprocessing", choices=["multiprocessing", "none", "dask"],
                        help="Executor for blocks of work")
    nproc: object = param("Auto", type=types.IntOrAuto(min=1), help="Number of processes (Auto: all cores)")
    dask: DaskParams = param(DaskParams)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def resolve_nproc(nproc) -> int:
    return available_cores() if nproc in (None, "Auto") else max(1, int(nproc))


def split_range(start: int, stop: int, n_blocks: int, min_size: int = 1) -> list[tuple[int, int]]:
    """Split ``[start, stop)`` into at most ``n_blocks`` contiguous blocks of at least ``min_size``."""
    total = stop - start
    if total <= 0:
        return []
    n = max(1, min(n_blocks, total // max(min_size, 1) or 1))
    edges = [start + (total * i) // n for i in range(n + 1)]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def run_blocks(func: Callable, blocks: Sequence, mp: MpParams | None = None,
               on_done: Callable[[int], None] | None = None) -> list:
    """Call ``func(block)`` for every block and return the results in block order.

    ``func`` and the blocks must be picklable (module-level functions, plain data) for the
    process and Dask executors. ``on_done(i)`` is called as each block finishes (progress).
    """
    mp = mp or MpParams()
    blocks = list(blocks)
    nproc = resolve_nproc(mp.nproc)
    if mp.method == "none" or (mp.method == "multiprocessing" and (nproc == 1 or len(blocks) <= 1)):
        results = []
        for i, b in enumerate(blocks):
            results.append(func(b))
            if on_done:
                on_done(i)
        return results
    if mp.method == "multiprocessing":
        ctx = multiprocessing.get_context("forkserver" if os.name != "nt" else "spawn")
        # workers ignore Ctrl-C: the main process alone handles it, stops them at once and
        # reports one line (no worker tracebacks, no pool waiting for blocks to finish)
        pool = concurrent.futures.ProcessPoolExecutor(max_workers=min(nproc, len(blocks)), mp_context=ctx,
                                                      initializer=_ignore_interrupts)
        try:
            results = _collect({pool.submit(func, b): i for i, b in enumerate(blocks)}, len(blocks), on_done)
        except BaseException:
            _stop_pool(pool)
            raise
        pool.shutdown(wait=True)
        return results
    if mp.method == "dask":
        return _run_dask(func, blocks, mp, nproc, on_done)
    raise FriedelError(f"unknown mp.method={mp.method}; choose multiprocessing, none or dask")


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_pool(pool) -> None:
    """End a process pool now: cancel what has not started, terminate the workers."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(timeout=5)


def _collect(futures: dict, n: int, on_done) -> list:
    results = [None] * n
    for fut in concurrent.futures.as_completed(futures):
        i = futures[fut]
        results[i] = fut.result()
        if on_done:
            on_done(i)
    return results


def _run_dask(func, blocks, mp: MpParams, nproc: int, on_done) -> list:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise FriedelError("mp.method=dask needs dask.distributed: pip install 'dask[distributed]'") from None
    cluster = None
    if mp.dask.scheduler:
        client = Client(mp.dask.scheduler)
    else:
        cluster = LocalCluster(n_workers=nproc, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        futures = client.map(func, blocks, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        results = [None] * len(blocks)
        for fut in as_completed(futures):
            i = index[fut.key]
            results[i] = fut.result()
            if on_done:
                on_done(i)
        return results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
