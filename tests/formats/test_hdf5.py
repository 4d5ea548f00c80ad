"""Eiger master + external data files (bitshuffle/LZ4) and NXmx files, written here with h5py."""
import os

import h5py
import hdf5plugin
import numpy as np
import pytest

from friedel.errors import FriedelError
from friedel.formats import find_format, open_file, open_images
from friedel.plugins.importer.command import ImportParams, import_files

SHAPE = (514, 1030)  # one Eiger module (slow, fast)


def frames(n, seed=0):
    rng = np.random.default_rng(seed)
    data = rng.poisson(2.0, size=(n, *SHAPE)).astype(np.uint32)
    data[:, 10, 20] = 0xFFFFFFFF  # a dead pixel, as the detector writes it
    return data


def write_eiger(folder, prefix="SeThau_1_1", n_per_file=(3, 2), mask=True):
    """A DECTRIS-style master: detector fields, omega array, external links to data files."""
    master = os.path.join(folder, f"{prefix}_master.h5")
    all_frames = frames(sum(n_per_file))
    with h5py.File(master, "w") as f:
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        det = entry.create_group("instrument/detector")
        det.attrs["NX_class"] = "NXdetector"
        for name, value, units in [("x_pixel_size", 75e-6, "m"), ("y_pixel_size", 75e-6, "m"),
                                   ("beam_center_x", 515.3, "pixel"), ("beam_center_y", 250.7, "pixel"),
                                   ("detector_distance", 0.1205, "m"), ("sensor_thickness", 450e-6, "m"),
                                   ("count_time", 0.0099, "s")]:
            ds = det.create_dataset(name, data=value)
            ds.attrs["units"] = units
        det["sensor_material"] = "Silicon"
        det["description"] = "Dectris EIGER 500K"
        spec = det.create_group("detectorSpecific")
        spec["countrate_correction_count_cutoff"] = np.uint32(123456)
        pm = np.zeros(SHAPE, np.uint32)
        if mask:
            pm[100:102, 200:203] = 8  # noisy pixels
        spec.create_dataset("pixel_mask", data=pm, **hdf5plugin.Bitshuffle(cname="lz4"))
        beam = entry.create_group("instrument/beam")
        wl = beam.create_dataset("incident_wavelength", data=0.97950)
        wl.attrs["units"] = "angstrom"
        n = sum(n_per_file)
        g = entry.create_group("sample/goniometer")
        g["omega"] = 30.0 + 0.1 * np.arange(n)
        g["omega_range_average"] = 0.1
        data = entry.create_group("data")
        start = 0
        for k, count in enumerate(n_per_file, start=1):
            name = f"{prefix}_data_{k:06d}.h5"
            with h5py.File(os.path.join(folder, name), "w") as d:
                d.create_dataset("entry/data/data", data=all_frames[start:start + count],
                                 chunks=(1, *SHAPE), **hdf5plugin.Bitshuffle(cname="lz4"))
            data[f"data_{k:06d}"] = h5py.ExternalLink(name, "/entry/data/data")
            start += count
    return master, all_frames


def write_nxmx(path, n=4):
    """An NXmx file with transformation chains: a kappa-free 3-axis goniometer, detector at 2theta=0."""
    all_frames = frames(n, seed=1)
    with h5py.File(path, "w") as f:
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry["definition"] = "NXmx"
        inst = entry.create_group("instrument")
        beam = inst.create_group("beam")
        beam.create_dataset("incident_wavelength", data=1.0332).attrs["units"] = "angstrom"
        det = inst.create_group("detector")
        det.attrs["NX_class"] = "NXdetector"
        det.create_dataset("sensor_thickness", data=0.45).attrs["units"] = "mm"
        det["sensor_material"] = "Si"
        det["saturation_value"] = 50000
        tr = det.create_group("transformations")
        dz = tr.create_dataset("det_z", data=[250.0])
        dz.attrs.update({"transformation_type": "translation", "vector": [0.0, 0.0, 1.0], "units": "mm",
                         "depends_on": "."})
        module = det.create_group("module")
        module.attrs["NX_class"] = "NXdetector_module"
        # McStas frame: x horizontal (towards the ring centre), y up, z along the beam
        off = module.create_dataset("module_offset", data=0.0)
        off.attrs.update({"transformation_type": "translation", "vector": [1.0, 0.0, 0.0], "units": "mm",
                          "offset": [38.5, 19.0, 0.0], "offset_units": "mm",
                          "depends_on": "/entry/instrument/detector/transformations/det_z"})
        fast = module.create_dataset("fast_pixel_direction", data=0.075)
        fast.attrs.update({"transformation_type": "translation", "vector": [-1.0, 0.0, 0.0], "units": "mm",
                           "depends_on": "/entry/instrument/detector/module/module_offset"})
        slow = module.create_dataset("slow_pixel_direction", data=0.075)
        slow.attrs.update({"transformation_type": "translation", "vector": [0.0, -1.0, 0.0], "units": "mm",
                           "depends_on": "/entry/instrument/detector/module/module_offset"})
        sample = entry.create_group("sample")
        sample["depends_on"] = "/entry/sample/transformations/phi"
        st = sample.create_group("transformations")
        omega = st.create_dataset("omega", data=10.0 + 0.2 * np.arange(n))
        omega.attrs.update({"transformation_type": "rotation", "vector": [-1.0, 0.0, 0.0], "units": "deg",
                            "depends_on": "."})
        chi = st.create_dataset("chi", data=[30.0])
        chi.attrs.update({"transformation_type": "rotation", "vector": [0.0, 0.0, 1.0], "units": "deg",
                          "depends_on": "/entry/sample/transformations/omega"})
        phi = st.create_dataset("phi", data=[60.0])
        phi.attrs.update({"transformation_type": "rotation", "vector": [-1.0, 0.0, 0.0], "units": "deg",
                          "depends_on": "/entry/sample/transformations/chi"})
        entry.create_group("data").create_dataset("data", data=all_frames, chunks=(1, *SHAPE),
                                                  **hdf5plugin.Bitshuffle(cname="lz4"))
    return all_frames


