"""Write rotation sweeps as an Eiger-style NeXus/NXmx master file plus data files.

Layout (as written by DECTRIS Eiger detectors at Diamond and read by DIALS/XDS):

* ``<prefix>_master.h5``: ``/entry`` (NXentry, ``definition = "NXmx"``) with
  ``/entry/data/data_000001 ...`` external links to ``<prefix>_data_000001.h5:/entry/data/data``;
  ``/entry/instrument/beam/incident_wavelength``;
  ``/entry/instrument/detector`` (NXdetector) with ``beam_center_x/y`` (pixels),
  ``count_time``, ``frame_time`` (s), ``detector_distance``, ``x/y_pixel_size``,
  ``sensor_thickness`` (m), ``sensor_material``, ``saturation_value``, ``pixel_mask``
  (uint32, 1 = gap between modules), ``depends_on`` -> ``transformations/det_z``
  (translation along the beam), ``module`` (NXdetector_module with ``module_offset``,
  ``fast_pixel_direction``, ``slow_pixel_direction`` as NXtransformations) and
  ``detectorSpecific`` (nimages, ntrigger, x/y_pixels_in_detector, pixel_mask);
  ``/entry/sample`` (NXsample, ``depends_on = /entry/sample/transformations/omega``) with the
  rotation angles of every image in ``transformations/omega`` (plus ``omega_increment_set``
  and ``omega_end``) and the DECTRIS-style ``goniometer/omega`` copy.
* ``<prefix>_data_NNNNNN.h5``: ``/entry/data/data`` (n, slow, fast) uint32, one chunk per
  image, bitshuffle + LZ4 (hdf5plugin), attributes ``image_nr_low``/``image_nr_high``.

Vectors use the NeXus (McStas) frame: z along the beam, y up, so the dxtbx/imgCIF vector
(x, y, z) is written as (-x, y, -z). Module-gap pixels hold 0xFFFFFFFF, as on an Eiger.
"""

from __future__ import annotations

import datetime as _dt
import os

import h5py
import hdf5plugin
import numpy as np

GAP_VALUE = np.uint32(0xFFFFFFFF)


def to_mcstas(v) -> np.ndarray:
    """dxtbx/imgCIF lab vector -> NeXus McStas vector."""
    v = np.asarray(v, dtype=float)
    return np.array([-v[0], v[1], -v[2]])


def _nx(group, cls: str):
    group.attrs["NX_class"] = np.bytes_(cls)
    return group


def _str(group, name: str, value: str):
    return group.create_dataset(name, data=np.bytes_(value))


def _value(group, name: str, value, units: str | None = None, dtype=None):
    ds = group.create_dataset(name, data=np.asarray(value, dtype=dtype))
    if units:
        ds.attrs["units"] = np.bytes_(units)
    return ds


def _transformation(group, name, value, kind: str, vector, units: str, depends_on: str, offset=(0.0, 0.0, 0.0)):
    ds = _value(group, name, value, units)
    ds.attrs["transformation_type"] = np.bytes_(kind)
    ds.attrs["vector"] = np.asarray(vector, dtype=float)
    ds.attrs["offset"] = np.asarray(offset, dtype=float)
    ds.attrs["offset_units"] = np.bytes_("mm")
    ds.attrs["depends_on"] = np.bytes_(depends_on)
    return ds


class DataFileWriter:
    """Write ``n_images`` frames into one Eiger data file, image by image.

    The file appears under its final name only when :meth:`close` succeeds.
    """

    def __init__(self, path: str, n_images: int, shape, first_image_number: int, gap_value=GAP_VALUE):
        self.path = os.fspath(path)
        self.tmp = self.path + ".part"
        self.gap_value = np.uint32(gap_value)
        self.file = h5py.File(self.tmp, "w")
        self.file.attrs["NX_class"] = np.bytes_("NXroot")
        entry = _nx(self.file.create_group("entry"), "NXentry")
        data = _nx(entry.create_group("data"), "NXdata")
        self.dataset = data.create_dataset(
            "data", shape=(n_images, *shape), dtype=np.uint32, chunks=(1, *shape),
            **hdf5plugin.Bitshuffle(cname="lz4"),
        )
        self.dataset.attrs["image_nr_low"] = np.int32(first_image_number)
        self.dataset.attrs["image_nr_high"] = np.int32(first_image_number + n_images - 1)

    def write(self, k: int, image: np.ndarray) -> None:
        """Store frame ``k`` (0-based within this file); negative pixels become gap pixels."""
        image = np.asarray(image)
        frame = image.astype(np.uint32)
        frame[image < 0] = self.gap_value
        self.dataset[k] = frame

    def close(self) -> None:
        self.file.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        try:
            self.file.close()
        finally:
            if os.path.exists(self.tmp):
                os.unlink(self.tmp)


