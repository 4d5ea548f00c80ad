"""External pixel-mask files named by an image set (``imageset.mask`` in an ``.expt``).

friedel reads masks as per-panel boolean arrays, True for good pixels (the DIALS convention),
shaped (slow, fast) like the panel:

* ``.npy``: one array of shape (panels, slow, fast), or (slow, fast) for a single panel;
* ``.npz`` / ``.h5`` / ``.hdf5`` / ``.nxs``: either one dataset/array ``mask`` as above, or one
  ``panel_<k>`` per panel (for panels of different sizes).

DIALS's own mask files are Python pickles of scitbx arrays, which friedel does not unpickle
(pickles run code on load): they are refused with a message saying how to convert them.
"""
from __future__ import annotations

import os

import numpy as np

from friedel.errors import FileFormatError


def write_mask_file(path, masks) -> None:
    """Write per-panel good-pixel masks as ``.npy`` (equal panel sizes) or ``.npz``/``.h5``."""
    from friedel.io.atomic import atomic_write

    masks = [np.asarray(m, dtype=bool) for m in masks]
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        if len({m.shape for m in masks}) != 1:
            raise FileFormatError(f"{path}: panels differ in size; write .npz or .h5 instead of .npy")
        with atomic_write(path) as fh:
            np.save(fh, np.stack(masks))
    elif ext == ".npz":
        with atomic_write(path) as fh:
            np.savez_compressed(fh, **{f"panel_{k}": m for k, m in enumerate(masks)})
    elif ext in (".h5", ".hdf5", ".nxs"):
        import h5py

        with atomic_write(path, "w+b") as fh, h5py.File(fh, "w") as f:
            for k, m in enumerate(masks):
                f.create_dataset(f"panel_{k}", data=m, compression="gzip")
    else:
        raise FileFormatError(f"{path}: mask files are .npy, .npz or .h5")


def _split(array, n_panels, path):
    array = np.asarray(array)
    if array.ndim == 2 and n_panels == 1:
        return [array]
    if array.ndim == 3 and array.shape[0] == n_panels:
        return list(array)
    raise FileFormatError(f"{path}: mask of shape {array.shape} does not fit a {n_panels}-panel detector")


def read_mask_file(path, detector) -> tuple[np.ndarray, ...]:
    """Per-panel bool arrays (True = good) from a mask file, checked against ``detector``."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileFormatError(f"{path}: mask file not found (named by the image set's 'mask')")
    ext = os.path.splitext(path)[1].lower()
    n = len(detector)
    try:
        if ext == ".npy":
            masks = _split(np.load(path, allow_pickle=False), n, path)
        elif ext == ".npz":
            with np.load(path, allow_pickle=False) as z:
                masks = _split(z["mask"], n, path) if "mask" in z else [z[f"panel_{k}"] for k in range(n)]
        elif ext in (".h5", ".hdf5", ".nxs"):
            import h5py

            with h5py.File(path, "r") as f:
                masks = _split(f["mask"][()], n, path) if "mask" in f else [f[f"panel_{k}"][()] for k in range(n)]
        elif ext in (".pickle", ".pkl"):
            raise FileFormatError(
                f"{path}: DIALS mask pickles are not read by friedel; save the mask as a .npy/.h5 of per-panel "
                "bool arrays (e.g. in DIALS's python: numpy.save('mask.npy', [m.as_numpy_array() for m in "
                "pickle.load(open(path, 'rb'))])) and set the image set's mask to it")
        else:
            raise FileFormatError(f"{path}: unknown mask file type (use .npy, .npz or .h5)")
    except FileFormatError:
        raise
    except KeyError as exc:
        raise FileFormatError(f"{path}: mask file lacks {exc} (expected 'mask' or panel_0..panel_{n - 1})") from None
    except Exception as exc:
        raise FileFormatError(f"{path}: cannot read mask ({type(exc).__name__}: {exc})") from None
    out = []
    for k, (m, panel) in enumerate(zip(masks, detector)):
        m = np.asarray(m)
        expected = (panel.image_size[1], panel.image_size[0])
        if m.shape != expected:
            raise FileFormatError(f"{path}: mask for panel {k} is {m.shape}, the panel is {expected} (slow, fast)")
        if m.dtype != bool and not np.isin(m, (0, 1)).all():
            raise FileFormatError(f"{path}: mask for panel {k} is not boolean (True/1 = good pixel)")
        out.append(m.astype(bool))
    return tuple(out)
