"""HDF5 images: DECTRIS Eiger ``*_master.h5`` files and NeXus NXmx (``.nxs``) files.

Geometry comes from the NXmx transformation chains when they are present (detector module
``fast_pixel_direction``/``slow_pixel_direction``/``module_offset``, sample ``depends_on``),
converted from the NeXus (McStas) frame to the lab frame used here (a 180 degree turn about
y); otherwise from the Eiger fields (``beam_center_x/y``, ``detector_distance``).  Frames live
in ``/entry/data/data_*`` datasets, usually external links to data files written with
bitshuffle/LZ4 (decoded by hdf5plugin).  ``pixel_mask`` (non-zero = bad) is the static mask;
``countrate_correction_count_cutoff`` or ``saturation_value`` the top of the trusted range.
"""
from __future__ import annotations

import os

import h5py
import hdf5plugin  # noqa: F401  (registers the bitshuffle/LZ4 filters with h5py)
import numpy as np

from friedel.errors import FileFormatError
from friedel.formats.attenuation import attenuation_coefficient
from friedel.formats.base import Format, module_gap_rectangles, simple_detector
from friedel.models import Beam, Detector, Goniometer, Panel, Scan
from friedel.models.geometry import axis_angle_matrix

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_MCSTAS_TO_LAB = np.diag([-1.0, 1.0, -1.0])
_LENGTH = {"m": 1000.0, "mm": 1.0, "um": 1e-3, "microns": 1e-3, "nm": 1e-6, "cm": 10.0}


def _attr(obj, name, default=None):
    value = obj.attrs.get(name, default)
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, np.ndarray) and value.dtype.kind in "SO" and value.size == 1:
        value = value.ravel()[0]
        value = value.decode() if isinstance(value, bytes) else value
    return value


def _scalar(ds, unit_scale=None) -> float:
    value = np.asarray(ds[()]).ravel()
    value = float(value[0])
    if unit_scale is not None:
        value *= unit_scale.get(str(_attr(ds, "units", "m")).strip(), 1.0)
    return value


def _mm(ds) -> float:
    return _scalar(ds, _LENGTH)


def _string(ds) -> str:
    v = ds[()]
    if isinstance(v, np.ndarray):
        v = v.ravel()[0]
    return v.decode() if isinstance(v, bytes) else str(v)


class _Transform:
    def __init__(self, ds):
        self.name = ds.name
        self.kind = str(_attr(ds, "transformation_type", "translation"))
        self.vector = _MCSTAS_TO_LAB @ np.asarray(_attr(ds, "vector", (0, 0, 1)), float)
        units = str(_attr(ds, "units", "mm" if self.kind == "translation" else "deg"))
        offset = np.asarray(_attr(ds, "offset", (0.0, 0.0, 0.0)), float)
        self.offset = _MCSTAS_TO_LAB @ offset * _LENGTH.get(str(_attr(ds, "offset_units", "mm")), 1.0)
        values = np.asarray(ds[()], float).ravel()
        if self.kind == "translation":
            values = values * _LENGTH.get(units, 1.0)
        elif units.startswith("rad"):
            values = np.degrees(values)
        self.values = values
        self.depends_on = str(_attr(ds, "depends_on", "."))

    def value(self, frame=0) -> float:
        return float(self.values[min(frame, len(self.values) - 1)]) if len(self.values) else 0.0


def _chain(f: h5py.File, start: str, base: str) -> list[_Transform]:
    out = []
    path = start
    while path not in (".", "", None):
        if not path.startswith("/"):
            path = base.rstrip("/") + "/" + path
        if path not in f:
            raise FileFormatError(f"{f.filename}: transformation {path} named by depends_on does not exist")
        t = _Transform(f[path])
        out.append(t)
        base = path.rsplit("/", 1)[0]
        path = t.depends_on
        if len(out) > 32:
            raise FileFormatError(f"{f.filename}: depends_on chain loops")
    return out


def _apply(chain: list[_Transform], point, direction=None, frame=0):
    for t in chain:
        if t.kind == "rotation":
            R = axis_angle_matrix(t.vector, np.radians(t.value(frame)))
            point = R @ point
            if direction is not None:
                direction = R @ direction
            point = point + t.offset
        else:
            point = point + t.offset + t.value(frame) * t.vector
    return point, direction


