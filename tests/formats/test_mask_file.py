"""External mask files on an image set (imageset.mask): .npy / .npz / .h5 of per-panel bool arrays."""
import numpy as np
import pytest

from friedel.errors import FriedelError
from friedel.formats import open_file, open_images
from friedel.formats.cbf import write_minicbf
from friedel.formats.mask_file import read_mask_file, write_mask_file
from friedel.io import read_experiments, write_experiments
from friedel.models import Experiment, ExperimentList, ImageSetReference


@pytest.fixture
def image(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.poisson(4.0, size=(40, 50)).astype(np.int32)
    path = tmp_path / "img_0001.cbf"
    write_minicbf(path, data, pixel_size=(0.172, 0.172), detector="PILATUS3 300K, S/N 00-0000")
    return path, data


def _experiment(path, mask=None):
    fmt = open_file(path)
    return Experiment(beam=fmt.beam, detector=fmt.detector, imageset=ImageSetReference(images=[str(path)], mask=mask))


@pytest.mark.parametrize("ext", [".npy", ".npz", ".h5"])
def test_mask_file_removes_pixels_and_survives_expt_round_trip(tmp_path, image, ext):
    path, data = image
    bad = np.ones((40, 50), dtype=bool)
    bad[5:9, 10:30] = False  # a beam-stop shadow: 80 pixels
    mask_path = tmp_path / f"shadow{ext}"
    write_mask_file(mask_path, [bad])
    assert np.array_equal(read_mask_file(mask_path, open_file(path).detector)[0], bad)
    expt = _experiment(path, mask=mask_path.name)
    write_experiments(ExperimentList([expt]), tmp_path / "masked.expt")
    (reread,) = read_experiments(tmp_path / "masked.expt")  # mask path resolved beside the .expt
    (good,) = open_images(reread).get_mask(0)
    (plain,) = open_images(_experiment(path)).get_mask(0)
    assert plain.sum() - good.sum() == 80
    assert not good[5:9, 10:30].any() and np.array_equal(good, plain & bad)


def test_bad_mask_files_are_clear_errors(tmp_path, image):
    path, _ = image
    det = open_file(path).detector
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.ones((2, 40, 50), dtype=bool))
    with pytest.raises(FriedelError, match="2-panel|does not fit"):
        read_mask_file(wrong, det)
    pickle = tmp_path / "mask.pickle"
    pickle.write_bytes(b"\x80\x04N.")
    with pytest.raises(FriedelError, match="pickles are not read"):
        open_images(_experiment(path, mask=str(pickle))).get_mask(0)
    with pytest.raises(FriedelError, match="not found"):
        read_mask_file(tmp_path / "absent.npy", det)
    sized = tmp_path / "sized.npz"
    np.savez(sized, panel_0=np.ones((10, 10), dtype=bool))
    with pytest.raises(FriedelError, match="panel 0"):
        read_mask_file(sized, det)
