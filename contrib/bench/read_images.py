"""Image decode throughput: byte-offset and packed CBF, bitshuffle-LZ4 HDF5 frames vs raw file reads.

Usage: python contrib/bench/read_images.py [--data ../shared/data/real] [--repeat 3] [--dials]

Prints MB/s (of decoded int32 pixels) and images/s for each case, next to the speed of simply
reading the same bytes from disk.  --dials also times DIALS's dxtbx on the same CBF files
(needs /usr/bin/python3 with dxtbx; reference only).
"""
from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time

import h5py
import hdf5plugin
import numpy as np

from friedel.formats.cbf import decode_binary_sections, read_cbf_bytes


def best_time(func, repeat):
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t)
    return best


def report(label, n_images, n_bytes, seconds, what="decoded"):
    print(f"  {label:<38s} {n_bytes / seconds / 1e6:9.0f} MB/s {what:<8s} {n_images / seconds:8.1f} images/s")


def bench_cbf(label, paths, repeat, codec="byte-offset"):
    raws = [read_cbf_bytes(p) for p in paths]  # decompress .bz2/.gz once, outside the timing
    decode_binary_sections(raws[0], paths[0])  # compile/warm up
    n_out = sum(decode_binary_sections(r, p)[0].data.nbytes for r, p in zip(raws, paths))
    n_in = sum(len(r) for r in raws)
    print(f"{label}: {len(paths)} images, {n_in / len(paths) / 1e6:.1f} MB CBF -> {n_out / len(paths) / 1e6:.1f} MB int32 each")
    with tempfile.TemporaryDirectory() as tmp:
        plain = []
        for i, r in enumerate(raws):
            plain.append(os.path.join(tmp, f"img_{i:05d}.cbf"))
            with open(plain[-1], "wb") as fh:
                fh.write(r)
        t_raw = best_time(lambda: [open(p, "rb").read() for p in plain], repeat)
        report("raw file read (page cache)", len(paths), n_in, t_raw, "of file")
        t_dec = best_time(lambda: [decode_binary_sections(r, p) for r, p in zip(raws, paths)], repeat)
        report(f"{codec} decode (in memory)", len(paths), n_out, t_dec)
        t_all = best_time(lambda: [decode_binary_sections(read_cbf_bytes(p), p) for p in plain], repeat)
        report("read + decode (uncompressed .cbf)", len(paths), n_out, t_all)
        t_bz = best_time(lambda: [decode_binary_sections(read_cbf_bytes(p), p) for p in paths], 1)
        report("read + decode (as stored, .bz2/.gz)", len(paths), n_out, t_bz)
    return plain


def bench_hdf5(repeat, n=10, shape=(2527, 2463)):
    rng = np.random.default_rng(0)
    frame = rng.poisson(0.5, size=shape).astype(np.uint32)
    with tempfile.TemporaryDirectory() as tmp:
        data_file = os.path.join(tmp, "bench_data_000001.h5")
        with h5py.File(data_file, "w") as f:
            ds = f.create_dataset("entry/data/data", shape=(n, *shape), dtype=np.uint32, chunks=(1, *shape),
                                  **hdf5plugin.Bitshuffle(cname="lz4"))
            for i in range(n):
                ds[i] = np.roll(frame, i, axis=1)
        size = os.path.getsize(data_file)
        n_out = n * frame.nbytes
        print(f"bitshuffle-LZ4 HDF5: {n} frames of {shape[1]}x{shape[0]} (Pilatus 6M size), "
              f"{size / n / 1e6:.2f} MB/frame stored")
        t_raw = best_time(lambda: open(data_file, "rb").read(), repeat)
        report("raw file read (page cache)", n, size, t_raw, "of file")
        with h5py.File(data_file, "r") as f:
            ds = f["entry/data/data"]
            t = best_time(lambda: [ds[i] for i in range(n)], repeat)
        report("h5py + hdf5plugin decode", n, n_out, t)


def bench_dials(label, paths):
    code = (
        "import sys,time\n"
        "from dxtbx.model.experiment_list import ExperimentListFactory\n"
        "t=time.perf_counter(); el=ExperimentListFactory.from_filenames(sys.argv[1:]); t1=time.perf_counter()\n"
        "t2=time.perf_counter()\n"
        "n=0\n"
        "for e in el:\n"
        "  s=e.imageset\n"
        "  for i in range(len(s)): s.get_raw_data(i); n+=1\n"
        "t3=time.perf_counter(); print(n, t1-t, t3-t2)\n"
    )
    try:
        out = subprocess.run(["/usr/bin/python3", "-c", code, *paths], capture_output=True, text=True, timeout=600)
        n, t_import, t_read = out.stdout.strip().splitlines()[-1].split()
        print(f"  DIALS/dxtbx on {label}: import {float(t_import):.2f} s, image read {int(n) / float(t_read):.1f} images/s")
    except Exception as exc:  # reference only
        print(f"  DIALS/dxtbx not available ({exc})")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "../../../shared/data/real"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dials", action="store_true")
    args = ap.parse_args(argv)
    thau = sorted(glob.glob(os.path.join(args.data, "images/thaumatin_grid/*.cbf.bz2")))
    eiger = sorted(glob.glob(os.path.join(args.data, "images/image_examples/dlsnxs2cbf_therm_0001.cbf.gz")))
    if thau:
        plain = bench_cbf("Pilatus3 6M miniCBF (thaumatin)", thau, args.repeat)
        if args.dials:
            bench_dials("thaumatin .cbf.bz2", thau)
    if eiger:
        bench_cbf("Eiger 16M miniCBF", eiger, args.repeat)
        if args.dials:
            bench_dials("Eiger 16M .cbf.gz", eiger)
    rayonix = sorted(glob.glob(os.path.join(args.data, "images/kapton_rayonix340/*.cbf")))
    if rayonix:
        bench_cbf("Rayonix MX340 full CBF (x-CBF_PACKED)", rayonix, args.repeat, codec="CBF_PACKED")
        if args.dials:
            bench_dials("Rayonix .cbf", rayonix)
    bench_hdf5(args.repeat)


if __name__ == "__main__":
    sys.exit(main())