def write_master(path: str, data_files: list[tuple[str, int]], experiment, *, count_cutoff: int,
                 pixel_mask: np.ndarray, exposure_time: float, description: str = "Dectris EIGER",
                 sensor_material: str = "Silicon", start_time: str | None = None) -> None:
    """Write the NXmx master file for ``data_files`` [(file name relative to the master, n)].

    ``experiment`` supplies the header geometry (beam, single-panel detector, goniometer
    with one rotation axis, scan). ``pixel_mask`` is (slow, fast), non-zero where untrusted.
    """
    beam, panel, gonio, scan = experiment.beam, experiment.detector[0], experiment.goniometer, experiment.scan
    n_images = scan.num_images
    nx, ny = panel.image_size
    bx, by = panel.beam_centre_mm(beam.s0)
    distance = panel.distance
    start, width = scan.oscillation
    angles = start + width * np.arange(n_images)
    start_time = start_time or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    tmp = os.fspath(path) + ".part"
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["NX_class"] = np.bytes_("NXroot")
            f.attrs["file_name"] = np.bytes_(os.path.basename(path))
            f.attrs["file_time"] = np.bytes_(start_time)
            entry = _nx(f.create_group("entry"), "NXentry")
            _str(entry, "definition", "NXmx")
            _str(entry, "start_time", start_time)
            data = _nx(entry.create_group("data"), "NXdata")
            for i, (name, _) in enumerate(data_files):
                data[f"data_{i + 1:06d}"] = h5py.ExternalLink(name, "/entry/data/data")

            instrument = _nx(entry.create_group("instrument"), "NXinstrument")
            _str(instrument, "name", "friedel simulated beamline")
            beam_g = _nx(instrument.create_group("beam"), "NXbeam")
            _value(beam_g, "incident_wavelength", beam.wavelength, "angstrom")
            _value(beam_g, "incident_polarisation_stokes",
                   [1.0, 2 * beam.polarization_fraction - 1.0, 0.0, 0.0])
            source = _nx(instrument.create_group("source"), "NXsource")
            _str(source, "name", "friedel simulated source")

            det = _nx(instrument.create_group("detector"), "NXdetector")
            _str(det, "description", description)
            _str(det, "detector_number", panel.identifier or "simulated")
            _value(det, "beam_center_x", bx / panel.pixel_size[0], "pixel")
            _value(det, "beam_center_y", by / panel.pixel_size[1], "pixel")
            _value(det, "count_time", exposure_time, "s")
            _value(det, "frame_time", exposure_time, "s")
            _value(det, "detector_distance", distance / 1000.0, "m")
            _value(det, "x_pixel_size", panel.pixel_size[0] / 1000.0, "m")
            _value(det, "y_pixel_size", panel.pixel_size[1] / 1000.0, "m")
            _str(det, "sensor_material", sensor_material)
            _value(det, "sensor_thickness", panel.thickness / 1000.0, "m")
            _value(det, "saturation_value", int(count_cutoff), dtype=np.int64)
            _value(det, "underload_value", -1, dtype=np.int64)
            _value(det, "bit_depth_readout", 32, dtype=np.int32)
            _value(det, "bit_depth_image", 32, dtype=np.int32)
            _value(det, "countrate_correction_applied", 1, dtype=np.int32)
            mask = (np.asarray(pixel_mask) != 0).astype(np.uint32)
            # gzip (built into every HDF5) so that the master opens without filter plugins
            det.create_dataset("pixel_mask", data=mask, compression="gzip", compression_opts=2)
            _value(det, "pixel_mask_applied", 0, dtype=np.int32)
            _str(det, "depends_on", "/entry/instrument/detector/transformations/det_z")
            transforms = _nx(det.create_group("transformations"), "NXtransformations")
            # the detector moves along its normal (for a detector normal to the beam: McStas +z)
            _transformation(transforms, "det_z", distance, "translation", to_mcstas(panel.normal), "mm", ".")
            module = _nx(det.create_group("module"), "NXdetector_module")
            _value(module, "data_origin", [0, 0], dtype=np.int32)
            _value(module, "data_size", [ny, nx], dtype=np.int32)
            _value(module, "data_stride", [1, 1], dtype=np.int32)
            corner = to_mcstas(panel.origin)[:2]  # first pixel corner relative to the beam axis
            length = float(np.hypot(*corner))
            direction = (corner[0] / length, corner[1] / length, 0.0) if length > 0 else (1.0, 0.0, 0.0)
            _transformation(module, "module_offset", length, "translation", direction, "mm",
                            "/entry/instrument/detector/transformations/det_z")
            _transformation(module, "fast_pixel_direction", panel.pixel_size[0], "translation",
                            to_mcstas(panel.fast_axis), "mm", "/entry/instrument/detector/module/module_offset")
            _transformation(module, "slow_pixel_direction", panel.pixel_size[1], "translation",
                            to_mcstas(panel.slow_axis), "mm", "/entry/instrument/detector/module/fast_pixel_direction")
            spec = _nx(det.create_group("detectorSpecific"), "NXcollection")
            _value(spec, "nimages", n_images, dtype=np.int64)
            _value(spec, "ntrigger", 1, dtype=np.int64)
            _value(spec, "x_pixels_in_detector", nx, dtype=np.int64)
            _value(spec, "y_pixels_in_detector", ny, dtype=np.int64)
            _value(spec, "countrate_correction_count_cutoff", int(count_cutoff), dtype=np.int64)
            spec["pixel_mask"] = h5py.SoftLink("/entry/instrument/detector/pixel_mask")

            sample = _nx(entry.create_group("sample"), "NXsample")
            _str(sample, "name", "simulated crystal")
            _str(sample, "depends_on", "/entry/sample/transformations/omega")
            st = _nx(sample.create_group("transformations"), "NXtransformations")
            axis = to_mcstas(gonio.rotation_axis)
            _transformation(st, "omega", angles, "rotation", axis, "deg", ".")
            _value(st, "omega_increment_set", width, "deg")
            _value(st, "omega_end", angles + width, "deg")
            goni = _nx(sample.create_group("goniometer"), "NXcollection")
            _value(goni, "omega", angles, "deg")
            _value(goni, "omega_range_average", width, "deg")
            _value(goni, "omega_increment", width, "deg")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
