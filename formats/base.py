"""The image format plugin interface and the reader registry.

A reader is a subclass of :class:`Format`, registered through the ``friedel_formats`` hook
(see ``friedel.formats.hooks``).  For a file, :func:`find_format` asks every registered
reader whether it ``understand``s the file (cheaply, from the first bytes) and picks the one
with the highest ``priority``: a beamline-specific reader outranks a generic one.
"""
from __future__ import annotations

import os
import re

import numpy as np

from friedel.errors import FileFormatError, FriedelError
from friedel.models import Beam, Detector, Goniometer, Panel, Scan


class Format:
    """Base class of image format readers.

    Subclasses set ``name`` (unique), ``priority`` (larger = more specific) and a docstring,
    and implement :meth:`understand`, :meth:`_read_header` (fill the models) and
    :meth:`get_raw_data`.  Container formats (HDF5) override :meth:`num_images`.
    """

    name = "base"
    priority = 0
    #: True for files holding many images (HDF5 masters, NeXus)
    is_container = False

    def __init__(self, path):
        self.path = os.fspath(path)
        check_image_file(self.path)
        self.beam: Beam | None = None
        self.detector: Detector | None = None
        self.goniometer: Goniometer | None = None
        self.scan: Scan | None = None
        self._read_header()

    # -- to implement -------------------------------------------------------------------------
    @classmethod
    def understand(cls, path) -> bool:
        """True if this reader can read ``path`` (look at the first bytes only)."""
        return False

    def _read_header(self) -> None:
        """Set ``self.beam``, ``self.detector``, ``self.goniometer`` (None for stills) and ``self.scan``."""
        raise NotImplementedError

    def get_raw_data(self, index: int = 0) -> tuple[np.ndarray, ...]:
        """Pixel values of image ``index`` (0-based within this file), one (slow, fast) array per panel."""
        raise NotImplementedError

    # -- optional -----------------------------------------------------------------------------
    def num_images(self) -> int:
        """Number of images in this file."""
        return 1

    def get_static_mask(self) -> tuple[np.ndarray, ...] | None:
        """Per-panel bool arrays, False for pixels this detector never trusts (None: no such mask)."""
        return None

    def detector_id(self) -> str:
        """A string that identifies the detector (model and serial), to refuse mixing detectors."""
        return self.name

    def close(self) -> None:
        """Release open file handles."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"


# -- helpers shared by readers -------------------------------------------------------------------

_NUMBER = re.compile(r"(\d+)(?=\D*$)")


def image_number_from_path(path) -> int | None:
    """The image number of a file in a sequence: the last run of digits in its name."""
    name = os.path.basename(os.fspath(path))
    for suffix in (".gz", ".bz2"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    m = _NUMBER.search(name)
    return int(m.group(1)) if m else None


def simple_detector(
    *, distance_mm, beam_xy_px, pixel_size, image_size, trusted_range, thickness=0.0, material="",
    mu=0.0, name="Panel", identifier="", mask=(), fast=(1.0, 0.0, 0.0), slow=(0.0, -1.0, 0.0),
) -> Detector:
    """One flat panel normal to the beam at ``distance_mm``, the beam hitting pixel ``beam_xy_px``.

    The default axes are the usual ones for detectors read like a page seen from the sample's
    side: fast along +x, slow along -y, beam along -z.
    """
    fast = np.asarray(fast, float)
    slow = np.asarray(slow, float)
    bx = beam_xy_px[0] * pixel_size[0]
    by = beam_xy_px[1] * pixel_size[1]
    origin = -bx * fast - by * slow + np.array([0.0, 0.0, -float(distance_mm)])
    panel = Panel(
        fast_axis=fast, slow_axis=slow, origin=origin, pixel_size=pixel_size, image_size=image_size,
        trusted_range=trusted_range, thickness=thickness, material=material, mu=mu, name=name,
        identifier=identifier, mask=mask,
    )
    return Detector([panel])


# Module layouts of hybrid-pixel detectors: (module fast, module slow, gap fast, gap slow) in pixels
MODULE_LAYOUTS = {
    "pilatus": (487, 195, 7, 17),
    "eiger": (1030, 514, 10, 37),
    "eiger2": (1028, 512, 12, 38),
}


def module_gap_rectangles(image_size) -> list[list[int]]:
    """Inter-module gap rectangles ``[x0, y0, x1, y1]`` (0-based, half open) for a tiled detector.

    The layout is recognised from the image size; an unrecognised size gives no rectangles.
    """
    nx, ny = image_size
    for mx, my, gx, gy in MODULE_LAYOUTS.values():
        if (nx + gx) % (mx + gx) == 0 and (ny + gy) % (my + gy) == 0:
            nmx, nmy = (nx + gx) // (mx + gx), (ny + gy) // (my + gy)
            if nmx * mx + (nmx - 1) * gx != nx or nmy * my + (nmy - 1) * gy != ny:
                continue
            if nmx == 1 and nmy == 1:
                return []
            rects = [[i * (mx + gx) - gx, 0, i * (mx + gx), ny] for i in range(1, nmx)]
            rects += [[0, j * (my + gy) - gy, nx, j * (my + gy)] for j in range(1, nmy)]
            return rects
    return []


# -- registry -------------------------------------------------------------------------------------

def format_classes() -> list[type[Format]]:
    """Registered readers, most specific (highest priority) first."""
    from friedel.plugin_manager import registry

    return sorted(registry("formats").values(), key=lambda c: -c.priority)


def find_format(path) -> type[Format]:
    """The most specific registered reader that understands ``path``.

    Raises FileFormatError naming the file if it does not exist or no reader understands it.
    """
    path = os.fspath(path)
    check_image_file(path)
    for cls in format_classes():
        try:
            if cls.understand(path):
                return cls
        except Exception:  # a reader's understand() must never abort the search
            continue
    raise FileFormatError(f"{path}: {_why_not_understood(path)}")


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def check_image_file(path) -> None:
    """Refuse what cannot be an image file, naming the file and the reason, before any reader looks.

    A missing file, a directory, anything but a regular file (a named pipe would block the
    first read for ever), an empty file and a file that cannot be opened for reading.
    """
    import stat

    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileFormatError(f"{path}: file not found") from None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise FileFormatError(f"{path} is a directory, not an image file")
    if not stat.S_ISREG(st.st_mode):
        kind = "a named pipe" if stat.S_ISFIFO(st.st_mode) else "a device or socket"
        raise FileFormatError(f"{path} is {kind}, not a regular file; give the image files themselves")
    if st.st_size == 0:
        raise FileFormatError(f"{path}: the file is empty (0 bytes); the copy or the acquisition was incomplete")
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except PermissionError:
        raise FileFormatError(f"{path}: cannot be read: permission denied (check the file's permissions)") from None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _why_not_understood(path: str) -> str:
    """What is wrong with a file no reader understands: a broken compressed stream or HDF5 file,
    or simply a format no installed reader knows."""
    import bz2
    import gzip
    import zlib

    for suffix, opener, kind in ((".gz", gzip.open, "gzip"), (".bz2", bz2.open, "bz2")):
        if path.endswith(suffix):
            try:
                with opener(path, "rb") as fh:
                    fh.read(65536)
            except (OSError, EOFError, ValueError, zlib.error) as exc:
                return (f"not a readable {kind}-compressed file ({exc}); the file is truncated or corrupt "
                        "(copy it again from the source)")
    with open(path, "rb") as fh:
        signature = fh.read(8)
    if signature == _HDF5_SIGNATURE:
        try:
            import h5py

            with h5py.File(path, "r") as f:
                f.keys()
        except Exception as exc:  # noqa: BLE001 - h5py raises OSError or others on damaged files
            return (f"an HDF5 file that cannot be opened ({type(exc).__name__}: {exc}); it is truncated or "
                    "corrupt (copy it again from the source)")
        return "an HDF5 file but not an Eiger/NeXus NXmx image file (no /entry with data or instrument)"
    return "no image format reader understands this file (run 'friedel plugins' to list readers)"


def open_file(path) -> Format:
    """An instance of the best reader for ``path``."""
    cls = find_format(path)
    try:
        return cls(path)
    except FriedelError:
        raise
    except Exception as exc:
        raise FileFormatError(f"{path}: cannot read as {cls.name} ({type(exc).__name__}: {exc})") from None