class NXmx(Format):
    """Eiger HDF5 master files and NeXus NXmx files (single-module detectors)."""

    name = "nxmx"
    priority = 20
    is_container = True

    @classmethod
    def understand(cls, path) -> bool:
        with open(path, "rb") as fh:
            if fh.read(8) != _HDF5_SIGNATURE:
                return False
        try:
            with h5py.File(path, "r") as f:
                return "entry" in f and ("data" in f["entry"] or "instrument" in f["entry"])
        except OSError:
            return False

    def _read_header(self) -> None:
        try:
            self.file = h5py.File(self.path, "r")
        except OSError as exc:
            raise FileFormatError(f"{self.path}: cannot open as HDF5 ({exc}); truncated or corrupt") from None
        f = self.file
        entry = f["entry"]
        det_group = self._find_detector(entry)
        self.det_group = det_group
        spec = det_group.get("detectorSpecific")
        self._datasets = self._data_datasets(entry)
        self._counts = [int(ds.shape[0]) for ds in self._datasets]
        self._starts = np.concatenate([[0], np.cumsum(self._counts)])
        n_slow, n_fast = self._datasets[0].shape[1:]
        self.image_size = (int(n_fast), int(n_slow))

        beam_group = entry.get("instrument/beam")
        if beam_group is None or "incident_wavelength" not in beam_group:
            raise FileFormatError(f"{self.path}: no /entry/instrument/beam/incident_wavelength")
        wl_ds = beam_group["incident_wavelength"]
        wavelength = _scalar(wl_ds)
        if str(_attr(wl_ds, "units", "angstrom")).lower() in ("nm",):
            wavelength *= 10.0
        self.beam = Beam(direction=(0.0, 0.0, 1.0), wavelength=wavelength)

        thickness = _mm(det_group["sensor_thickness"]) if "sensor_thickness" in det_group else 0.0
        material = _string(det_group["sensor_material"]) if "sensor_material" in det_group else "Si"
        material = "Si" if material.lower().startswith("si") else material
        cutoff = 1e6
        for name in ("countrate_correction_count_cutoff", "saturation_value"):
            for grp in (spec, det_group):
                if grp is not None and name in grp and cutoff == 1e6:
                    cutoff = _scalar(grp[name])
        mu = attenuation_coefficient(material, wavelength)
        gaps = module_gap_rectangles(self.image_size)
        module = next((det_group[k] for k in det_group if _attr(det_group[k], "NX_class") == "NXdetector_module"), None)
        if module is not None and "fast_pixel_direction" in module:
            fast_ds, slow_ds = module["fast_pixel_direction"], module["slow_pixel_direction"]
            fast_chain = _chain(f, fast_ds.name, module.name)
            slow_chain = _chain(f, slow_ds.name, module.name)
            origin, _ = _apply(fast_chain[1:], np.zeros(3))
            _, fast_dir = _apply(fast_chain[1:], np.zeros(3), fast_chain[0].vector)
            _, slow_dir = _apply(slow_chain[1:], np.zeros(3), slow_chain[0].vector)
            pixel = (fast_chain[0].value(), slow_chain[0].value())
            panel = Panel(fast_axis=fast_dir, slow_axis=slow_dir, origin=origin, pixel_size=pixel,
                          image_size=self.image_size, trusted_range=(-1.0, cutoff), thickness=thickness,
                          material=material, mu=mu, mask=gaps)
            self.detector = Detector([panel])
        else:
            try:
                pixel = (_mm(det_group["x_pixel_size"]), _mm(det_group["y_pixel_size"]))
                beam_xy = (_scalar(det_group["beam_center_x"]), _scalar(det_group["beam_center_y"]))
                distance = _mm(det_group["detector_distance"])
            except KeyError as exc:
                raise FileFormatError(f"{self.path}: detector geometry missing ({exc})") from None
            self.detector = simple_detector(distance_mm=distance, beam_xy_px=beam_xy, pixel_size=pixel,
                                            image_size=self.image_size, trusted_range=(-1.0, cutoff),
                                            thickness=thickness, material=material, mu=mu, mask=gaps)
        self._pixel_mask = None
        for grp in (spec, det_group):
            if grp is not None and "pixel_mask" in grp:
                self._pixel_mask = grp["pixel_mask"]
                break
        self._read_goniometer(entry)

    def _find_detector(self, entry):
        inst = entry.get("instrument")
        if inst is None:
            raise FileFormatError(f"{self.path}: no /entry/instrument group")
        if "detector" in inst:
            return inst["detector"]
        for k in inst:
            if _attr(inst[k], "NX_class") == "NXdetector":
                return inst[k]
        raise FileFormatError(f"{self.path}: no NXdetector in /entry/instrument")

    def _data_datasets(self, entry):
        data = entry.get("data")
        if data is None:
            raise FileFormatError(f"{self.path}: no /entry/data group")
        out = []
        for key in sorted(data.keys()):
            if not key.startswith("data"):
                continue
            link = data.get(key, getlink=True)
            try:
                ds = data[key]
            except (KeyError, OSError):
                target = getattr(link, "filename", key)
                folder = os.path.dirname(os.path.abspath(self.path))
                raise FileFormatError(f"{self.path}: data file {os.path.join(folder, target)} for {key} is missing "
                                      "or unreadable") from None
            if isinstance(ds, h5py.Dataset) and ds.ndim == 3:
                out.append(ds)
        if not out:
            raise FileFormatError(f"{self.path}: no image data in /entry/data")
        return out

    def _read_goniometer(self, entry) -> None:
        n = self.num_images()
        sample = entry.get("sample")
        exposure = 0.0
        if "count_time" in self.det_group:
            exposure = _scalar(self.det_group["count_time"])
        chain = []
        if sample is not None and "depends_on" in sample:
            chain = [t for t in _chain(self.file, _string(sample["depends_on"]), sample.name) if t.kind == "rotation"]
        elif sample is not None and "goniometer" in sample and "omega" in sample["goniometer"]:
            g = sample["goniometer"]
            omega = np.asarray(g["omega"][()], float).ravel()
            width = _scalar(g["omega_range_average"]) if "omega_range_average" in g else (
                omega[1] - omega[0] if len(omega) > 1 else 0.0)
            self.goniometer = Goniometer(rotation_axis=(1.0, 0.0, 0.0))
            self.scan = Scan((1, n), (float(omega[0]), float(width)), exposure_times=np.full(n, exposure))
            return
        if not chain:
            self.goniometer = None
            self.scan = Scan((1, n), (0.0, 0.0), exposure_times=np.full(n, exposure))
            return
        varying = [i for i, t in enumerate(chain) if len(t.values) > 1 and np.ptp(t.values) > 0]
        scan_axis = varying[0] if varying else len(chain) - 1
        t = chain[scan_axis]
        width = float(t.values[1] - t.values[0]) if len(t.values) > 1 else 0.0
        angles = [c.value(0) for c in chain]
        if len(chain) == 1:
            self.goniometer = Goniometer(rotation_axis=chain[0].vector)
        else:
            names = [c.name.rsplit("/", 1)[-1] for c in chain]
            self.goniometer = Goniometer(axes=[c.vector for c in chain], angles=angles, names=names,
                                         scan_axis=scan_axis)
        self.scan = Scan((1, n), (angles[scan_axis], width), exposure_times=np.full(n, exposure))

    def num_images(self) -> int:
        return int(self._starts[-1])

    def detector_id(self) -> str:
        for name in ("description", "detector_number"):
            if name in self.det_group:
                return _string(self.det_group[name])
        return self.name

    def get_raw_data(self, index: int = 0):
        if not 0 <= index < self.num_images():
            raise FileFormatError(f"{self.path}: image {index + 1} requested, the file holds {self.num_images()}")
        k = int(np.searchsorted(self._starts, index, side="right") - 1)
        try:
            frame = self._datasets[k][index - self._starts[k]]
        except (OSError, ValueError, KeyError) as exc:
            raise FileFormatError(f"{self.path}: cannot read image {index + 1} ({exc}); data file truncated, "
                                  "corrupt or missing its compression filter") from None
        if frame.dtype.kind == "u" and frame.dtype.itemsize >= 4:
            frame = frame.view(np.int32) if frame.dtype.itemsize == 4 else frame.astype(np.int64)
        elif frame.dtype.kind in "ui":
            frame = frame.astype(np.int32)
        return (frame,)

    def get_static_mask(self):
        if self._pixel_mask is None:
            return None
        return (np.asarray(self._pixel_mask[()]) == 0,)

    def close(self) -> None:
        try:
            self.file.close()
        except Exception:
            pass
