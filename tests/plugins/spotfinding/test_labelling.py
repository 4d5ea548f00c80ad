import numpy as np

from friedel.flags import Flags, MaskCode
from friedel.plugins.spotfinding.labelling import PixelList, label_pixels, spots_from_pixels


def test_components_connect_across_frames_for_sweeps_only():
    # an L-shape on frame 0, the same corner pixel on frame 1, and a diagonal neighbour (not connected)
    x = [5, 6, 6, 5, 8]
    y = [5, 5, 6, 5, 8]
    z = [0, 0, 0, 1, 1]
    pixels = PixelList(np.zeros(5), z, y, x, [10, 20, 30, 5, 7])
    _, n3d, _ = label_pixels(pixels, connect_frames=True)
    _, n2d, _ = label_pixels(pixels, connect_frames=False)
    assert n3d == 2 and n2d == 3
    diagonal = PixelList([0, 0], [0, 0], [1, 2], [1, 2], [1, 1])
    assert label_pixels(diagonal, True)[1] == 2  # face neighbours only


def test_spot_centroid_variance_box_and_shoebox():
    x = np.array([10, 11, 10, 11, 11])
    y = np.array([20, 20, 21, 21, 21])
    z = np.array([3, 3, 3, 3, 4])
    v = np.array([10.0, 30.0, 20.0, 40.0, 25.0])
    table = spots_from_pixels(PixelList(np.zeros(5), z, y, x, v), connect_frames=True, experiment_id=2)
    assert len(table) == 1
    w = v / v.sum()
    cx, cy, cz = (w * (x + 0.5)).sum(), (w * (y + 0.5)).sum(), (w * (z + 0.5)).sum()
    assert np.allclose(table["xyzobs.px.value"][0], [cx, cy, cz])
    W, W2 = v.sum(), (v**2).sum()
    var_x = (v * (x + 0.5 - cx) ** 2).sum() / (W - W2 / W) / W + 1 / 12
    assert np.isclose(table["xyzobs.px.variance"][0, 0], var_x)
    assert list(table["bbox"][0]) == [10, 12, 20, 22, 3, 5]
    assert table["intensity.sum.value"][0] == 125 and table["intensity.sum.variance"][0] == 125
    assert table["n_signal"][0] == 5 and table["id"][0] == 2
    assert table.get_flags(Flags.strong).all()
    box = table["shoebox"]
    data, mask = box.data_of(0), box.mask_of(0)
    assert data.shape == (2, 2, 2) and data.sum() == 125
    assert np.count_nonzero(mask == (MaskCode.valid | MaskCode.foreground)) == 5
    assert data[1, 0, 0] == 0 and mask[1, 0, 0] == 0  # (x=10, y=20, z=4) is not a strong pixel


def test_labelling_does_not_depend_on_pixel_order():
    rng = np.random.default_rng(0)
    strong = rng.random((4, 40, 40)) > 0.8
    z, y, x = np.nonzero(strong)
    v = rng.uniform(1, 100, len(x))
    a = spots_from_pixels(PixelList(np.zeros(len(x)), z, y, x, v), True)
    p = rng.permutation(len(x))
    b = spots_from_pixels(PixelList(np.zeros(len(x)), z[p], y[p], x[p], v[p]), True)
    for k in ("xyzobs.px.value", "bbox", "n_signal", "intensity.sum.value"):
        assert np.array_equal(a[k], b[k])
    assert a["shoebox"] == b["shoebox"]
