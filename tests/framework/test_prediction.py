import numpy as np

from friedel.io import read_experiments, read_reflections
from friedel.observations import map_to_reciprocal_space
from friedel.prediction import predict_rotation


def test_predictions_lie_on_the_ewald_sphere_and_map_back_to_their_indices(real_data):
    expt = read_experiments(str(real_data / "integrated/centroid/integrated.expt"))[0]
    pred = predict_rotation(expt, d_min=1.5)
    assert len(pred) > 500
    s0 = expt.beam.s0
    assert np.allclose(np.linalg.norm(pred["s1"], axis=1), np.linalg.norm(s0))
    phi_deg = np.degrees(pred["xyzcal.mm"][:, 2])
    assert phi_deg.min() >= 0.0 and phi_deg.max() <= 1.8
    assert np.all(pred["d"] >= 1.5 - 1e-9)
    # treat the predictions as observations: mapping back gives the indices exactly
    obs = pred.copy()
    obs["xyzobs.px.value"] = pred["xyzcal.px"]
    map_to_reciprocal_space([expt], obs)
    hkl = obs["rlp"] @ expt.crystal.real_space_vectors.T
    assert np.allclose(hkl, pred["miller_index"], atol=1e-6)


def test_real_strong_spots_index_with_the_refined_model(real_data):
    expt = read_experiments(str(real_data / "integrated/centroid/integrated.expt"))
    spots = read_reflections(str(real_data / "spots/centroid/strong.refl"))
    map_to_reciprocal_space(expt, spots)
    hkl = spots["rlp"] @ expt[0].crystal.real_space_vectors.T
    deviation = np.abs(hkl - np.round(hkl)).max(axis=1)
    # random points would be 0.375 from an integer on their worst axis, on average
    assert np.median(deviation) < 0.06 and np.mean(deviation < 0.15) > 0.9