def test_eiger_master_with_external_bitshuffle_files(tmp_path):
    master, truth = write_eiger(str(tmp_path))
    assert find_format(master).name == "nxmx"
    fmt = open_file(master)
    assert fmt.num_images() == 5
    assert fmt.beam.wavelength == pytest.approx(0.9795)
    p = fmt.detector[0]
    assert p.distance == pytest.approx(120.5) and p.pixel_size == pytest.approx((0.075, 0.075))
    assert fmt.detector.beam_centre_px(fmt.beam.s0) == pytest.approx((515.3, 250.7))
    assert p.trusted_range == (-1.0, 123456.0) and p.thickness == pytest.approx(0.45)
    assert fmt.scan.image_range == (1, 5) and fmt.scan.oscillation == pytest.approx((30.0, 0.1))
    (e,) = import_files([master])
    images = open_images(e)
    assert len(images) == 5
    (frame,) = images.get_raw_data(3)  # first frame of the second data file
    expected = truth[3].astype(np.int64)
    expected[10, 20] = -1
    assert np.array_equal(frame, expected)
    (good,) = images.get_mask(3)
    assert not good[10, 20] and not good[100:102, 200:203].any()
    assert good.sum() == SHAPE[0] * SHAPE[1] - 1 - 6


def test_image_range_on_a_container(tmp_path):
    master, truth = write_eiger(str(tmp_path))
    params = ImportParams()
    params.image_range = (2, 4)
    (e,) = import_files([master], params)
    images = open_images(e)
    assert len(images) == 3
    assert np.array_equal(images.get_raw_data(0)[0][50:60, 50:60], truth[1][50:60, 50:60].astype(np.int32))


def test_missing_data_file_is_an_error_naming_it(tmp_path):
    master, _ = write_eiger(str(tmp_path))
    os.remove(tmp_path / "SeThau_1_1_data_000002.h5")
    with pytest.raises(FriedelError, match="SeThau_1_1_data_000002.h5"):
        import_files([master])


def test_nxmx_transformation_chains(tmp_path):
    path = str(tmp_path / "ins_1_1.nxs")
    truth = write_nxmx(path)
    fmt = open_file(path)
    p = fmt.detector[0]
    assert np.allclose(p.fast_axis, (1, 0, 0)) and np.allclose(p.slow_axis, (0, -1, 0))
    assert np.allclose(p.origin, (-38.5, 19.0, -250.0))
    assert fmt.detector.beam_centre_px(fmt.beam.s0) == pytest.approx((38.5 / 0.075, 19.0 / 0.075))
    g = fmt.goniometer
    assert g.names == ["phi", "chi", "omega"] and g.scan_axis == 2
    assert np.allclose(g.axes[0], (1, 0, 0)) and np.allclose(g.axes[1], (0, 0, -1))
    assert fmt.scan.oscillation == pytest.approx((10.0, 0.2)) and fmt.scan.num_images == 4
    assert p.trusted_range[1] == 50000
    assert np.array_equal(fmt.get_raw_data(2)[0][:5, 30:40], truth[2][:5, 30:40].astype(np.int32))
